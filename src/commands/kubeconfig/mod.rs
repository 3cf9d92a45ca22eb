//! `kubectl coreweave kubeconfig …`: the commands that add to the kubeconfig files.

pub mod import;
mod runs_plugin;
