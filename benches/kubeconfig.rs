//! In-process costs of the three steps every command takes, on kubeconfigs of 3, 200 and
//! 2,000 contexts over 3 files: loading (read + parse + merge), resolving the active
//! user's token, and editing every token held by all users (the rotate worst case).
//! Run: `cargo bench --bench kubeconfig`. Whole-process figures against kubectl are in
//! `vs_kubectl.rs`.
// Benchmarks write their inputs directly; the plugin writes only through kubeconfig::write.
#![allow(clippy::disallowed_methods)]

mod gen;

use std::path::PathBuf;

use kubectl_coreweave::kubeconfig::edit::{replace_user_tokens, TokenEdit};
use kubectl_coreweave::kubeconfig::resolve::Selection;
use kubectl_coreweave::kubeconfig::Kubeconfig;

const SIZES: [usize; 3] = [3, 200, 2000];

fn main() {
    divan::main();
}

struct Set {
    _dir: tempfile::TempDir,
    paths: Vec<PathBuf>,
}

fn set(contexts: usize, shared: bool) -> Set {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = gen::kubeconfig_set(dir.path(), contexts, 3, shared);
    Set { _dir: dir, paths }
}

#[divan::bench(args = SIZES)]
fn load(bencher: divan::Bencher, contexts: usize) {
    let s = set(contexts, false);
    bencher.bench(|| Kubeconfig::load(&s.paths, false).expect("loads"));
}

#[divan::bench(args = SIZES)]
fn load_and_resolve_token(bencher: divan::Bencher, contexts: usize) {
    let s = set(contexts, false);
    bencher.bench(|| {
        let kc = Kubeconfig::load(&s.paths, false).expect("loads");
        let r = kc.resolve(&Selection::default()).expect("resolves");
        kc.credential(r.user_origin)
            .expect("token")
            .token()
            .expose()
            .len()
    });
}

#[divan::bench(args = SIZES)]
fn edit_every_token_of_one_file(bencher: divan::Bencher, contexts: usize) {
    let s = set(contexts, true);
    let text = std::fs::read_to_string(&s.paths[0]).expect("read");
    let kc = Kubeconfig::load(&s.paths[..1], false).expect("loads");
    let names: Vec<String> = kc.files[0]
        .config
        .users
        .iter()
        .map(|u| u.name.to_string())
        .collect();
    let edits: Vec<TokenEdit> = names
        .iter()
        .map(|user| TokenEdit {
            user,
            new_token: "CW-SECRET-bench-new-token-1111",
        })
        .collect();
    bencher.bench(|| replace_user_tokens(&text, &edits).expect("edits"));
}
