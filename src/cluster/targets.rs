//! What the check needs of each context's cluster entry, from the loader's model (the one
//! reading of each file; relative CA paths against the folder of the file that defines the
//! entry, as client-go). A context kubectl would not send the token to (`http://` server)
//! or would refuse (CA data with a CA file) is refused here, before anything is sent.

use crate::kubeconfig::{base_dir, Kubeconfig};
use crate::net::redact;

use super::{CaSource, ClusterError, ClusterTarget};

/// The targets for `contexts`, in that order: each context's cluster entry as merged by
/// kubectl (first file defining the name wins), as the loader read it.
/// Fails on the first context that cannot be checked at all: unknown, without a cluster,
/// naming an undefined cluster, or a cluster without `server`.
pub fn cluster_targets(
    kc: &Kubeconfig,
    contexts: &[String],
) -> Result<Vec<ClusterTarget>, ClusterError> {
    let mut out = Vec::with_capacity(contexts.len());
    for name in contexts {
        let config_err = |detail: String| ClusterError::Config {
            context: name.clone(),
            detail,
        };
        let Some((ctx_origin, ctx)) = kc.context(name) else {
            return Err(config_err(format!(
                "no such context in {}",
                kc.files_for_messages()
            )));
        };
        let cluster_name = ctx
            .context
            .as_ref()
            .and_then(|c| c.cluster.as_deref())
            .unwrap_or("");
        if cluster_name.is_empty() {
            return Err(config_err(format!(
                "names no cluster (in {})",
                kc.path(ctx_origin.file).display()
            )));
        }
        let Some((origin, merged)) = kc.cluster(cluster_name) else {
            return Err(config_err(format!(
                "names cluster {cluster_name:?}, which no kubeconfig file defines"
            )));
        };
        let path = kc.path(origin.file);
        let fields = merged.cluster.clone().unwrap_or_default();
        let server = fields.server.as_deref().unwrap_or_default().to_string();
        if server.is_empty() {
            return Err(config_err(format!(
                "cluster {cluster_name:?} (in {}) has no server",
                path.display()
            )));
        }
        // kubectl sends no credentials to an `http://` server; neither does the check.
        if server
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        {
            return Err(config_err(format!(
                "cluster {cluster_name:?} (in {}): server {} is not TLS: cannot be verified \
                 without exposing the token (--verify api skips the cluster check)",
                path.display(),
                redact(&server, &[])
            )));
        }
        let ca = match (
            fields.certificate_authority_data.filter(|d| !d.is_empty()),
            fields.certificate_authority.filter(|f| !f.is_empty()),
        ) {
            // client-go's validation refuses both together ("certificate-authority-data
            // and certificate-authority are both specified"), so kubectl cannot use the
            // context: neither can the check.
            (Some(_), Some(file)) => {
                return Err(config_err(format!(
                    "cluster {cluster_name:?} (in {}): certificate-authority-data and \
                     certificate-authority ({}) are both set, which kubectl refuses as an \
                     error in configuration; remove one of them",
                    path.display(),
                    base_dir(path).join(&*file).display()
                )))
            }
            (Some(data), None) => CaSource::Data(data.to_string()),
            (None, Some(file)) => CaSource::File(base_dir(path).join(&*file)),
            (None, None) => CaSource::System,
        };
        out.push(ClusterTarget {
            context: name.clone(),
            cluster: cluster_name.to_string(),
            server,
            ca,
            insecure_skip_tls_verify: fields.insecure_skip_tls_verify.unwrap_or(false),
            tls_server_name: fields
                .tls_server_name
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string()),
            proxy_url: fields
                .proxy_url
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string()),
        });
    }
    Ok(out)
}
