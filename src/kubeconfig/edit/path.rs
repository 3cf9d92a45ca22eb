//! The path an edit takes through the tree, as every editor walks it: the users list and
//! its entries by name (kubectl's rules for names), and the one rule for anchors, aliases,
//! merge keys and tags on an edited path, in the two strengths the edits need.

use std::collections::HashMap;

use super::super::edit_error::{unsupported, EditError};
use super::super::read::yaml_tree::{
    anchor_label, describe, is_null, lookup_merged, Doc, Kind, MergedLookup, NodeId, TagClass,
};

/// The one rule for anchors, aliases and tags on an edited path (merge keys: `lookup_merged`
/// and `check_no_merge`), in the two strengths the edits need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::kubeconfig) enum PathRule {
    /// The edit passes through or replaces a leaf inside: refuse an alias, or an anchor
    /// some alias refers to, since editing inside it would change the other place too.
    Unshared,
    /// The edit adds text inside this node: refuse every alias, anchor and explicit tag.
    Untouched,
}

/// Applies `rule` to the node `id`, described as `what` in the refusal.
pub(in crate::kubeconfig) fn check_path(
    doc: &Doc<'_>,
    rule: PathRule,
    id: NodeId,
    what: &str,
) -> Result<(), EditError> {
    let node = doc.node(id)?;
    let at = node.position;
    let referenced = |a: usize| doc.alias_refs.get(&a).is_some_and(|r| !r.is_empty());
    match (rule, &node.kind) {
        (PathRule::Unshared, Kind::Alias { anchor }) => Err(unsupported(format!(
            "{what} at {at} is shared through anchor {}",
            anchor_label(doc, *anchor)
        ))),
        (PathRule::Unshared, _) if node.anchor != 0 && referenced(node.anchor) => {
            Err(unsupported(format!(
                "{what} at {at} is shared through anchor {}",
                anchor_label(doc, node.anchor)
            )))
        }
        (PathRule::Unshared, _) => Ok(()),
        (PathRule::Untouched, Kind::Alias { anchor }) => Err(unsupported(format!(
            "{what} at {at} is an alias ({}); the editor does not edit through aliases",
            anchor_label(doc, *anchor).replacen('&', "*", 1)
        ))),
        (PathRule::Untouched, _) if node.anchor != 0 => Err(unsupported(format!(
            "{what} at {at} carries anchor {}; the editor does not edit anchored nodes",
            anchor_label(doc, node.anchor)
        ))),
        (PathRule::Untouched, _) if node.tag != TagClass::None => Err(unsupported(format!(
            "{what} at {at} carries an explicit tag"
        ))),
        (PathRule::Untouched, _) => Ok(()),
    }
}

/// Refuses any merge key (`<<`) in the mapping `map`, for an edit that adds text inside it.
pub(in crate::kubeconfig) fn check_no_merge(
    doc: &Doc<'_>,
    map: NodeId,
    what: &str,
) -> Result<(), EditError> {
    match doc.merge_key(map) {
        Some(key) => Err(unsupported(format!(
            "{what} at {} has a merge key (<<) at {}; the editor does not edit through merge keys",
            doc.position(map),
            doc.position(key)
        ))),
        None => Ok(()),
    }
}

/// Returns the `users` key and its list in the first document, with `rule` applied to the
/// top-level mapping and the list (an `Untouched` top level may hold no merge key either);
/// the `users` key is read as kubectl reads it, and refused when a merge key may supply it.
fn find_users_list(doc: &Doc<'_>, rule: PathRule) -> Result<(NodeId, NodeId), EditError> {
    let Some(root) = doc.root else {
        return Err(EditError::NoUsers {
            reason: "the file contains no yaml document".to_owned(),
        });
    };
    if !doc.is_map(root) {
        return Err(EditError::NoUsers {
            reason: format!(
                "the first document at {} is {}, not a mapping",
                doc.position(root),
                describe(doc, root)
            ),
        });
    }
    check_path(doc, rule, root, "the top-level mapping")?;
    if rule == PathRule::Untouched {
        check_no_merge(doc, root, "the top-level mapping")?;
    }
    let (users_key, users) = match lookup_merged(doc, root, "users") {
        MergedLookup::Missing => {
            return Err(EditError::NoUsers {
                reason: "the top-level mapping has no users key".to_owned(),
            })
        }
        MergedLookup::Found { key, value } => (key, value),
        MergedLookup::Duplicate { first, second } => {
            return Err(duplicate_key(
                doc,
                "users",
                "the top-level mapping",
                first,
                second,
            ))
        }
        MergedLookup::Merged { merge_key, .. } | MergedLookup::Ambiguous { merge_key } => {
            return Err(unsupported(format!(
                "the users list may come from the merge key (<<) at {}",
                doc.position(merge_key)
            )))
        }
    };
    check_path(doc, rule, users, "the users list")?;
    match doc.node(users)?.kind {
        Kind::Seq { .. } => Ok((users_key, users)),
        _ => Err(EditError::NoUsers {
            reason: format!(
                "users at {} is {}, not a list",
                doc.position(users),
                describe(doc, users)
            ),
        }),
    }
}

pub(in crate::kubeconfig) fn duplicate_key(
    doc: &Doc<'_>,
    key: &str,
    what: &str,
    first: NodeId,
    second: NodeId,
) -> EditError {
    unsupported(format!(
        "key {key:?} appears twice in {what} (at {} and {})",
        doc.position(first),
        doc.position(second)
    ))
}

/// The users list of the first document, its entries by name.
pub(in crate::kubeconfig) struct Users<'d> {
    /// The `users` key.
    pub(in crate::kubeconfig) key: NodeId,
    by_name: HashMap<&'d str, NodeId>,
    /// The merge key of the first entry whose name may come from a merge key the rule
    /// does not follow (such an entry could be any user).
    unnamed_merge: Option<NodeId>,
}

/// Finds the users list (`find_users_list`) and maps each user name to its entry (the item
/// of the list), refusing a name used twice, as kubectl does. An entry without `name`, or
/// with a null one, is the user named "" (kubectl reads both so). With `Unshared`, a name
/// only a merge key supplies counts and one a merge key may override is refused; with
/// `Untouched`, an entry with a merge key names no user. Items that are not mappings, and names that are not
/// scalars, name no user.
pub(in crate::kubeconfig) fn users<'d>(
    doc: &'d Doc<'_>,
    rule: PathRule,
) -> Result<Users<'d>, EditError> {
    let (key, list) = find_users_list(doc, rule)?;
    let items: &[NodeId] = match &doc.node(list)?.kind {
        Kind::Seq { items } => items,
        _ => &[],
    };
    let mut users = Users {
        key,
        by_name: HashMap::new(),
        unnamed_merge: None,
    };
    for &item in items {
        let Some(entry) = doc.resolve(item).filter(|e| doc.is_map(*e)) else {
            continue;
        };
        let name = match (rule, doc.merge_key(entry)) {
            (PathRule::Untouched, Some(merge)) => {
                // A merge key may rename the entry, even after a `name` of its own
                // (kubectl applies `<<` in document order).
                users.unnamed_merge.get_or_insert(merge);
                continue;
            }
            _ => lookup_merged(doc, entry, "name"),
        };
        let name = match name {
            // A null name is the empty one: kubectl decodes `name:` and `name: ~` as "".
            MergedLookup::Found { value, .. } | MergedLookup::Merged { value, .. }
                if is_null(doc, value) =>
            {
                ""
            }
            MergedLookup::Found { value, .. } | MergedLookup::Merged { value, .. } => {
                match doc.scalar_text(value) {
                    Some(name) => name,
                    None => continue,
                }
            }
            MergedLookup::Missing => "",
            MergedLookup::Duplicate { first, second } => {
                let what = format!("the users entry at {}", doc.position(item));
                return Err(duplicate_key(doc, "name", &what, first, second));
            }
            MergedLookup::Ambiguous { merge_key } => {
                return Err(unsupported(format!(
                    "the name of the users entry at {} may come from the merge key (<<) at {}",
                    doc.position(item),
                    doc.position(merge_key)
                )))
            }
        };
        if let Some(prev) = users.by_name.insert(name, item) {
            return Err(EditError::DuplicateUser {
                user: name.to_owned(),
                first: doc.position(prev),
                second: doc.position(item),
            });
        }
    }
    Ok(users)
}

impl<'d> Users<'d> {
    /// Every user name with its entry (the item of the list).
    pub(in crate::kubeconfig) fn by_name(&self) -> &HashMap<&'d str, NodeId> {
        &self.by_name
    }

    /// The entry of `user`, or why there is none.
    pub(in crate::kubeconfig) fn entry(
        &self,
        doc: &Doc<'_>,
        user: &str,
    ) -> Result<NodeId, EditError> {
        if let Some(&item) = self.by_name.get(user) {
            return Ok(item);
        }
        if let Some(merge) = self.unnamed_merge {
            return Err(unsupported(format!(
                "user {user:?} is not named in the users list, but the name of the entry \
                 with the merge key (<<) at {} is not known",
                doc.position(merge)
            )));
        }
        Err(EditError::UserNotFound {
            user: user.to_owned(),
            users_at: doc.position(self.key),
        })
    }
}
