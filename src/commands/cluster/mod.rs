//! `kubectl coreweave cluster …`: what CoreWeave's CKS API says about the organization's
//! clusters (`list`).

pub mod list;
