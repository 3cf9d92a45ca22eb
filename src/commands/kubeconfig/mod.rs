//! `kubectl coreweave kubeconfig …`: the commands that add to the kubeconfig files:
//! `import` (a Console download) and `add` (from the CKS API, `add_plan.rs` deciding what).

pub mod add;
pub mod add_plan;
pub mod import;
mod runs_plugin;
