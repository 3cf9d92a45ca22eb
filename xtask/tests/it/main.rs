//! The xtask crate's integration tests, as one test binary (its modules share `common`
//! and are compiled and linked once): `cargo test -p xtask --test it <module>::`.

mod common;
mod krew_e2e;
mod manifest;
mod pack;
mod release_workflow;
