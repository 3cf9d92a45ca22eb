//! The append fast path against the planner's path (`planned`): byte-identical results
//! wherever the fast path answers, on hand-written layouts and generated ones (mutated too,
//! so the scanner must decline), and its proof refusing wrong splices.

use proptest::prelude::*;
use serde_json::json;

use super::super::{apply, planned, Edit, EditError};
use super::*;

fn adds() -> Additions {
    Additions {
        clusters: vec![json!({"name": "c2", "cluster": {
            "server": "https://b.example:443",
            "extensions": [{"name": "coreweave.com/cks-cluster",
                "extension": {"id": "id-2", "name": "c2", "org": "o", "zone": "z"}}],
        }})],
        contexts: vec![json!({"name": "c2", "context": {"cluster": "c2", "user": "u1"}})],
        users: vec![json!({"name": "u2", "user": {"token": "CW-SECRET-fake-new-1234"}})],
        current_context: Some("c2".into()),
    }
}

/// The planner's path alone, as `apply` takes it for a file the loader did not read.
fn tree(src: &str, additions: &Additions) -> Result<String, EditError> {
    planned(src, false, &[Edit::Append(additions)], &[])
}

fn fast(src: &str, additions: &Additions) -> Option<String> {
    append_fast(src, None, additions).map(|out| out.to_string())
}

const KUBECTL: &str = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: QUJD\n    server: https://a.example\n  name: c1\ncontexts:\n- context:\n    cluster: c1\n    user: u1\n  name: c1\ncurrent-context: c1\nkind: Config\npreferences: {}\nusers:\n- name: u1\n  user:\n    token: CW-SECRET-fake-old-1111\n";

#[test]
fn fast_path_is_taken_and_agrees_with_the_planner() {
    let layouts = [
        KUBECTL.to_owned(),
        KUBECTL.replace('\n', "\r\n"),
        KUBECTL.trim_end().to_owned(),
        // Indented lists, comments after the last items and at the end, four-space maps.
        "# mine\napiVersion: v1\nkind: Config\nclusters:\n  - name: c1\n    cluster:\n        server: https://a.example # prod\n  # after the last cluster\n\ncontexts:\n  -   name: c1\n      context: {}\ncurrent-context: 'c1' # here\nusers:\n  - name: u1\n    user:\n      token: \"CW-SECRET-fake-old-1111\"\n# the end\n".to_owned(),
        // Lists and current-context missing, a leading `---`.
        "---\napiVersion: v1\nkind: Config\npreferences: {}\n".to_owned(),
        "apiVersion: v1\nkind: Config\ncurrent-context:\nusers:\n- name: u1\n  user: {}".to_owned(),
        "apiVersion: v1\nkind: Config\ncurrent-context: ~ # none\nusers:\n- {}\n".to_owned(),
    ];
    for src in &layouts {
        let want = tree(src, &adds()).unwrap_or_else(|e| panic!("{src:?}: {e}"));
        let got = fast(src, &adds()).unwrap_or_else(|| panic!("fast path not taken: {src:?}"));
        assert_eq!(got, want, "{src:?}");
        assert_eq!(apply(src, &[Edit::Append(&adds())]).expect("applies"), want);
    }
}

/// Layouts only the planner writes to, or that the scanner does not read: the fast path
/// steps aside and the planner's answer (a result or an error) stands.
#[test]
fn steps_aside_where_the_planner_decides() {
    for src in [
        "apiVersion: v1\nkind: Config\nclusters: []\n",
        "apiVersion: v1\nkind: Config\nclusters:\ncontexts: null\n",
        "apiVersion: v1\nkind: Config\nusers: [{name: u1, user: {token: x}}]\n",
        "apiVersion: v1\nkind: Config\nclusters:\n-\n  name: c1\n",
        "apiVersion: v1\nkind: Config\nx: &a 1\nusers:\n- name: u1\n  user: {}\n",
        "apiVersion: v1\nkind: Config\nusers:\n- name: u1\n  user: {}\n---\nsecond: doc\n",
        "{apiVersion: v1, kind: Config}\n",
        "\u{feff}apiVersion: v1\nkind: Config\n",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster:\n    certificate-authority-data: not*base64\n",
        "",
    ] {
        assert_eq!(fast(src, &adds()), None, "{src:?}");
        let _ = apply(src, &[Edit::Append(&adds())]);
    }
}

/// The load's reading saves a scan; a reading of other text is caught by the proof.
#[test]
fn the_loads_reading_gives_the_same_result_and_a_stale_one_is_refused() {
    let scan = |text: &str| fast::parse_with_spans(&text.into()).expect("the scanner reads it");
    let (config, _, layout) = scan(KUBECTL);
    let given = append_fast(KUBECTL, Some((&config, &layout)), &adds());
    assert!(given.is_some());
    assert_eq!(given.map(|out| out.to_string()), fast(KUBECTL, &adds()));
    let shifted = format!("# one more line\n{KUBECTL}");
    let (config, _, layout) = scan(&shifted);
    assert_eq!(
        append_fast(KUBECTL, Some((&config, &layout)), &adds()),
        None
    );
    let other = KUBECTL.replace("name: u1\n", "name: u0\n");
    let (config, _, layout) = scan(&other);
    assert_eq!(
        append_fast(KUBECTL, Some((&config, &layout)), &adds()),
        None
    );
}

/// A fast plan, as the proof takes it.
type Plan = Vec<(Part, Splice)>;

/// Runs the fast proof on `planned` as given (applied to `src` to make the result).
fn prove_planned(
    src: &str,
    planned: &[(Part, Splice)],
    additions: &Additions,
) -> Result<(), &'static str> {
    let original = fast::parse(src).expect("the scanner reads it");
    let out = apply_splices(src, planned.iter().map(|(_, s)| s)).expect("applies");
    prove(src, &out.as_str().into(), &original, planned, additions).map_err(|r| r.0)
}

#[test]
fn the_proof_refuses_wrong_splices_and_insertions() {
    let (original, _, layout) = fast::parse_with_spans(&KUBECTL.into()).expect("scans");
    let good = plan(KUBECTL, &layout, &adds()).expect("plans");
    assert_eq!(prove_planned(KUBECTL, &good, &adds()), Ok(()));
    let tampered = |f: &dyn Fn(&mut Plan)| {
        let mut p = good.clone();
        f(&mut p);
        p.sort_by_key(|(_, s)| (s.start, s.end));
        prove_planned(KUBECTL, &p, &adds())
    };
    let cluster = |p: &mut Plan| -> usize {
        p.iter()
            .position(|(part, _)| *part == Part::List("clusters"))
            .expect("a clusters splice")
    };
    // An insertion that says something else than the entries requested.
    let e = tampered(&|p| {
        let i = cluster(p);
        p[i].1.text = p[i].1.text.replace("zone: z", "zone: y");
    });
    assert_eq!(
        e,
        Err("the inserted text is not exactly the entries to add")
    );
    // The right text at the wrong place: inside the last cluster's mapping.
    let e = tampered(&|p| {
        let i = cluster(p);
        let at = KUBECTL.find("  name: c1\ncontexts").expect("line");
        p[i].1.start = at;
        p[i].1.end = at;
    });
    assert!(e.is_err(), "{e:?}");
    // The right text under the wrong key.
    let e = tampered(&|p| {
        let i = cluster(p);
        p[i].0 = Part::List("contexts");
    });
    assert!(e.is_err(), "{e:?}");
    // An insertion that replaces what was there.
    let e = tampered(&|p| {
        let i = cluster(p);
        p[i].1.start -= "  name: c1\n".len();
    });
    assert_eq!(e, Err("an insertion is not whole lines"));
    // An insertion that does not start a line.
    let e = tampered(&|p| {
        let i = cluster(p);
        p[i].1.start -= 1;
        p[i].1.end -= 1;
    });
    assert_eq!(e, Err("an insertion does not start a line"));
    // One more line than the entries: it joins the last inserted cluster.
    let e = tampered(&|p| {
        let i = cluster(p);
        p[i].1.text.push_str("    proxy-url: http://p.example\n");
    });
    assert!(e.is_err(), "{e:?}");
    // A current-context that is not the one requested.
    let e = tampered(&|p| {
        for (part, s) in p.iter_mut() {
            if *part == Part::CurrentContext {
                s.text = "c1".into();
            }
        }
    });
    assert!(e.is_err(), "{e:?}");
    // A line break in the current-context splice.
    let e = tampered(&|p| {
        for (part, s) in p.iter_mut() {
            if *part == Part::CurrentContext {
                s.text = "c2\nx: y".into();
            }
        }
    });
    assert_eq!(e, Err("the current-context splice leaves its line"));
    // A splice left out of the plan the proof is given.
    let out = apply_splices(KUBECTL, good.iter().map(|(_, s)| s)).expect("applies");
    let e = prove(
        KUBECTL,
        &out.as_str().into(),
        &original,
        &good[1..],
        &adds(),
    )
    .map_err(|r| r.0);
    assert_eq!(e, Err("bytes outside the splices changed"));
    // A byte outside the splices changed.
    let out = out.replacen("kind: Config", "kind: Confog", 1);
    let e = prove(KUBECTL, &out.as_str().into(), &original, &good, &adds()).map_err(|r| r.0);
    assert_eq!(e, Err("bytes outside the splices changed"));
    // The original's model, not this file's.
    let other = fast::parse(&KUBECTL.replace("name: u1\n", "name: u0\n")).expect("scans");
    let out = apply_splices(KUBECTL, good.iter().map(|(_, s)| s)).expect("applies");
    let e = prove(KUBECTL, &out.as_str().into(), &other, &good, &adds()).map_err(|r| r.0);
    assert_eq!(
        e,
        Err("the result is not the original with exactly the new entries")
    );
}

// ---------------------------------------------------------------------------------------
// Generated files: the fast path and the planner byte for byte.
// ---------------------------------------------------------------------------------------

/// How a top-level list is written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    Absent,
    Block,
    /// `key: []`
    EmptyFlow,
    /// `key:` with nothing
    Null,
    /// `key: [{…}]`
    Flow,
}

#[derive(Debug, Clone)]
struct Layout {
    crlf: bool,
    final_newline: bool,
    dash: usize,
    step: usize,
    forms: [Form; 3],
    /// Items per block list.
    items: usize,
    order: usize,
    current: u8,
    comment_after_lists: bool,
    null_at_item_end: bool,
    nested_extension: bool,
    trailing: u8,
    leading: u8,
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        3 => Just(Form::Block),
        2 => Just(Form::Absent),
        1 => Just(Form::EmptyFlow),
        1 => Just(Form::Null),
        1 => Just(Form::Flow),
    ]
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        any::<[bool; 6]>(),
        prop_oneof![Just(0usize), Just(2), Just(4)],
        prop_oneof![Just(2usize), Just(4)],
        [form(), form(), form()],
        (1usize..4, 0usize..6, 0u8..8, 0u8..5, 0u8..4),
    )
        .prop_map(
            |(f, dash, step, forms, (items, order, current, trailing, leading))| Layout {
                crlf: f[0],
                final_newline: f[1],
                dash,
                step,
                forms,
                items,
                order,
                current,
                comment_after_lists: f[2],
                null_at_item_end: f[3],
                nested_extension: f[4],
                trailing: if f[5] { trailing } else { 0 },
                leading,
            },
        )
}

/// The document a layout describes, and whether the fast path must take it (every list
/// that gets entries a block list or missing, nothing the scanner refuses).
fn render(l: &Layout, gets: [bool; 3]) -> (String, bool) {
    let pad = |n: usize| " ".repeat(n);
    let (d, s) = (l.dash, l.step);
    let mut sections: Vec<String> = Vec::new();
    let mut eligible = true;
    for (k, key) in ["clusters", "contexts", "users"].iter().enumerate() {
        let inner = match k {
            0 => "cluster",
            1 => "context",
            _ => "user",
        };
        let mut t = String::new();
        match l.forms[k] {
            Form::Absent => continue,
            Form::EmptyFlow => t.push_str(&format!("{key}: []\n")),
            Form::Null => t.push_str(&format!("{key}:\n")),
            Form::Flow => t.push_str(&format!("{key}: [{{name: x0, {inner}: {{}}}}]\n")),
            Form::Block => {
                t.push_str(&format!("{key}:\n"));
                for i in 0..l.items {
                    t.push_str(&format!("{}- name: x{i}\n", pad(d)));
                    t.push_str(&format!("{}{inner}:\n", pad(d + 2)));
                    t.push_str(&format!("{}x-field: v{i}\n", pad(d + 2 + s)));
                    if l.nested_extension {
                        t.push_str(&format!("{}extensions:\n", pad(d + 2 + s)));
                        t.push_str(&format!("{}- name: e\n", pad(d + 2 + s)));
                        t.push_str(&format!("{}extension:\n", pad(d + 4 + s)));
                        t.push_str(&format!("{}deep:\n", pad(d + 4 + 2 * s)));
                        t.push_str(&format!("{}- text {i}\n", pad(d + 4 + 2 * s)));
                    }
                    if l.null_at_item_end {
                        t.push_str(&format!("{}x-null:\n", pad(d + 2)));
                    }
                }
                if l.comment_after_lists {
                    t.push_str(&format!("{}# after {key}\n\n", pad(d)));
                }
            }
        }
        // The scanner reads no flow collection but `{}` and `[]`.
        if l.forms[k] == Form::Flow
            || (gets[k] && !matches!(l.forms[k], Form::Block | Form::Absent))
        {
            eligible = false;
        }
        sections.push(t);
    }
    sections.push(
        match l.current {
            0 => "",
            1 => "current-context: x0\n",
            2 => "current-context: 'x0' # quoted\n",
            3 => "current-context: \"x0\"\n",
            4 => "current-context:\n",
            5 => "current-context: # none yet\n",
            6 => "current-context: ~\n",
            _ => "current-context: null\n",
        }
        .to_owned(),
    );
    sections.push("apiVersion: v1\nkind: Config\n".into());
    sections.push("preferences: {}\n".into());
    let n = sections.len();
    sections.rotate_left(l.order % n);
    let mut text = match l.leading {
        1 => "---\n".to_owned(),
        2 => "# a comment first\n\n".to_owned(),
        3 => {
            eligible = false;
            "x-anchor: &a 1\n".to_owned()
        }
        _ => String::new(),
    };
    text.push_str(&sections.concat());
    text.push_str(match l.trailing {
        1 => "# the end\n",
        2 => "\n\n",
        3 => {
            eligible = false;
            "---\nsecond: doc\n"
        }
        4 => "x-last:\n# after a null\n",
        _ => "",
    });
    if !l.final_newline {
        while text.ends_with('\n') {
            text.pop();
        }
    }
    if l.crlf {
        text = text.replace('\n', "\r\n");
    }
    (text, eligible)
}

/// New entries with names that need quoting, and a record nested as `add` writes it.
fn additions_for(gets: [bool; 3], current: Option<&str>, names: usize) -> Additions {
    let name = |i: usize| ["n0", "n:1", "yes", "a b", "#x", "'q'"][i % 6].to_owned();
    let several = |f: &dyn Fn(usize) -> Value| (0..names).map(f).collect::<Vec<_>>();
    Additions {
        clusters: if gets[0] {
            several(&|i| {
                json!({"name": name(i), "cluster": {"server": format!("https://h{i}.example"),
                "extensions": [{"name": "coreweave.com/cks-cluster",
                    "extension": {"id": format!("id-{i}"), "zone": "US-EAST-04A"}}]}})
            })
        } else {
            Vec::new()
        },
        contexts: if gets[1] {
            several(&|i| json!({"name": name(i), "context": {"cluster": name(i), "user": "x0"}}))
        } else {
            Vec::new()
        },
        users: if gets[2] {
            several(&|i| json!({"name": name(i), "user": {"token": "CW-SECRET-fake-1234"}}))
        } else {
            Vec::new()
        },
        current_context: current.map(str::to_owned),
    }
}

fn additions() -> impl Strategy<Value = ([bool; 3], Option<&'static str>, usize)> {
    (
        any::<[bool; 3]>(),
        proptest::option::of(proptest::sample::select(vec!["x0", "n:1", "true", "new"])),
        1usize..4,
    )
}

const FRAGMENTS: [&str; 20] = [
    "clusters", "users", "name", ":", ": ", " ", "  ", "\n", "- ", "-", "{", "[]", "'", "\"",
    "# c", "&t ", "*t", "|", "---\n", "\t",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_files_get_the_planners_bytes(
        l in layout(),
        (gets, current, names) in additions(),
    ) {
        let (src, eligible) = render(&l, gets);
        let adds = additions_for(gets, current, names);
        let got = fast(&src, &adds);
        let want = tree(&src, &adds);
        if eligible {
            prop_assert!(got.is_some(), "fast path not taken: {:?}", src);
        }
        if let Some(got) = got {
            prop_assert_eq!(Ok(got.clone()), want.map_err(|e| e.to_string()), "{:?}", src);
            let (config, _, layout) = fast::parse_with_spans(&src.as_str().into()).expect("scanned");
            prop_assert_eq!(append_fast(&src, Some((&config, &layout)), &adds).map(|out| out.to_string()), Some(got));
        }
    }

    #[test]
    fn mutated_files_get_the_planners_bytes_or_go_to_it(
        l in layout(),
        (gets, current, names) in additions(),
        mutations in proptest::collection::vec(
            (any::<usize>(), any::<bool>(), 0..FRAGMENTS.len()), 1..3),
    ) {
        let (src, _) = render(&l, gets);
        let src = crate::kubeconfig::read::yaml_tree::generated::mutate(
            src, &mutations, &FRAGMENTS);
        let adds = additions_for(gets, current, names);
        if let Some(got) = fast(&src, &adds) {
            let want = tree(&src, &adds).map_err(|e| e.to_string());
            prop_assert_eq!(Ok(got), want, "{:?}", src);
        }
    }
}
