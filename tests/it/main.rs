//! The integration tests: one test binary, so the fakes in `support` (a CoreWeave API and
//! a TLS Kubernetes API on loopback) compile and link once. Each module runs the built
//! `kubectl-coreweave` against temporary kubeconfigs, with the real kubectl as the oracle.
// Tests write their fixtures directly; the plugin writes only through kubeconfig::write.
#![allow(clippy::disallowed_methods)]

mod support;

mod add;
mod cluster;
mod cluster_list;
mod complete;
mod coreweave_api;
mod differential;
#[cfg(unix)]
mod exec_path;
mod fuzz_editor;
mod hostile;
mod import;
mod keyring;
#[cfg(target_os = "linux")]
mod keyring_bounds;
#[cfg(target_os = "linux")]
mod keyring_transaction;
mod list;
#[cfg(target_os = "linux")]
mod objectstorage;
mod objectstorage_awscli;
mod objectstorage_exchange;
mod output;
#[cfg(unix)]
mod renamed;
mod rotate;
mod rotate_stress;
mod rotate_verify;
mod secrets;
#[cfg(target_os = "linux")]
mod shell_values;
mod show;
mod show_check;
#[cfg(unix)]
mod terminal;
mod unmanaged;
