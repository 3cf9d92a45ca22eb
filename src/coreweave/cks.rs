//! `GET /v1beta1/cks/clusters`: the CKS clusters a token's organization has, for `cluster
//! list` and `kubeconfig add`. Kept apart from `client.rs` and reaching it only through its
//! one read hook ([`super::client::get_json_async`]).

use serde_json::Value;

use super::client::{get_json_async, ApiConfig};
use super::error::{redact, ApiError};
use crate::secret::Token;

/// The endpoint (CoreWeave's CKS API reference, "List clusters").
pub const CLUSTERS_PATH: &str = "/v1beta1/cks/clusters";
/// The most clusters one answer may list: an organization of this size is served, a larger
/// answer is refused by name.
pub const MAX_CLUSTERS: usize = 10_000;
/// The most bytes of the answer read: a cluster item is about a kilobyte with its network,
/// OIDC and webhook settings; this leaves room for [`MAX_CLUSTERS`] of three times that.
pub const MAX_ANSWER: usize = 32 << 20;
/// Longest id, name, zone or endpoint taken into a kubeconfig (a DNS name's length).
const MAX_FIELD: usize = 253;

/// One cluster as the API lists it. Texts are the server's, checked to hold no control
/// character before they are used as kubeconfig names; print them through
/// `secret::shown`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CksCluster {
    pub id: String,
    pub name: String,
    pub zone: String,
    pub vpc_id: String,
    pub public: bool,
    pub version: String,
    /// `running`, `creating`, … (the string form with any `STATUS_` prefix dropped, lower
    /// case), or the integer of the older enum as written.
    pub status: String,
    /// `https://<apiServerEndpoint>` (a URL given as one is kept with its host and port
    /// only); `None` when the API names no endpoint.
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Why no kubeconfig entry can be made from this item, beyond being private or having
    /// no endpoint (a name or endpoint that cannot be used as it is).
    #[serde(skip)]
    pub unusable: Option<String>,
}

impl CksCluster {
    /// Whether the status says the cluster is going away.
    pub fn is_deleting(&self) -> bool {
        self.status.contains("delet")
    }
}

/// Everything that can go wrong, as one line. A 403 says which right is missing.
#[derive(Debug, thiserror::Error)]
pub enum ClustersError {
    #[error(
        "{url}: this token may not list CKS clusters ({status}); its principal needs the CKS Viewer \
         or CKS Admin IAM role (or an IAM access policy allowing it to read CKS clusters)"
    )]
    Forbidden { url: String, status: String },
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// The clusters `token` may read, as tasks on the network layer's runtime (several
/// tokens at once for `cluster list --all-tokens`).
///
/// The answer is read leniently where CoreWeave's two reference pages differ (`status` an
/// integer enum in the older one, a string in the newer; `apiServerEndpoint` a bare host or
/// a URL) and strictly where a kubeconfig entry is made from it: a cluster whose name,
/// endpoint or zone cannot be written as they are is kept, with the reason it cannot be
/// added ([`CksCluster::unusable`]). Bounded: at most [`MAX_CLUSTERS`] items in at most
/// [`MAX_ANSWER`] bytes; more is an error that says so, never a silent cut.
pub async fn list_clusters_async(
    cfg: &ApiConfig,
    token: &Token,
) -> Result<Vec<CksCluster>, ClustersError> {
    let (url, body) = match get_json_async(cfg, CLUSTERS_PATH, token, MAX_ANSWER).await {
        Ok(answer) => answer,
        Err(ApiError::Rejected {
            url,
            status: 403,
            code,
            message,
        }) => {
            let mut status = "403".to_string();
            for part in [code, message].into_iter().flatten() {
                status.push(' ');
                status.push_str(&part);
            }
            return Err(ClustersError::Forbidden { url, status });
        }
        Err(e) => return Err(e.into()),
    };
    Ok(parse_clusters(&body, &url, token)?)
}

/// [`list_clusters_async`], blocking.
pub fn list_clusters(cfg: &ApiConfig, token: &Token) -> Result<Vec<CksCluster>, ClustersError> {
    crate::net::block_on(list_clusters_async(cfg, token)).map_err(|e| ApiError::Client(e.into()))?
}

/// `{"items": [...]}`; no `items` (or `null`) is an organization without clusters.
pub fn parse_clusters(body: &[u8], url: &str, token: &Token) -> Result<Vec<CksCluster>, ApiError> {
    let unexpected = |what: String| ApiError::Unexpected {
        url: url.into(),
        what,
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| unexpected("not JSON".into()))?;
    if !v.is_object() {
        return Err(unexpected("not a JSON object".into()));
    }
    let items = match v.get("items") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(unexpected("items is not a list".into())),
    };
    if items.len() > MAX_CLUSTERS {
        return Err(unexpected(format!(
            "{} clusters; at most {MAX_CLUSTERS} are read",
            items.len()
        )));
    }
    let secrets = [token.expose()];
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            cluster(item, &secrets).map_err(|why| unexpected(format!("items[{i}]: {why}")))
        })
        .collect()
}

/// Why an item of the list is not a cluster at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotACluster {
    #[error("not an object")]
    NotAnObject,
    #[error("a cluster without id or name")]
    NoIdOrName,
}

/// Why an `apiServerEndpoint` is not a server the plugin writes (one fixed reason a case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadEndpoint(pub &'static str);

/// One item; an error only for an item that is not a cluster at all (no id or name).
fn cluster(item: &Value, secrets: &[&str]) -> Result<CksCluster, NotACluster> {
    if !item.is_object() {
        return Err(NotACluster::NotAnObject);
    }
    let text = |k: &str| match item.get(k) {
        Some(Value::String(s)) => s.trim().to_string(),
        _ => String::new(),
    };
    let (id, name) = (text("id"), text("name"));
    if id.is_empty() || name.is_empty() {
        return Err(NotACluster::NoIdOrName);
    }
    let zone = text("zone");
    let mut unusable = None;
    for (field, value) in [("id", &id), ("name", &name), ("zone", &zone)] {
        if let Some(why) = unfit(value) {
            unusable.get_or_insert(format!("its {field} {why}"));
        }
    }
    let server = match item.get("apiServerEndpoint") {
        Some(Value::String(s)) if !s.trim().is_empty() => match server_of(s.trim()) {
            Ok(server) => Some(server),
            Err(why) => {
                unusable.get_or_insert(format!(
                    "its apiServerEndpoint {} {why}",
                    redact(s, secrets)
                ));
                None
            }
        },
        _ => None,
    };
    let optional = |k: &str| {
        Some(text(k))
            .filter(|s| !s.is_empty())
            .map(|s| redact(&s, secrets))
    };
    Ok(CksCluster {
        id,
        name,
        zone,
        vpc_id: redact(&text("vpcId"), secrets),
        public: item.get("public").and_then(Value::as_bool).unwrap_or(false),
        version: redact(&text("version"), secrets),
        status: status(item.get("status")),
        server,
        created_at: optional("createdAt"),
        updated_at: optional("updatedAt"),
        unusable,
    })
}

/// Why a text cannot be a kubeconfig name as it is.
fn unfit(value: &str) -> Option<&'static str> {
    if value.chars().count() > MAX_FIELD {
        Some("is longer than 253 characters")
    } else if crate::secret::has_hidden(value) {
        Some("holds control or invisible characters")
    } else if value.contains(crate::secret::COREWEAVE_PREFIX) {
        Some("holds a token")
    } else {
        None
    }
}

/// The status in one spelling: the newer reference's string (`STATUS_RUNNING`, `running`)
/// as `running`; the older reference's integer as written; nothing as `unknown`.
fn status(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            let s = s.trim().to_ascii_lowercase();
            let s = s.strip_prefix("cluster_").unwrap_or(&s);
            let s = s.strip_prefix("status_").unwrap_or(s);
            crate::secret::escape_controls(s).chars().take(40).collect()
        }
        Some(Value::Number(n)) => n.to_string(),
        _ => "unknown".into(),
    }
}

/// `https://host[:port]` for an `apiServerEndpoint` given as a bare host (the reference's
/// example), `host:port`, or an `https://` URL with no more than a `/` after the host.
///
/// A bare host in the plainest form (lowercase ASCII labels, as CKS writes them) is taken
/// as it is: the full URL parse is known to give that very host
/// ([`super::plain_https_host`]); anything else is parsed. An organization's list is read
/// on every `cluster list` and `kubeconfig add`, and the parse was most of it.
pub fn server_of(endpoint: &str) -> Result<String, BadEndpoint> {
    if endpoint.len() > MAX_FIELD + 14 {
        return Err(BadEndpoint("is too long"));
    }
    if !endpoint.contains("://") {
        let mut server = String::with_capacity(8 + endpoint.len());
        server.push_str("https://");
        server.push_str(endpoint);
        if super::plain_https_host(&server).is_some_and(|host| host.len() == endpoint.len()) {
            return Ok(server);
        }
    }
    parsed_server_of(endpoint)
}

/// [`server_of`] through the full URL parse.
fn parsed_server_of(endpoint: &str) -> Result<String, BadEndpoint> {
    let with_scheme = if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("https://{endpoint}")
    };
    let url =
        url::Url::parse(&with_scheme).map_err(|_| BadEndpoint("is not a host name or URL"))?;
    if url.scheme() != "https" {
        return Err(BadEndpoint("is not https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BadEndpoint("carries user info"));
    }
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        return Err(BadEndpoint("has a path, query or fragment"));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or(BadEndpoint("has no host"))?;
    if host.contains('%') || host.starts_with("xn--") || host.contains(".xn--") {
        return Err(BadEndpoint("has an encoded host"));
    }
    // The URL parser lower-cases the host and drops the default port: the spelling
    // `token credential` compares an item's bindings in.
    Ok(match url.port() {
        Some(port) => format!("https://{host}:{port}"),
        None => format!("https://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Vec<CksCluster>, ApiError> {
        parse_clusters(
            body.as_bytes(),
            "u",
            &Token::new("CW-SECRET-test-fake-cks-1234"),
        )
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..Default::default() })]

        /// A bare host taken as it is gives what the full parse gives, and so does every
        /// other endpoint (which the parse reads).
        #[test]
        fn plain_hosts_are_taken_as_the_parse_takes_them(
            scheme in prop::sample::select(vec!["", "", "", "https://", "http://", "HTTPS://"]),
            labels in prop::collection::vec(
                prop_oneof![
                    6 => "[a-z0-9-]{1,8}",
                    1 => prop::sample::select(vec!["", "xn--ls8h", "XN--abc", "API", "0", "255", "0x7f", "-", "a_b", "é", "%61", "a@b"]).prop_map(str::to_string),
                ],
                1..6,
            ),
            suffix in prop::sample::select(vec![".k8s.us-east-04a.coreweave.com", ".coreweave.com", "", ".1", ".com."]),
            tail in prop::sample::select(vec!["", "", "", ":443", ":6443", ":0443", ":65536", ":", "/", "/p", "?q", "#f", " "]),
        ) {
            let endpoint = format!("{scheme}{}{suffix}{tail}", labels.join("."));
            prop_assert_eq!(server_of(&endpoint), parsed_server_of(&endpoint), "{:?}", endpoint);
        }
    }

    #[test]
    fn endpoints_as_host_host_port_or_url() {
        let host = "cw9f3a-1b2c.k8s.us-east-04a.coreweave.com";
        for given in [
            host.to_string(),
            format!("https://{host}"),
            format!("https://{host}/"),
            format!("{host}:443"),
            format!("HTTPS://{}", host.to_uppercase()),
        ] {
            assert_eq!(
                server_of(&given).as_deref(),
                Ok(&*format!("https://{host}")),
                "{given}"
            );
        }
        assert_eq!(
            server_of("127.0.0.1:6443").as_deref(),
            Ok("https://127.0.0.1:6443")
        );
        for bad in [
            "http://x.coreweave.com",
            "x.coreweave.com/path",
            "u@x.coreweave.com",
            "https://x/?q",
            "",
        ] {
            assert!(server_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_integer_or_string_and_every_shape_of_item() {
        let got = parse(
            r#"{"items":[
            {"id":"1","name":"a","zone":"z","public":true,"status":"STATUS_RUNNING","apiServerEndpoint":"a.k8s.z.coreweave.com"},
            {"id":"2","name":"b","zone":"z","public":false,"status":2,"apiServerEndpoint":"https://b.k8s.z.coreweave.com/"},
            {"id":"3","name":"c","status":"creating"},
            {"id":"4","name":"d\u001b[31m","status":"STATUS_DELETING","apiServerEndpoint":"http://d"}
        ]}"#,
        )
        .expect("parses");
        assert_eq!(got[0].status, "running");
        assert_eq!(
            got[0].server.as_deref(),
            Some("https://a.k8s.z.coreweave.com")
        );
        assert_eq!(got[1].status, "2");
        assert!(!got[1].public);
        assert_eq!(got[2].server, None);
        assert!(got[2].unusable.is_none());
        assert!(got[3].is_deleting());
        assert!(
            got[3].unusable.as_deref().unwrap().contains("name"),
            "{:?}",
            got[3]
        );
        assert_eq!(parse("{}").expect("empty"), vec![]);
        assert_eq!(parse(r#"{"items":null}"#).expect("empty"), vec![]);
        for bad in [
            "[]",
            "not json",
            r#"{"items":{}}"#,
            r#"{"items":[{"name":"x"}]}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn more_than_the_bound_is_refused_by_name() {
        let item = r#"{"id":"1","name":"a"}"#;
        let body = format!("{{\"items\":[{}]}}", vec![item; MAX_CLUSTERS + 1].join(","));
        let e = parse(&body).expect_err("too many").to_string();
        assert!(e.contains("10001 clusters; at most 10000"), "{e}");
        let body = format!("{{\"items\":[{}]}}", vec![item; MAX_CLUSTERS].join(","));
        assert_eq!(parse(&body).expect("at the bound").len(), MAX_CLUSTERS);
    }
}
