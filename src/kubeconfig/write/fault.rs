//! The fault-injection hook of debug builds. Integration tests cannot make a write fail as
//! root (root ignores permissions), so in debug builds only, `KUBECTL_COREWEAVE_FAULT` makes
//! `write_atomic` fail after writing its temporary file and before the rename. Items,
//! comma-separated: `write-fail:<file-name>` (every write whose path or symlink target has
//! that file name), `rename-fail:<n>` (the n-th `write_atomic` call of the process, from 1,
//! backups and rollback restores included). `write-fail:config-b` makes a commit fail on
//! `config-b` and roll back the files written before it. Release builds never read it.

use std::path::Path;

use super::*;

/// Whether this `write_atomic` call must fail, per [`FAULT_ENV`]. Unit tests use a
/// per-thread spec instead, so parallel tests neither race on the environment nor share a count.
pub(super) fn injected_fault(path: &Path) -> bool {
    if !cfg!(debug_assertions) {
        return false;
    }
    let Some((spec, call)) = fault_spec() else {
        return false;
    };
    let target = resolve(path).unwrap_or_else(|_| path.to_path_buf());
    fault_matches(&spec, call, path, &target)
}

/// The armed fault spec and this call's number, counting calls made while it is armed.
#[cfg(not(test))]
pub(super) fn fault_spec() -> Option<(String, u64)> {
    use std::sync::atomic::Ordering;
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let spec = std::env::var_os(FAULT_ENV)?;
    let call = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    Some((spec.to_string_lossy().into_owned(), call))
}

#[cfg(test)]
pub(super) fn fault_spec() -> Option<(String, u64)> {
    tests::TEST_FAULT.with(|slot| {
        let mut slot = slot.borrow_mut();
        let (spec, calls) = slot.as_mut()?;
        *calls += 1;
        Some((spec.clone(), *calls))
    })
}

pub(super) fn fault_matches(spec: &str, call: u64, path: &Path, target: &Path) -> bool {
    spec.split(',')
        .filter_map(|item| item.trim().split_once(':'))
        .any(|(kind, arg)| match kind {
            "write-fail" => [path, target]
                .iter()
                .any(|p| p.file_name().is_some_and(|n| n == arg)),
            "rename-fail" => arg.parse() == Ok(call),
            _ => false,
        })
}
