//! Replacing one cluster entry's `server` in place (`kubeconfig add --update`, for a CKS
//! cluster whose endpoint moved): the scalar's bytes only. Only the plain layout is edited:
//! an entry found by its own `name`, no merge key, alias or shared anchor on the path, a
//! plain or quoted one-line `server` scalar; anything else is refused and the file left
//! alone. The proof checks the rest, as for every edit.

use serde_json::Value;

use super::super::edit_error::{unsupported, EditError};
use super::super::read::yaml_tree::{Doc, Kind, Lookup};
use super::super::text::scalar;
use super::super::text::Splice;
use super::path::{check_no_merge, check_path, PathRule};

/// The splices that set each `(cluster entry, server)` of `wanted`.
pub(super) fn plan(
    src: &str,
    doc: &Doc<'_>,
    wanted: &[(&str, &str)],
) -> Result<Vec<Splice>, EditError> {
    let refuse = |why: String| Err(unsupported(why));
    let Some(root) = doc.root.filter(|r| doc.is_map(*r)) else {
        return refuse("the file's top level is not a mapping".into());
    };
    check_no_merge(doc, root, "the top level")?;
    let Lookup::Found { value: list, .. } = doc.lookup(root, "clusters") else {
        return refuse("the file has no single clusters list".into());
    };
    check_path(doc, PathRule::Unshared, list, "the clusters list")?;
    let Kind::Seq { items } = &doc.node(list)?.kind else {
        return refuse("its clusters are not a list".into());
    };
    let mut splices = Vec::new();
    for (name, server) in wanted {
        let what = format!("cluster {name:?}");
        let mut found = items.iter().filter(|&&item| {
            doc.is_map(item)
                && matches!(doc.lookup(item, "name"), Lookup::Found { value, .. }
                    if doc.scalar_text(value) == Some(name))
        });
        let (Some(&entry), None) = (found.next(), found.next()) else {
            return refuse(format!("{what} is not defined once in the clusters list"));
        };
        check_path(doc, PathRule::Unshared, entry, &what)?;
        check_no_merge(doc, entry, &what)?;
        let Lookup::Found { value: cluster, .. } = doc.lookup(entry, "cluster") else {
            return refuse(format!("{what} has no single cluster mapping"));
        };
        check_path(doc, PathRule::Unshared, cluster, &what)?;
        check_no_merge(doc, cluster, &what)?;
        let Lookup::Found { value, .. } = doc.lookup(cluster, "server") else {
            return refuse(format!("{what} has no single server"));
        };
        check_path(doc, PathRule::Unshared, value, &what)?;
        let node = doc.node(value)?;
        let one_line = src
            .get(node.start..node.end)
            .is_some_and(|t| !t.is_empty() && !t.contains(['\n', '\r']));
        let quoted_or_plain = matches!(
            &node.kind,
            Kind::Scalar { style, .. } if matches!(
                style,
                granit_parser::ScalarStyle::Plain
                    | granit_parser::ScalarStyle::SingleQuoted
                    | granit_parser::ScalarStyle::DoubleQuoted
            )
        );
        if !one_line || !quoted_or_plain {
            return refuse(format!("the server of {what} is not a one-line string"));
        }
        splices.push(Splice {
            start: node.start,
            end: node.end,
            text: scalar(server),
        });
    }
    Ok(splices)
}

/// The change to the original's data: the first entry of that name gets the server.
pub(super) fn intend(data: &mut Value, name: &str, server: &str) -> Result<(), EditError> {
    let entry = data
        .get_mut("clusters")
        .and_then(Value::as_array_mut)
        .and_then(|list| {
            list.iter_mut()
                .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
        })
        .and_then(|c| c.get_mut("cluster"))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| unsupported(format!("cluster {name:?} is not in the file's data")))?;
    entry.insert("server".into(), Value::String(server.to_owned()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{apply, Edit};

    #[test]
    fn only_the_server_scalar_changes() {
        let src = "# mine\nclusters:\n- name: a   # first\n  cluster:\n    server: 'https://old.example'   # moved?\n    extensions: []\n- name: b\n  cluster: {server: https://b.example}\n";
        let out = apply(
            src,
            &[Edit::Server {
                cluster: "a",
                server: "https://new.example",
            }],
        )
        .expect("edits");
        assert_eq!(
            out,
            src.replace("'https://old.example'", "https://new.example")
        );
        let out = apply(
            src,
            &[Edit::Server {
                cluster: "b",
                server: "https://n.example:6443",
            }],
        )
        .expect("flow");
        assert!(out.contains("{server: https://n.example:6443}"), "{out}");
        for refused in [
            "clusters:\n- name: a\n  cluster:\n    server: |\n      https://x\n",
            "clusters:\n- name: a\n  cluster: &c\n    server: https://x\n- name: b\n  cluster: *c\n",
            "clusters:\n- name: z\n  cluster:\n    server: https://x\n",
        ] {
            assert!(
                apply(
                    refused,
                    &[Edit::Server {
                        cluster: "a",
                        server: "https://y"
                    }]
                )
                .is_err(),
                "{refused}"
            );
        }
    }
}
