//! The commands, one folder per command group as the command line groups them: `token`
//! (`show`, `list`, `rotate`, `store`/`unstore`, `credential`, and the plan they share in
//! `holders.rs`), `cluster` (`list`), `kubeconfig` (`import`, `add`) and `objectstorage`
//! (`credentials`, `profile`). Each runs on the plain settings in `options.rs`, which
//! `settings.rs` makes from the command line once; no command sees clap's structs.
//! They sit above everything else in `src/`: a command may use the kubeconfig, network,
//! CoreWeave and keyring layers, and another group's shared module, never the reverse
//! (`tests/layers.rs` fails on an import cycle).

pub mod cluster;
pub mod kubeconfig;
pub mod objectstorage;
pub mod options;
pub mod token;
