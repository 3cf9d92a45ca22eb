//! `GET /v1/cwobject/temporary-credentials/api-token`: the direct token exchange CoreWeave
//! recommends for Object Storage keys. It speaks AWS's container-credentials protocol (the
//! bearer token in `Authorization`, a PascalCase answer), and the keys it gives carry the
//! token's principal (`coreweave/<UID>`) and its SCIM groups, so bucket and organization
//! policies written for a user or a group apply to them. Reached through `client.rs`'s one
//! GET hook (`client::get_json`), a read, so retried as `whoami` is.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::access_key::{check_fields, forbidden, AccessKey, AccessKeyError};
use super::client::{get_json, ApiConfig};
use super::error::{redact, ApiError};
use crate::secret::Token;

/// The endpoint (CoreWeave's AI Object Storage docs, "Direct access token exchange").
pub const EXCHANGE_PATH: &str = "/v1/cwobject/temporary-credentials/api-token";
/// The farthest `Expiration` accepted: AWS's longest temporary credentials
/// (GetSessionToken) last 36 hours. A key said to live longer is not the temporary key the
/// exchange makes, and it would be kept and handed out for that long.
pub const MAX_LIFETIME: SignedDuration = SignedDuration::from_hours(36);

/// Exchanges `token` for a temporary key.
///
/// The answer is checked before anything uses it: an `AccessKeyId` and a `SecretAccessKey`
/// an S3 client can send, no echo of the bearer token, a `Token` passed on only when it is
/// not empty, and an `Expiration` that is an RFC 3339 time after now and at most
/// [`MAX_LIFETIME`] ahead. An answer without one is refused, so it is never kept.
pub fn exchange(cfg: &ApiConfig, token: &Token) -> Result<AccessKey, AccessKeyError> {
    if token.expose().trim().is_empty() {
        return Err(ApiError::InvalidRequest("the API token is empty".into()).into());
    }
    let secrets = [token.expose()];
    let (url, body) = get_json(cfg, EXCHANGE_PATH, token, &secrets).map_err(forbidden)?;
    Ok(parse(&body, &url, token, Timestamp::now())?)
}

/// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}`, checked against `now`.
fn parse(body: &[u8], url: &str, token: &Token, now: Timestamp) -> Result<AccessKey, ApiError> {
    let unexpected = |what: String| ApiError::Unexpected {
        url: url.into(),
        what,
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| unexpected("not JSON".into()))?;
    if !v.is_object() {
        return Err(unexpected("not a JSON object".into()));
    }
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let id = field("AccessKeyId")
        .ok_or_else(|| unexpected("no AccessKeyId: the answer holds no key".into()))?;
    let secret = field("SecretAccessKey")
        .ok_or_else(|| unexpected("no SecretAccessKey: the answer holds no key".into()))?;
    // The protocol allows an empty Token: there is no session token then.
    let session = field("Token");
    check_fields(
        &[
            ("AccessKeyId", Some(id)),
            ("SecretAccessKey", Some(secret)),
            ("Token", session),
        ],
        token,
        url,
    )?;
    let mut all = vec![token.expose(), secret];
    all.extend(session);
    let expiry = match field("Expiration") {
        None => {
            return Err(unexpected(format!(
                "a key {id} without an Expiration; it is not used"
            )))
        }
        Some(text) => crate::time::parse_rfc3339(text).ok_or_else(|| {
            unexpected(format!(
                "Expiration {:?} is not an RFC 3339 time",
                redact(text, &all)
            ))
        })?,
    };
    if expiry <= now {
        return Err(unexpected(format!(
            "a key {id} whose Expiration {expiry} is already past"
        )));
    }
    if now
        .checked_add(MAX_LIFETIME)
        .is_ok_and(|latest| expiry > latest)
    {
        return Err(unexpected(format!(
            "a key {id} whose Expiration {expiry} is more than 36 hours away; temporary keys \
             expire sooner"
        )));
    }
    Ok(AccessKey {
        access_key_id: id.to_string(),
        secret_key: Token::new(secret),
        session_token: session.map(Token::new),
        principal_name: None,
        expiry: Some(expiry),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "CW-SECRET-tokentokentoken1234";

    fn now() -> Timestamp {
        "2026-12-05T10:00:00Z".parse().unwrap()
    }

    fn parse_at(body: &str) -> Result<AccessKey, ApiError> {
        parse(body.as_bytes(), "u", &Token::new(TOKEN), now())
    }

    #[test]
    fn the_container_credentials_shape_is_read() {
        let k = parse_at(
            r#"{"AccessKeyId":"CWAAAA","SecretAccessKey":"s3cr3t-s3cr3t","Token":"sess-sess-1","Expiration":"2026-12-05T11:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(k.access_key_id, "CWAAAA");
        assert_eq!(k.secret_key.expose(), "s3cr3t-s3cr3t");
        assert_eq!(
            k.session_token.as_ref().map(Token::expose),
            Some("sess-sess-1")
        );
        assert_eq!(k.expiry, Some("2026-12-05T11:00:00Z".parse().unwrap()));
        let shown = format!("{k:?}");
        assert!(
            !shown.contains("s3cr3t-s3cr3t") && !shown.contains("sess-sess-1"),
            "{shown}"
        );
        // An empty Token is no session token.
        let k = parse_at(
            r#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"","Expiration":"2026-12-05T11:00:00Z"}"#,
        )
        .unwrap();
        assert!(k.session_token.is_none());
    }

    #[test]
    fn answers_without_a_usable_key_or_expiration_are_refused() {
        for (body, what) in [
            ("nope", "not JSON"),
            ("[]", "not a JSON object"),
            (
                r#"{"SecretAccessKey":"S","Expiration":"2026-12-05T11:00:00Z"}"#,
                "no AccessKeyId",
            ),
            (
                r#"{"AccessKeyId":"A","Expiration":"2026-12-05T11:00:00Z"}"#,
                "no SecretAccessKey",
            ),
            (
                r#"{"AccessKeyId":"A","SecretAccessKey":"S"}"#,
                "without an Expiration",
            ),
            (
                r#"{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":""}"#,
                "without an Expiration",
            ),
            (
                r#"{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"soon"}"#,
                "not an RFC 3339 time",
            ),
            (
                r#"{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"2026-12-05T10:00:00Z"}"#,
                "already past",
            ),
            (
                r#"{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"2026-12-06T22:00:01Z"}"#,
                "more than 36 hours",
            ),
            (
                r#"{"AccessKeyId":"A B","SecretAccessKey":"S","Expiration":"2026-12-05T11:00:00Z"}"#,
                "printable",
            ),
        ] {
            let e = parse_at(body).unwrap_err().to_string();
            assert!(e.contains(what), "{body}: {e}");
        }
        assert!(parse_at(
            r#"{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"2026-12-06T22:00:00Z"}"#
        )
        .is_ok());
    }

    #[test]
    fn no_secret_is_echoed_in_an_error() {
        let e = parse_at(&format!(
            r#"{{"AccessKeyId":"A","SecretAccessKey":"{TOKEN}","Expiration":"2026-12-05T11:00:00Z"}}"#
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("holds the API token") && !e.contains("tokentoken"),
            "{e}"
        );
        let e = parse_at(
            r#"{"AccessKeyId":"A","SecretAccessKey":"xxxxxxxxxxxx","Expiration":"xxxxxxxxxxxx y"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(!e.contains("xxxxxxxxxxxx"), "{e}");
    }
}
