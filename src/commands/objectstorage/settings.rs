//! Where the S3 requests go and which region they are signed for, as CoreWeave documents
//! the client set-up: the region is the availability zone (`us-east-04a`), the endpoint
//! `https://cwobject.com` with virtual-hosted addressing, or `http://cwlota.com` (LOTA)
//! from inside CoreWeave clusters.

use anyhow::bail;

use crate::secret::quoted;

/// CoreWeave AI Object Storage's S3 endpoint (virtual-hosted addressing).
pub const S3_ENDPOINT: &str = "https://cwobject.com";
/// The LOTA endpoint, for use inside CoreWeave clusters.
pub const LOTA_ENDPOINT: &str = "http://cwlota.com";
/// The variable AWS's tools read an S3 endpoint from, over a profile's `endpoint_url`.
pub const ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_S3";

/// The S3 endpoint as used: a URL without a trailing slash.
///
/// `--endpoint` (`cwobject`, `lota` or a URL), else `AWS_ENDPOINT_URL_S3` (the variable
/// the AWS CLI and SDKs themselves prefer to a profile's `endpoint_url`, so the key check
/// goes where they will), else `cwobject`. A URL is `https://`, or `http://` only to
/// loopback (tests) or to CoreWeave's LOTA host, which serves plain http inside the
/// clusters.
pub fn endpoint(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<String> {
    let (value, origin) = match flag.map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => (f.to_string(), "--endpoint"),
        None => match env(ENDPOINT_ENV)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            Some(v) => (v, ENDPOINT_ENV),
            None => return Ok(S3_ENDPOINT.to_string()),
        },
    };
    match value.as_str() {
        "cwobject" => return Ok(S3_ENDPOINT.to_string()),
        "lota" => return Ok(LOTA_ENDPOINT.to_string()),
        _ => {}
    }
    let bad = |why: &str| -> anyhow::Result<String> {
        bail!(
            "S3 endpoint {} (from {origin}) {why}; use cwobject, lota or an https:// URL",
            quoted(&value)
        )
    };
    let Ok(url) = url::Url::parse(&value) else {
        return bad("is not a URL");
    };
    if url.host_str().is_none_or(str::is_empty) {
        return bad("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("holds credentials");
    }
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        return bad("has a path, query or fragment");
    }
    let lota = url
        .host_str()
        .is_some_and(|h| h.eq_ignore_ascii_case("cwlota.com"));
    match url.scheme() {
        "https" => {}
        "http" if lota || crate::coreweave::client::is_loopback(&url) => {}
        "http" => return bad("is plain http to a host that is neither loopback nor cwlota.com"),
        _ => return bad("is not an http(s) URL"),
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The region and where it came from, or `None` when nothing says.
///
/// `--region`, else the zone of the context's CKS server
/// (`https://<org>-<hash>.k8s.<zone>.coreweave.com`), else `AWS_REGION`, else
/// `AWS_DEFAULT_REGION`.
pub fn region(
    flag: Option<&str>,
    server: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<(String, &'static str)>> {
    let given = match flag.map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => Some((f.to_string(), "--region")),
        None => match server.and_then(zone_of_server) {
            Some(z) => return Ok(Some((z, "the context's CKS server"))),
            None => ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .into_iter()
                .find_map(|var| {
                    env(var)
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                        .map(|v| (v, var))
                }),
        },
    };
    let Some((value, origin)) = given else {
        return Ok(None);
    };
    if !is_region(&value) {
        bail!(
            "region {} (from {origin}) is not an availability zone name such as us-east-04a \
             (letters, digits and -, at most 64)",
            quoted(&value)
        );
    }
    Ok(Some((value, origin)))
}

/// The availability zone of a CKS server URL, `https://<cluster>.k8s.<zone>.coreweave.com`
/// (lowercased; `api.<cluster>…`, the unmanaged-auth endpoint, names its zone too).
pub fn zone_of_server(server: &str) -> Option<String> {
    let url = url::Url::parse(server.trim()).ok()?;
    if url.scheme() != "https" {
        return None;
    }
    let host = url.domain()?.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    match labels.as_slice() {
        [.., cluster, "k8s", zone, "coreweave", "com"]
            if !cluster.is_empty() && is_region(zone) =>
        {
            Some((*zone).to_string())
        }
        _ => None,
    }
}

fn is_region(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn endpoints_by_name_url_or_environment() {
        assert_eq!(endpoint(None, &no_env).unwrap(), "https://cwobject.com");
        assert_eq!(
            endpoint(Some("lota"), &no_env).unwrap(),
            "http://cwlota.com"
        );
        assert_eq!(
            endpoint(Some("cwobject"), &no_env).unwrap(),
            "https://cwobject.com"
        );
        assert_eq!(
            endpoint(Some("http://127.0.0.1:9000/"), &no_env).unwrap(),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            endpoint(Some("https://s3.example/"), &no_env).unwrap(),
            "https://s3.example"
        );
        let env = |k: &str| (k == ENDPOINT_ENV).then(|| "http://localhost:7".to_string());
        assert_eq!(endpoint(None, &env).unwrap(), "http://localhost:7");
        assert_eq!(endpoint(Some("lota"), &env).unwrap(), "http://cwlota.com");
        for bad in [
            "http://s3.example",
            "ftp://x",
            "cwobject.com",
            "https://u:p@s3.example",
            "https://s3.example/bucket",
            "https://s3.example/?x",
        ] {
            let e = endpoint(Some(bad), &no_env).unwrap_err().to_string();
            assert!(e.contains("--endpoint"), "{bad}: {e}");
        }
        let env = |k: &str| (k == ENDPOINT_ENV).then(|| "http://10.0.0.1".to_string());
        let e = endpoint(None, &env).unwrap_err().to_string();
        assert!(e.contains(ENDPOINT_ENV), "{e}");
    }

    #[test]
    fn the_zone_comes_from_a_cks_server() {
        for (server, zone) in [
            (
                "https://cw1234-a1b2c3.k8s.us-east-04a.coreweave.com",
                Some("us-east-04a"),
            ),
            ("https://ORG-1.K8S.ORD1.COREWEAVE.COM:443/", Some("ord1")),
            (
                "https://api.cw1.k8s.us-west-01a.coreweave.com",
                Some("us-west-01a"),
            ),
            ("https://k8s.us-east-04a.coreweave.com", None),
            ("http://cw.k8s.us-east-04a.coreweave.com", None),
            (
                "https://cw.k8s.us-east-04a.coreweave.com.evil.example",
                None,
            ),
            ("https://127.0.0.1:6443", None),
            ("not a url", None),
        ] {
            assert_eq!(zone_of_server(server).as_deref(), zone, "{server}");
        }
    }

    #[test]
    fn region_flag_then_server_then_environment() {
        let server = Some("https://c.k8s.us-east-04a.coreweave.com");
        let env = |k: &str| (k == "AWS_DEFAULT_REGION").then(|| "us-west-2".to_string());
        let r = |flag, server| region(flag, server, &env).unwrap().map(|(r, _)| r);
        assert_eq!(r(Some("rno2a"), server).as_deref(), Some("rno2a"));
        assert_eq!(r(None, server).as_deref(), Some("us-east-04a"));
        assert_eq!(
            r(None, Some("https://k.example")).as_deref(),
            Some("us-west-2")
        );
        assert_eq!(region(None, None, &no_env).unwrap(), None);
        let e = region(Some("us east"), None, &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--region"), "{e}");
    }
}
