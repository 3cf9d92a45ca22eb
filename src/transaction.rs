//! The one write transaction of every command that changes kubeconfig files or keyring
//! items (rotate, store and its rebind, unstore): lock every file and every item it
//! touches, read both again under the locks, let the command plan from what is really
//! there, then commit items and files together, rolling both back if any part fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;

use crate::keystore::{self, Item, Keyring};
use crate::kubeconfig::write::{self, PlannedWrite};
use crate::kubeconfig::Kubeconfig;
use crate::kubeconfig::KubeconfigSource;
use crate::secret::quoted;

/// What a transaction locks.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub files: BTreeSet<PathBuf>,
    pub items: BTreeSet<String>,
}

impl Scope {
    /// Whether everything `other` names is locked here.
    pub fn covers(&self, other: &Scope) -> bool {
        other.files.is_subset(&self.files) && other.items.is_subset(&self.items)
    }
}

/// The items as read under their locks (`None`: no such item).
pub struct Reads {
    items: BTreeMap<String, Option<Item>>,
    locked: Scope,
    first_kept: bool,
}

impl Reads {
    /// What this attempt holds locked (the first scope, widened by earlier attempts).
    pub fn locked(&self) -> &Scope {
        &self.locked
    }

    /// Whether the kubeconfig handed to the plan is the `first` reading the command passed
    /// in (every file still holds its bytes): what the command decided from that reading
    /// alone still stands.
    pub fn first_kept(&self) -> bool {
        self.first_kept
    }

    /// The item as it is now; `Ok(None)` when it does not exist. Asking for an item the
    /// scope did not lock is a bug in the command, reported as an error.
    pub fn item(&self, reference: &str) -> anyhow::Result<Option<&Item>> {
        match self.items.get(reference) {
            Some(i) => Ok(i.as_ref()),
            None => bail!(
                "keyring item {} was not locked by this command; nothing was written",
                quoted(reference)
            ),
        }
    }
}

/// What to do with one item.
#[derive(Debug)]
pub enum ItemChange {
    Put(Item),
    Delete,
}

/// Everything one command changes.
#[derive(Debug, Default)]
pub struct Changes {
    pub files: Vec<PlannedWrite>,
    pub items: Vec<(String, ItemChange)>,
}

/// A plan made under the locks: commit it, or lock more and plan again (someone edited a
/// file in between, so the plan needs files the first reading did not).
pub enum Step<T> {
    Commit(Changes, T),
    Widen(Scope),
}

/// Locks `scope`, reads the kubeconfig (`first` when its files are unchanged, else again)
/// and the scope's items, and hands them to `plan`; commits what it returns. `plan` may
/// run more than once (never more than three times) and must not write anything itself.
///
/// Items are locked like files, with client-go's `.lock` protocol on a path per item
/// ([`keystore::item_lock_path`]), in the same global order as the files, so no two
/// writers wait for each other in a circle. Each item is written compare-and-swap: it is
/// read once more just before it is replaced, and if it is no longer what the plan was
/// made from (a writer that takes no lock: an older plugin, `secret-tool`) nothing is
/// written. Commands describe what to change; this module owns how.
pub fn run<T>(
    source: &KubeconfigSource,
    scope: Scope,
    timeout: Duration,
    first: Option<Kubeconfig>,
    mut plan: impl FnMut(&Kubeconfig, &Reads) -> anyhow::Result<Step<T>>,
) -> anyhow::Result<T> {
    run_mut(
        source,
        scope,
        timeout,
        first,
        |kc: &mut Kubeconfig, reads: &Reads| plan(kc, reads),
    )
}

/// [`run`] for a plan that takes the reading apart as it goes: it may move each file's
/// text into its write instead of borrowing it, and drop each file's model once that
/// file is planned (`token rotate`: at 2,000 entries a file's model is as large as its
/// text). The reading is the plan's alone: nothing here reads it after the plan returns,
/// and an attempt that widens its locks reads the files again.
pub fn run_mut<T>(
    source: &KubeconfigSource,
    mut scope: Scope,
    timeout: Duration,
    mut first: Option<Kubeconfig>,
    mut plan: impl FnMut(&mut Kubeconfig, &Reads) -> anyhow::Result<Step<T>>,
) -> anyhow::Result<T> {
    let _signals = write::InterruptGuard::install();
    let mut keyring: Option<Keyring> = None;
    for _ in 0..3 {
        let mut lock_paths: Vec<PathBuf> = scope.files.iter().cloned().collect();
        for item in &scope.items {
            lock_paths.push(keystore::item_lock_path(item)?);
        }
        let locks = write::lock_all(lock_paths.iter().map(PathBuf::as_path), timeout)?;
        let (mut kc, first_kept) = match first.take().filter(|kc| source.unchanged_on_disk(kc)) {
            Some(kc) => (kc, true),
            None => (source.load()?, false),
        };
        if !scope.items.is_empty() && keyring.is_none() {
            keyring = Some(Keyring::open()?);
        }
        let mut items = BTreeMap::new();
        for item in &scope.items {
            let k = keyring.as_ref().expect("opened above");
            let read = k.find_item(item)?;
            keystore::refresh(item, read.as_ref());
            items.insert(item.clone(), read);
        }
        let reads = Reads {
            items,
            locked: scope.clone(),
            first_kept,
        };
        let (changes, value) = match plan(&mut kc, &reads)? {
            Step::Widen(more) => {
                let wider = Scope {
                    files: scope.files.union(&more.files).cloned().collect(),
                    items: scope.items.union(&more.items).cloned().collect(),
                };
                if scope.covers(&wider) {
                    bail!("the command asked to lock what it holds already; nothing was written");
                }
                drop(locks);
                scope = wider;
                continue;
            }
            Step::Commit(changes, value) => (changes, value),
        };
        let wanted = Scope {
            files: changes.files.iter().map(|w| w.path.clone()).collect(),
            items: changes.items.iter().map(|(r, _)| r.clone()).collect(),
        };
        if !files_covered(&scope.files, &wanted.files) || !wanted.items.is_subset(&scope.items) {
            bail!("the plan writes something this command did not lock; nothing was written");
        }
        if write::interrupted() {
            bail!("interrupted; nothing was written");
        }
        commit(keyring.as_ref(), &reads, &changes)?;
        drop(locks);
        return Ok(value);
    }
    bail!("the kubeconfig files kept changing while planning; nothing was written")
}

/// Each file written is one the scope locked (by the same name).
fn files_covered(locked: &BTreeSet<PathBuf>, written: &BTreeSet<PathBuf>) -> bool {
    written.iter().all(|w| locked.contains(w))
}

/// Items first (each compared with what the plan read, written and read back), then the
/// files; if anything fails, every item written gets its old record back (or is deleted
/// again) before the error is returned.
fn commit(keyring: Option<&Keyring>, reads: &Reads, changes: &Changes) -> anyhow::Result<()> {
    for w in &changes.files {
        write::remove_stale_temp_files(&w.path);
    }
    let mut written: Vec<(&str, Option<&Item>)> = Vec::new();
    if !changes.items.is_empty() {
        let k = keyring.expect("items in scope open the keyring");
        for (reference, change) in &changes.items {
            let before = reads.item(reference)?;
            let step = swap(k, reference, before, change);
            if let Err(e) = step {
                return Err(restore(k, &written, e));
            }
            written.push((reference, before));
        }
    }
    if let Err(e) = write::commit(&changes.files) {
        return Err(match keyring {
            Some(k) => restore(k, &written, e.into()),
            None => e.into(),
        });
    }
    for (reference, change) in &changes.items {
        match change {
            ItemChange::Put(item) => keystore::sweep_side_files(reference, Some(item)),
            ItemChange::Delete => keystore::sweep_side_files(reference, None),
        }
    }
    Ok(())
}

/// Compare-and-swap one item: it must still be what the plan read.
fn swap(
    k: &Keyring,
    reference: &str,
    before: Option<&Item>,
    change: &ItemChange,
) -> anyhow::Result<()> {
    let now = k.find_item(reference)?;
    if now.as_ref() != before {
        bail!(
            "keyring item {} changed while this command ran (another writer that takes no lock?); nothing was written",
            quoted(reference)
        );
    }
    match change {
        ItemChange::Put(item) => k.put_item(reference, item)?,
        ItemChange::Delete => k.delete(reference)?,
    }
    Ok(())
}

fn restore(k: &Keyring, written: &[(&str, Option<&Item>)], e: anyhow::Error) -> anyhow::Error {
    for (reference, before) in written.iter().rev() {
        let back = match before {
            Some(item) => k.put_item(reference, item),
            None => k.delete(reference),
        };
        if let Err(again) = back {
            return anyhow::anyhow!(
                "{e}; putting keyring item {} back as it was failed too: {again}",
                quoted(reference)
            );
        }
    }
    e
}

/// The files a command's targets live in, for a [`Scope`].
pub fn files<'a>(paths: impl IntoIterator<Item = &'a Path>) -> BTreeSet<PathBuf> {
    paths.into_iter().map(Path::to_path_buf).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan may take the reading apart (rotate moves each file's text into its write and
    /// drops the models); when it then asks for more locks, the next attempt must plan from
    /// the files read again, never from what the first attempt left.
    #[test]
    fn a_widened_attempt_plans_from_a_fresh_reading() {
        let dir = tempfile::tempdir().expect("temp dir");
        let [a, b] = ["a", "b"].map(|n| dir.path().join(n));
        for (path, user) in [(&a, "ua"), (&b, "ub")] {
            let text =
                format!("users:\n- name: {user}\n  user:\n    token: CW-SECRET-test-fake-{user}\n");
            std::fs::write(path, text).expect("write");
        }
        let source = KubeconfigSource {
            paths: vec![a.clone(), b.clone()],
            explicit: None,
        };
        let first = source.load().expect("loads");
        let mut seen = Vec::new();
        let users = run_mut(
            &source,
            transaction_scope(&a),
            Duration::from_secs(5),
            Some(first),
            |kc, reads| {
                seen.push(kc.all_users().count());
                let files = std::mem::take(kc).into_files();
                if !reads.locked().files.contains(&b) {
                    return Ok(Step::Widen(transaction_scope(&b)));
                }
                let users = files.iter().map(|f| f.config.users.len()).sum::<usize>();
                Ok(Step::Commit(Changes::default(), users))
            },
        )
        .expect("commits");
        assert_eq!(seen, [2, 2], "each attempt saw both files' users");
        assert_eq!(users, 2);
        assert!(!write::lock_path(&a).exists() && !write::lock_path(&b).exists());
    }

    fn transaction_scope(file: &Path) -> Scope {
        Scope {
            files: [file.to_path_buf()].into(),
            items: BTreeSet::new(),
        }
    }
}
