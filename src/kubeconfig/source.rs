//! Where kubectl reads its kubeconfig from, decided once from the flags and the environment:
//! the files in kubectl's order, and whether `--kubeconfig` named one (which must then exist).
//! Readers load it once; writers hand it to the transaction, which loads it again under the
//! locks.

use std::ffi::OsString;
use std::path::PathBuf;

use super::load::{config_paths, Kubeconfig};
use super::KubeconfigError;

#[derive(Debug, Clone, Default)]
pub struct KubeconfigSource {
    /// The files, in kubectl's order.
    pub paths: Vec<PathBuf>,
    /// `--kubeconfig`, when given (an empty value counts as not given, as in kubectl).
    pub explicit: Option<PathBuf>,
}

impl KubeconfigSource {
    /// `--kubeconfig`, else `KUBECONFIG`, else `~/.kube/config` under `home`.
    pub fn new(
        flag: Option<PathBuf>,
        env: Option<OsString>,
        home: Option<PathBuf>,
    ) -> KubeconfigSource {
        let explicit = flag.filter(|p| !p.as_os_str().is_empty());
        let paths = config_paths(explicit.as_deref(), env, home);
        KubeconfigSource { paths, explicit }
    }

    /// One named file, as `--kubeconfig FILE` names it.
    pub fn file(path: PathBuf) -> KubeconfigSource {
        KubeconfigSource {
            paths: vec![path.clone()],
            explicit: Some(path),
        }
    }

    /// The same files, none of them required to exist: how a command that may create the
    /// file it writes (`import`, `add`) reads them.
    pub fn may_be_missing(&self) -> KubeconfigSource {
        KubeconfigSource {
            paths: self.paths.clone(),
            explicit: None,
        }
    }

    /// The files that exist now.
    pub fn existing(&self) -> Vec<PathBuf> {
        self.paths.iter().filter(|p| p.exists()).cloned().collect()
    }

    pub fn is_explicit(&self) -> bool {
        self.explicit.is_some()
    }

    pub fn load(&self) -> Result<Kubeconfig, KubeconfigError> {
        Kubeconfig::load(&self.paths, self.is_explicit())
    }

    /// [`Kubeconfig::load_settled`]: a file that does not load is read again once another
    /// writer's lock is gone, for at most `patience`.
    pub fn load_settled(
        &self,
        patience: std::time::Duration,
    ) -> Result<Kubeconfig, KubeconfigError> {
        Kubeconfig::load_settled(&self.paths, self.is_explicit(), patience)
    }

    /// Whether every file is as `kc` read it.
    pub fn unchanged_on_disk(&self, kc: &Kubeconfig) -> bool {
        kc.unchanged_on_disk(&self.paths, self.is_explicit())
    }
}
