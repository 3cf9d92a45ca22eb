use std::fs;
use std::io;
use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use super::backup::{backup_stamped, utc_stamp};
use super::fault::fault_matches;
#[cfg(unix)]
use super::interrupt::guard_state;
/// Outside every guard the handlers run the signal's default action; inside any (they
/// nest, as `kubeconfig import --replace-token` nests a rotate), they only set the flag.
#[cfg(unix)]
#[test]
fn signals_act_as_before_once_the_last_guard_is_gone() {
    let default_action = || guard_state().1.load(Ordering::SeqCst);
    let outer = InterruptGuard::install();
    let inner = InterruptGuard::install();
    assert!(!default_action());
    drop(inner);
    assert!(!default_action(), "the outer guard is still alive");
    drop(outer);
    assert!(default_action());
}

use super::*;
use std::cell::RefCell;

thread_local! {
    pub(super) static TEST_FAULT: RefCell<Option<(String, u64)>> = const { RefCell::new(None) };
}

/// Arms the fault hook for this test's thread until dropped.
struct Fault;
fn inject(spec: &str) -> Fault {
    TEST_FAULT.with(|slot| *slot.borrow_mut() = Some((spec.to_string(), 0)));
    Fault
}
impl Drop for Fault {
    fn drop(&mut self) {
        TEST_FAULT.with(|slot| *slot.borrow_mut() = None);
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn temp_files(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Root ignores file permissions, so permission-based failures need the fault hook there.
#[cfg(unix)]
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = tempfile::NamedTempFile::new().unwrap();
    probe.as_file().metadata().unwrap().uid() == 0
}

// ---- lock ----

#[test]
fn lock_creates_lock_file_and_release_and_drop_remove_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let lock_file = dir.path().join("config.lock");

    let held = lock(&config, Duration::ZERO).unwrap();
    assert_eq!(held.path(), lock_file);
    assert!(lock_file.exists());
    held.release().unwrap();
    assert!(!lock_file.exists());

    let held = lock(&config, Duration::ZERO).unwrap();
    assert!(lock_file.exists());
    drop(held);
    assert!(!lock_file.exists());
}

#[cfg(unix)]
#[test]
fn lock_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let held = lock(&dir.path().join("config"), Duration::ZERO).unwrap();
    assert_eq!(mode(held.path()), 0o600);
}

#[test]
fn second_lock_waits_then_times_out_naming_the_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let _held = lock(&config, Duration::ZERO).unwrap();

    let start = Instant::now();
    let err = lock(&config, Duration::from_millis(150)).unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert!(matches!(err, WriteError::Locked { .. }), "{err:?}");
    let msg = err.to_string();
    let lock_name = dir.path().join("config.lock").display().to_string();
    assert!(msg.contains(&lock_name), "{msg}");
    assert!(msg.contains("created 0s ago"), "{msg}");
    assert!(msg.contains(&format!("remove {lock_name}")), "{msg}");
    assert!(!msg.contains('\n'));
}

#[test]
fn lock_is_acquired_once_the_holder_releases_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let held = lock(&config, Duration::ZERO).unwrap();
    let holder = thread::spawn(move || {
        thread::sleep(Duration::from_millis(150));
        drop(held);
    });

    let start = Instant::now();
    let second = lock(&config, Duration::from_secs(5)).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert!(second.path().exists());
    holder.join().unwrap();
}

#[cfg(unix)]
#[test]
fn lock_is_named_after_the_link_not_its_target() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("real"), "x").unwrap();
    std::os::unix::fs::symlink("real", dir.path().join("config")).unwrap();
    let _held = lock(&dir.path().join("config"), Duration::ZERO).unwrap();
    assert!(dir.path().join("config.lock").exists());
    assert!(!dir.path().join("real.lock").exists());
}

#[test]
fn dropping_a_lock_never_removes_someone_elses() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let held = lock(&config, Duration::ZERO).unwrap();
    // A user removed our "stale" lock; then another plugin, then kubectl, took it.
    fs::remove_file(held.path()).unwrap();
    let other = lock(&config, Duration::ZERO).unwrap();
    drop(held);
    assert!(other.path().exists());
    fs::remove_file(other.path()).unwrap();
    fs::write(other.path(), "").unwrap();
    drop(other);
    assert!(dir.path().join("config.lock").exists());
}

/// `real`, `sub/../real` and a symlink to it are one file: locking all three names at
/// once takes `real.lock` once (no wait for itself) plus the link's own lock, and a
/// second locker through any of the names is shut out.
#[cfg(unix)]
#[test]
fn lock_all_takes_one_lock_per_file_whatever_the_names() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    fs::write(dir.path().join("real"), "x").unwrap();
    std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
    let paths = ["real", "sub/../real", "link"].map(|n| dir.path().join(n));

    let held = lock_all(paths.iter().map(PathBuf::as_path), Duration::ZERO).unwrap();

    let mut locks: Vec<String> = names_of(&held);
    locks.sort();
    assert_eq!(locks, ["link.lock", "real.lock"]);
    for name in &paths {
        let err = lock_all([name.as_path()], Duration::ZERO).unwrap_err();
        assert!(
            matches!(err, WriteError::Locked { .. }),
            "{name:?}: {err:?}"
        );
    }
    drop(held);
    assert_eq!(names(dir.path()), ["link", "real", "sub"]);
}

#[cfg(unix)]
fn names_of(locks: &[FileLock]) -> Vec<String> {
    locks
        .iter()
        .map(|l| l.path().file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[cfg(unix)]
#[test]
fn only_dead_writers_temp_files_are_stale() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    fs::write(&config, "x").unwrap();
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let ours = format!(".config.tmp-{}-aaaaaaaa", std::process::id());
    for name in [
        ours.as_str(),
        &format!(".config.tmp-{gone_pid}-bbbbbbbb"),
        ".config.tmp-1-cccccccc",
        ".config.tmp-nopid",
        ".other.tmp-1-dddddddd",
    ] {
        fs::write(dir.path().join(name), "t").unwrap();
    }

    remove_stale_temp_files(&config);

    // pid 1 runs; a name without a pid proves nothing; another file's temps are not ours.
    let mut want = vec![
        ".config.tmp-1-cccccccc",
        ".config.tmp-nopid",
        ".other.tmp-1-dddddddd",
        "config",
    ];
    want.push(&ours);
    want.sort();
    assert_eq!(names(dir.path()), want);
}

#[test]
fn lock_in_a_missing_folder_fails_at_once_naming_the_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("missing").join("config");
    let err = lock(&config, Duration::from_secs(5)).unwrap_err();
    // The creation's own error, not the end of a wait for someone else's lock.
    assert!(
        matches!(&err, WriteError::Lock { error, .. } if error.kind() == io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert!(err.to_string().contains("config.lock"), "{err}");
}

// ---- write_atomic ----

#[test]
fn write_atomic_replaces_content_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    fs::write(&config, "old contents that are longer").unwrap();
    write_atomic(&config, b"new").unwrap();
    assert_eq!(fs::read(&config).unwrap(), b"new");
    assert_eq!(names(dir.path()), ["config"]);
}

#[test]
fn write_atomic_creates_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    write_atomic(&config, b"hello").unwrap();
    assert_eq!(fs::read(&config).unwrap(), b"hello");
    assert_eq!(names(dir.path()), ["config"]);
}

#[cfg(unix)]
#[test]
fn write_atomic_keeps_mode_0640() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    fs::write(&config, "old").unwrap();
    set_mode(&config, 0o640);
    write_atomic(&config, b"new").unwrap();
    assert_eq!(mode(&config), 0o640);
    assert_eq!(fs::read(&config).unwrap(), b"new");
}

#[cfg(unix)]
#[test]
fn write_atomic_gives_a_new_file_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    write_atomic(&config, b"new").unwrap();
    assert_eq!(mode(&config), 0o600);
}

#[cfg(unix)]
#[test]
fn write_atomic_keeps_owner() {
    use std::os::unix::fs::{chown, MetadataExt};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    fs::write(&config, "old").unwrap();
    set_mode(&config, 0o640);
    let ours = fs::metadata(&config).unwrap().uid();
    // Only root can give a file away; otherwise the owner must stay the caller.
    let want = if running_as_root() {
        chown(&config, Some(4321), Some(4322)).unwrap();
        (4321, 4322)
    } else {
        (ours, fs::metadata(&config).unwrap().gid())
    };
    write_atomic(&config, b"new").unwrap();
    let meta = fs::metadata(&config).unwrap();
    assert_eq!((meta.uid(), meta.gid()), want);
    assert_eq!(mode(&config), 0o640);
}

#[cfg(unix)]
#[test]
fn write_atomic_through_relative_symlink_in_another_folder_keeps_the_link() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let (kube, dotfiles) = (dir.path().join("kube"), dir.path().join("dotfiles"));
    fs::create_dir_all(&kube).unwrap();
    fs::create_dir_all(&dotfiles).unwrap();
    fs::write(dotfiles.join("real"), "old").unwrap();
    set_mode(&dotfiles.join("real"), 0o640);
    // Relative to kube/, not to the cwd, where ../dotfiles does not exist.
    symlink("../dotfiles/real", kube.join("config")).unwrap();

    write_atomic(&kube.join("config"), b"new").unwrap();

    let link = fs::symlink_metadata(kube.join("config")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(
        fs::read_link(kube.join("config")).unwrap(),
        Path::new("../dotfiles/real")
    );
    assert_eq!(fs::read(dotfiles.join("real")).unwrap(), b"new");
    assert_eq!(mode(&dotfiles.join("real")), 0o640);
    assert_eq!(names(&kube), ["config"]);
    assert_eq!(names(&dotfiles), ["real"]);
}

#[cfg(unix)]
#[test]
fn write_atomic_through_a_chain_of_two_links_keeps_both() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    for sub in ["a", "b", "c"] {
        fs::create_dir(dir.path().join(sub)).unwrap();
    }
    fs::write(dir.path().join("c/real"), "old").unwrap();
    symlink("../c/real", dir.path().join("b/hop")).unwrap();
    symlink("../b/hop", dir.path().join("a/config")).unwrap();

    write_atomic(&dir.path().join("a/config"), b"new").unwrap();

    for link in ["a/config", "b/hop"] {
        let meta = fs::symlink_metadata(dir.path().join(link)).unwrap();
        assert!(meta.file_type().is_symlink(), "{link}");
    }
    assert_eq!(fs::read(dir.path().join("c/real")).unwrap(), b"new");
    assert_eq!(names(&dir.path().join("c")), ["real"]);
}

#[cfg(unix)]
#[test]
fn write_atomic_through_a_dangling_link_creates_the_target() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("real", dir.path().join("config")).unwrap();
    write_atomic(&dir.path().join("config"), b"new").unwrap();
    assert!(fs::symlink_metadata(dir.path().join("config"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(dir.path().join("real")).unwrap(), b"new");
    assert_eq!(mode(&dir.path().join("real")), 0o600);
}

#[cfg(unix)]
#[test]
fn write_atomic_refuses_a_symlink_loop() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    symlink("b", dir.path().join("a")).unwrap();
    symlink("a", dir.path().join("b")).unwrap();
    let err = write_atomic(&dir.path().join("a"), b"new").unwrap_err();
    assert!(matches!(err, WriteError::Symlink { .. }), "{err:?}");
    assert!(err
        .to_string()
        .contains(&dir.path().join("a").display().to_string()));
    assert_eq!(names(dir.path()), ["a", "b"]);
}

#[test]
fn write_atomic_refuses_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("config")).unwrap();
    let err = write_atomic(&dir.path().join("config"), b"new").unwrap_err();
    assert!(matches!(err, WriteError::NotRegular { .. }), "{err:?}");
    assert!(dir.path().join("config").is_dir());
}

#[test]
fn failed_write_leaves_original_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    fs::write(&config, "old").unwrap();
    let _fault = inject("write-fail:config");

    let err = write_atomic(&config, b"new").unwrap_err();

    let msg = err.to_string();
    assert!(msg.contains(&config.display().to_string()), "{msg}");
    assert!(msg.contains("fault injected"), "{msg}");
    assert_eq!(fs::read(&config).unwrap(), b"old");
    assert!(temp_files(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

/// As a normal user a read-only folder makes creating the temp file fail; root ignores
/// folder permissions, so there the fault hook makes the write fail instead.
#[cfg(unix)]
#[test]
fn write_into_read_only_folder_fails_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("ro");
    fs::create_dir(&sub).unwrap();
    let config = sub.join("config");
    fs::write(&config, "old").unwrap();
    set_mode(&sub, 0o555);
    let _fault = running_as_root().then(|| inject("write-fail:config"));

    let result = write_atomic(&config, b"new");
    set_mode(&sub, 0o755);

    let err = result.unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("cannot write "), "{msg}");
    assert!(msg.contains(&config.display().to_string()), "{msg}");
    assert!(
        msg.contains(&format!("that {} is writable", sub.display())),
        "{msg}"
    );
    assert_eq!(fs::read(&config).unwrap(), b"old");
    assert_eq!(names(&sub), ["config"]);
}

#[cfg(unix)]
#[test]
fn error_through_a_link_names_both_link_and_target() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("real"), "old").unwrap();
    std::os::unix::fs::symlink("real", dir.path().join("config")).unwrap();
    let _fault = inject("write-fail:real");
    let err = write_atomic(&dir.path().join("config"), b"new").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().join("config").display().to_string()));
    assert!(msg.contains(&format!(
        "(symlink to {})",
        dir.path().join("real").display()
    )));
    assert_eq!(fs::read(dir.path().join("real")).unwrap(), b"old");
}

#[test]
fn fault_spec_matches_by_name_or_call_number() {
    let (p, t) = (Path::new("/k/config"), Path::new("/d/real"));
    assert!(fault_matches("write-fail:config", 1, p, t));
    assert!(fault_matches("write-fail:real", 1, p, t));
    assert!(!fault_matches("write-fail:conf", 1, p, t));
    assert!(fault_matches("rename-fail:2, write-fail:x", 2, p, t));
    assert!(!fault_matches("rename-fail:2", 3, p, t));
    assert!(!fault_matches("bogus", 1, p, t));
}

// ---- backup ----

#[test]
fn utc_stamp_formats_known_instants() {
    let at = |secs| utc_stamp(std::time::UNIX_EPOCH + Duration::from_secs(secs));
    assert_eq!(at(0), "19700101T000000Z");
    assert_eq!(at(951_782_400), "20000229T000000Z");
    assert_eq!(at(1_709_251_199), "20240229T235959Z");
    assert_eq!(at(4_102_444_800), "21000101T000000Z");
}

#[test]
fn backup_copies_bytes_to_a_private_stamped_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    fs::write(&config, "token: CW-SECRET-x\n").unwrap();
    #[cfg(unix)]
    set_mode(&config, 0o644);

    let saved = backup(&config).unwrap();

    let name = saved.file_name().unwrap().to_str().unwrap();
    let stamp = name.strip_prefix("config.bak-").unwrap();
    assert_eq!(stamp.len(), 16, "{name}");
    assert!(
        stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T',
        "{name}"
    );
    assert!(stamp[..8]
        .bytes()
        .chain(stamp[9..15].bytes())
        .all(|b| b.is_ascii_digit()));
    assert_eq!(saved.parent(), Some(dir.path()));
    assert_eq!(fs::read(&saved).unwrap(), fs::read(&config).unwrap());
    #[cfg(unix)]
    assert_eq!(mode(&saved), 0o600);
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

#[test]
fn backup_in_the_same_second_gets_a_numeric_suffix() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    fs::write(&config, "one").unwrap();
    let first = backup_stamped(&config, "20240229T235959Z").unwrap();
    fs::write(&config, "two").unwrap();
    let second = backup_stamped(&config, "20240229T235959Z").unwrap();
    assert_eq!(first, dir.path().join("config.bak-20240229T235959Z"));
    assert_eq!(second, dir.path().join("config.bak-20240229T235959Z-1"));
    assert_eq!(fs::read(&first).unwrap(), b"one");
    assert_eq!(fs::read(&second).unwrap(), b"two");
}

#[test]
fn failed_backup_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    fs::write(&config, "one").unwrap();
    let _fault = inject("rename-fail:1");
    let err = backup(&config).unwrap_err();
    assert!(err.to_string().contains("config.bak-"), "{err}");
    assert_eq!(names(dir.path()), ["config"]);
}

#[test]
fn backup_of_a_missing_file_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = backup(&dir.path().join("config")).unwrap_err();
    assert!(matches!(err, WriteError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("config"), "{err}");
}

#[cfg(unix)]
#[test]
fn backup_belongs_to_the_original_owner() {
    use std::os::unix::fs::{chown, MetadataExt};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    fs::write(&config, "x").unwrap();
    if running_as_root() {
        chown(&config, Some(4321), Some(4322)).unwrap();
    }
    let want = fs::metadata(&config).unwrap();
    let saved = backup(&config).unwrap();
    let got = fs::metadata(&saved).unwrap();
    assert_eq!((got.uid(), got.gid()), (want.uid(), want.gid()));
    assert_eq!(mode(&saved), 0o600);
}

// ---- commit ----

fn plan(dir: &Path, files: &[(&str, Option<&str>, &str)]) -> Vec<PlannedWrite> {
    files
        .iter()
        .map(|(name, old, new)| {
            let path = dir.join(name);
            if let Some(old) = old {
                fs::write(&path, old).unwrap();
            }
            PlannedWrite {
                path,
                original: old.map(|o| o.as_bytes().to_vec().into()),
                new: new.as_bytes().to_vec().into(),
            }
        })
        .collect()
}

fn contents(writes: &[PlannedWrite]) -> Vec<Option<String>> {
    writes
        .iter()
        .map(|w| fs::read_to_string(&w.path).ok())
        .collect()
}

#[test]
fn commit_writes_all_files() {
    let dir = tempfile::tempdir().unwrap();
    let writes = plan(
        dir.path(),
        &[
            ("a", Some("a0"), "a1"),
            ("b", Some("b0"), "b1"),
            ("c", None, "c1"),
        ],
    );
    let report = commit(&writes).unwrap();
    assert_eq!(
        report.written,
        writes.iter().map(|w| w.path.clone()).collect::<Vec<_>>()
    );
    assert!(report.unchanged.is_empty());
    let want = ["a1", "b1", "c1"].map(|s| Some(s.to_string()));
    assert_eq!(contents(&writes), want);
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn commit_skips_files_whose_bytes_do_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let writes = plan(
        dir.path(),
        &[("a", Some("same"), "same"), ("b", Some("b0"), "b1")],
    );
    let _fault = inject("write-fail:a");
    let report = commit(&writes).unwrap();
    assert_eq!(report.unchanged, [dir.path().join("a")]);
    assert_eq!(report.written, [dir.path().join("b")]);
}

#[test]
fn commit_failing_on_the_third_file_restores_the_first_two() {
    let dir = tempfile::tempdir().unwrap();
    let writes = plan(
        dir.path(),
        &[
            ("a", Some("a0"), "a1"),
            ("b", Some("b0"), "b1"),
            ("c", Some("c0"), "c1"),
        ],
    );
    let _fault = inject("write-fail:c");

    let err = commit(&writes).unwrap_err();

    assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"a0");
    assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"b0");
    assert_eq!(fs::read(dir.path().join("c")).unwrap(), b"c0");
    let ab = vec![dir.path().join("a"), dir.path().join("b")];
    assert_eq!(err.path, dir.path().join("c"));
    assert_eq!(err.written, ab);
    assert_eq!(err.restored, ab);
    assert!(err.not_restored.is_empty());
    assert!(err.nothing_changed());
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.path().join("c").display().to_string()),
        "{msg}"
    );
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let rolled = format!("; rolled back {}, {}", a.display(), b.display());
    assert!(msg.ends_with(&rolled), "{msg}");
    assert!(!msg.contains('\n'));
    assert!(temp_files(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

#[test]
fn commit_reports_a_file_that_could_not_be_restored() {
    let dir = tempfile::tempdir().unwrap();
    let writes = plan(
        dir.path(),
        &[
            ("a", Some("a0"), "a1"),
            ("b", Some("b0"), "b1"),
            ("c", Some("c0"), "c1"),
        ],
    );
    // Calls: a, b, c (fails), restore b, restore a (fails).
    let _fault = inject("rename-fail:3,rename-fail:5");

    let err = commit(&writes).unwrap_err();

    assert_eq!(
        contents(&writes),
        ["a1", "b0", "c0"].map(|s| Some(s.to_string()))
    );
    assert_eq!(err.restored, [dir.path().join("b")]);
    assert_eq!(err.not_restored.len(), 1);
    assert_eq!(err.not_restored[0].0, dir.path().join("a"));
    assert!(!err.nothing_changed());
    let msg = err.to_string();
    let a = dir.path().join("a").display().to_string();
    assert!(
        msg.contains(&format!(
            "{a} still holds the new content because rolling it back failed"
        )),
        "{msg}"
    );
}

#[test]
fn commit_rollback_removes_a_file_it_created() {
    let dir = tempfile::tempdir().unwrap();
    let writes = plan(
        dir.path(),
        &[("token", None, "t1"), ("config", Some("k0"), "k1")],
    );
    let _fault = inject("write-fail:config");
    let err = commit(&writes).unwrap_err();
    assert_eq!(err.restored, [dir.path().join("token")]);
    assert_eq!(names(dir.path()), ["config"]);
}

#[test]
fn commit_refuses_a_file_changed_on_disk_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let writes = plan(
        dir.path(),
        &[
            ("a", Some("a0"), "a1"),
            ("b", Some("b0"), "b1"),
            ("c", Some("c0"), "c1"),
        ],
    );
    fs::write(dir.path().join("c"), "edited by hand").unwrap();

    let err = commit(&writes).unwrap_err();

    assert!(matches!(*err.cause, WriteError::Changed { .. }), "{err:?}");
    assert_eq!(err.path, dir.path().join("c"));
    assert!(err.written.is_empty());
    let want = ["a0", "b0", "edited by hand"].map(|s| Some(s.to_string()));
    assert_eq!(contents(&writes), want);
    let msg = err.to_string();
    assert!(msg.contains("changed on disk"), "{msg}");
    assert!(msg.ends_with("no file was written"), "{msg}");
}

#[test]
fn commit_refuses_a_file_that_appeared_since_planning() {
    let dir = tempfile::tempdir().unwrap();
    let writes = plan(dir.path(), &[("token", None, "t1")]);
    fs::write(dir.path().join("token"), "someone else's").unwrap();
    let err = commit(&writes).unwrap_err();
    assert!(matches!(*err.cause, WriteError::Changed { .. }), "{err:?}");
    assert_eq!(
        fs::read(dir.path().join("token")).unwrap(),
        b"someone else's"
    );
}

#[test]
fn planned_write_debug_hides_the_bytes() {
    let w = PlannedWrite {
        path: PathBuf::from("/k/config"),
        original: Some(b"token: CW-SECRET-old".to_vec().into()),
        new: b"token: CW-SECRET-new".to_vec().into(),
    };
    let shown = format!("{w:?}");
    assert!(
        !shown.contains("SECRET") && !shown.contains("67, 87"),
        "{shown}"
    );
    assert!(shown.contains("/k/config"), "{shown}");
}
