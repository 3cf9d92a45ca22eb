//! Coverage-guided fuzzing of the token editor:
//! `cargo install cargo-fuzz && cargo fuzz run editor fuzz/corpus/editor`
//! (cargo-fuzz needs nightly; `RUSTC_BOOTSTRAP=1` lets the stable toolchain act as one).
//! The property lives in `kubectl_coreweave::fuzzing::editor`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kubectl_coreweave::fuzzing::editor(data));
