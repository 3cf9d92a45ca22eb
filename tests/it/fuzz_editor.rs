//! A short, bounded, deterministic fuzzing run of the token editor inside `cargo test`:
//! every file of the committed corpus (`fuzz/corpus/editor`), then seeded byte-level
//! mutations of them, through the same property the coverage-guided target checks
//! (`kubectl_coreweave::fuzzing::editor`). Longer runs: `cargo fuzz run editor` (see
//! `fuzz/fuzz_targets/editor.rs`), or `FUZZ_ITERATIONS=1000000 cargo test --test it fuzz_editor`.

use std::path::Path;

const YAML_BYTES: &[u8] = b":-#'\"{}[]&*!|> \t\n\r,?%@`~";

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/editor");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the committed corpus is missing");
    files
        .iter()
        .map(|p| std::fs::read(p).expect("read corpus file"))
        .collect()
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(v.len() + 1);
        let byte = YAML_BYTES[rng.below(YAML_BYTES.len())];
        match rng.below(4) {
            0 => v.insert(at, byte),
            1 if at < v.len() => {
                v.remove(at);
            }
            2 if at < v.len() => v[at] = byte,
            _ => {
                // Duplicate a line: shadowed keys and duplicate entries.
                let start = v[..at]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                let end = v[at..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(v.len(), |i| at + i + 1);
                let line = v[start..end].to_vec();
                v.splice(end..end, line);
            }
        }
    }
    v
}

#[test]
fn corpus_files_hold_the_property() {
    for input in corpus() {
        kubectl_coreweave::fuzzing::editor(&input);
    }
}

#[test]
fn mutated_corpus_holds_the_property() {
    let iterations: usize = std::env::var("FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let corpus = corpus();
    let mut rng = Rng(0x006b_7562_6563_746c);
    for i in 0..iterations {
        let base = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base);
        let run = std::panic::catch_unwind(|| kubectl_coreweave::fuzzing::editor(&input));
        if run.is_err() {
            let path = std::env::temp_dir().join(format!("fuzz-editor-failure-{i}.yaml"));
            let _ = std::fs::write(&path, &input);
            panic!(
                "iteration {i}: property violated; input saved to {}",
                path.display()
            );
        }
    }
}

/// The property itself must be able to fail: tampered edits are caught. (Whitespace-only
/// changes are left to the editor's own byte-for-byte proof: a restyled block scalar
/// legitimately changes the whitespace of its lines.)
#[test]
fn the_property_catches_wrong_edits() {
    use kubectl_coreweave::fuzzing::check_edit;
    let src = "users:\n- name: u # keep me\n  user: {token: CW-SECRET-fuzz-old-1}\n";
    let parse =
        |t: &str| kubectl_coreweave::kubeconfig::load::parse(std::path::Path::new(""), t).ok();
    let names = vec!["u".to_string()];
    let good = src.replace("CW-SECRET-fuzz-old-1", "CW-SECRET-fuzz-new-token-0001");
    check_edit(src, parse(src), &names, &good);
    for bad in [
        src.to_string(),                                                  // token not changed
        good.replace("# keep me", "# kept"),                              // a comment changed
        good.replace("name: u", "name: v"),                               // another key changed
        good.replace("CW-SECRET-fuzz-new-token-0001", "CW-SECRET-other"), // wrong token
    ] {
        let caught = std::panic::catch_unwind(|| check_edit(src, parse(src), &names, &bad));
        assert!(caught.is_err(), "not caught: {bad:?}");
    }
}
