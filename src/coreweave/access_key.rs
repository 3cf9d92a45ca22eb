//! `POST /v1/cwobject/access-key`: an AI Object Storage (S3) access key made from the API
//! token, for `objectstorage credentials`. Kept apart from `client.rs` and reaching it only
//! through its one hook ([`super::client::post_json`]), so the client's transport can
//! change under it.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::client::{post_json, ApiConfig, MINT_EXPIRY_SLACK};
use super::error::{redact, ApiError};
use crate::secret::Token;

/// The endpoint (CoreWeave's Object Storage API reference, "Create access key").
pub const ACCESS_KEY_PATH: &str = "/v1/cwobject/access-key";
/// Longest temporary key CoreWeave makes: 12 hours.
pub const MAX_KEY_DURATION: Duration = Duration::from_secs(43_200);
/// Longest key id or secret accepted: AWS's own are 20 and 40 characters; anything far
/// longer is not a key an S3 client should send.
const MAX_KEY_FIELD: usize = 1024;

/// What is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Expires after this long (1 s to [`MAX_KEY_DURATION`]).
    Temporary(Duration),
    /// `durationSeconds: 0`: never expires.
    Permanent,
}

impl Lifetime {
    pub fn seconds(self) -> u64 {
        match self {
            Lifetime::Temporary(d) => d.as_secs(),
            Lifetime::Permanent => 0,
        }
    }
}

/// A key as the API made it. `Debug` masks the secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_key: Token,
    /// Only if the API returns one (it does not document one).
    pub session_token: Option<Token>,
    /// Redacted for display.
    pub principal_name: Option<String>,
    /// `None` for a permanent key.
    pub expiry: Option<Timestamp>,
}

/// Everything that can go wrong, as one line. A 403 says which right is missing.
#[derive(Debug, thiserror::Error)]
pub enum AccessKeyError {
    #[error(
        "{url}: the token is accepted but may not create Object Storage access keys ({status}); \
         its principal needs the Object Storage Admin role or a policy granting the \
         cwobject:CreateAccessKey permission"
    )]
    Forbidden { url: String, status: String },
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Asks for one key with `token` as the bearer.
///
/// Retries: a temporary key is retried on a 5xx, a timeout or a 429 as `whoami` is (a
/// request the server failed may have made a key nobody ever sees, which expires on its
/// own); a permanent one only when the server surely did nothing (a refused connection, a
/// 429 with `Retry-After`), since a stray permanent key would live for ever.
///
/// The answer is checked before anything uses it: a key and a secret that an S3 client can
/// send, no echo of the bearer token, and an expiry that fits what was asked: a temporary
/// key expires after now and at most [`MINT_EXPIRY_SLACK`] plus a tenth past the asked
/// duration; a permanent key (asked with `durationSeconds: 0`, reported with the epoch or no
/// expiry) is accepted only when a permanent key was asked for.
pub fn create_access_key(
    cfg: &ApiConfig,
    token: &Token,
    lifetime: Lifetime,
) -> Result<AccessKey, AccessKeyError> {
    if token.expose().trim().is_empty() {
        return Err(ApiError::InvalidRequest("the API token is empty".into()).into());
    }
    if let Lifetime::Temporary(d) = lifetime {
        if d.as_secs() == 0 || d > MAX_KEY_DURATION {
            return Err(ApiError::InvalidRequest(format!(
                "a temporary key lasts 1s to 12h, not {}",
                crate::time::format_duration(d)
            ))
            .into());
        }
    }
    let payload = serde_json::json!({ "durationSeconds": lifetime.seconds() }).to_string();
    let secrets = [token.expose()];
    let idempotent = matches!(lifetime, Lifetime::Temporary(_));
    let (url, body) =
        post_json(cfg, ACCESS_KEY_PATH, token, payload, idempotent, &secrets).map_err(forbidden)?;
    let key = parse_access_key(&body, &url, token)?;
    check_expiry(&key, lifetime, Timestamp::now(), &url)?;
    Ok(key)
}

/// A 403 as [`AccessKeyError::Forbidden`], which names the right that is missing; any other
/// error as it is.
pub(super) fn forbidden(e: ApiError) -> AccessKeyError {
    match e {
        ApiError::Rejected {
            url,
            status: 403,
            code,
            message,
        } => {
            let mut status = "403".to_string();
            for part in [code, message].into_iter().flatten() {
                status.push(' ');
                status.push_str(&part);
            }
            AccessKeyError::Forbidden { url, status }
        }
        e => e.into(),
    }
}

/// Each present field is a short run of printable ASCII (what an S3 client can send in a
/// header) and holds no copy of the bearer token.
pub(super) fn check_fields(
    fields: &[(&str, Option<&str>)],
    token: &Token,
    url: &str,
) -> Result<(), ApiError> {
    for (name, value) in fields {
        let Some(value) = value else { continue };
        let what = if value.len() > MAX_KEY_FIELD || !value.bytes().all(|b| b.is_ascii_graphic()) {
            format!("a {name} that is not a short run of printable characters")
        } else if value.contains(token.expose()) {
            format!("a {name} that holds the API token")
        } else {
            continue;
        };
        return Err(ApiError::Unexpected {
            url: url.into(),
            what,
        });
    }
    Ok(())
}

/// `{"accessKeyId"|"accessKeyID", "secretKey", "principalName", "expiry"}`.
fn parse_access_key(body: &[u8], url: &str, token: &Token) -> Result<AccessKey, ApiError> {
    let unexpected = |what: String| ApiError::Unexpected {
        url: url.into(),
        what,
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| unexpected("not JSON".into()))?;
    if !v.is_object() {
        return Err(unexpected("not a JSON object".into()));
    }
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| v.get(*n))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let id = field(&["accessKeyId", "accessKeyID", "access_key_id"])
        .ok_or_else(|| unexpected("no accessKeyId: the answer holds no key".into()))?;
    let secret = field(&["secretKey", "secret_key"])
        .ok_or_else(|| unexpected("no secretKey: the answer holds no key".into()))?;
    let session = field(&["sessionToken", "session_token"]);
    let mut all = vec![token.expose(), secret];
    all.extend(session);
    check_fields(
        &[
            ("accessKeyId", Some(id)),
            ("secretKey", Some(secret)),
            ("sessionToken", session),
        ],
        token,
        url,
    )?;
    let expiry = match field(&["expiry", "expireTime"]) {
        None => None,
        Some(text) => Some(crate::time::parse_rfc3339(text.trim()).ok_or_else(|| {
            unexpected(format!(
                "expiry {:?} is not an RFC 3339 time",
                redact(text, &all)
            ))
        })?),
    };
    Ok(AccessKey {
        access_key_id: id.to_string(),
        secret_key: Token::new(secret),
        session_token: session.map(Token::new),
        principal_name: field(&["principalName", "principal_name"]).map(|p| redact(p, &all)),
        // The API reports a permanent key's expiry as the epoch.
        expiry: expiry.filter(|t| *t != Timestamp::UNIX_EPOCH),
    })
}

/// The key lives as asked: a temporary one from after now to at most the duration plus
/// slack; a permanent one only when asked for.
fn check_expiry(
    key: &AccessKey,
    lifetime: Lifetime,
    now: Timestamp,
    url: &str,
) -> Result<(), ApiError> {
    let unexpected = |what: String| {
        Err(ApiError::Unexpected {
            url: url.into(),
            what,
        })
    };
    let id = &key.access_key_id;
    match (lifetime, key.expiry) {
        (Lifetime::Permanent, None) => Ok(()),
        (Lifetime::Permanent, Some(_)) => unexpected(format!(
            "a key {id} with an expiry where a permanent key was asked for"
        )),
        (Lifetime::Temporary(_), None) => unexpected(format!(
            "a permanent key {id} where a temporary one was asked for; revoke it \
             (POST /v1/cwobject/revoke-access-key) unless you meant to make one"
        )),
        (Lifetime::Temporary(d), Some(at)) => {
            if at <= now {
                return unexpected(format!("a key {id} whose expiry {at} is already past"));
            }
            let slack = MINT_EXPIRY_SLACK + d / 10;
            let latest = SignedDuration::try_from(d + slack)
                .ok()
                .and_then(|s| now.checked_add(s).ok())
                .unwrap_or(Timestamp::MAX);
            if at > latest {
                return unexpected(format!(
                    "a key {id} whose expiry {at} is far beyond the asked --duration {}",
                    crate::time::format_duration(d)
                ));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "CW-SECRET-tokentokentoken1234";

    fn parse(body: &str) -> Result<AccessKey, ApiError> {
        parse_access_key(body.as_bytes(), "u", &Token::new(TOKEN))
    }

    #[test]
    fn both_spellings_of_the_key_id_are_read() {
        for name in ["accessKeyId", "accessKeyID"] {
            let k = parse(&format!(
                r#"{{"{name}":"CWAAAA","secretKey":"s3cr3t-s3cr3t","principalName":"p","expiry":"2030-01-01T00:00:00Z"}}"#
            ))
            .unwrap();
            assert_eq!(k.access_key_id, "CWAAAA");
            assert_eq!(k.secret_key.expose(), "s3cr3t-s3cr3t");
            assert!(k.session_token.is_none());
            assert!(!format!("{k:?}").contains("s3cr3t-s3cr3t"));
        }
    }

    #[test]
    fn answers_without_a_usable_key_are_refused() {
        for body in [
            "{}",
            "[]",
            "nope",
            r#"{"accessKeyId":"","secretKey":"x"}"#,
            r#"{"accessKeyId":"a","secretKey":""}"#,
            r#"{"accessKeyId":"a b","secretKey":"x"}"#,
            r#"{"accessKeyId":"a","secretKey":"x\ny"}"#,
            r#"{"accessKeyId":"a","secretKey":"x","expiry":"tomorrow"}"#,
        ] {
            assert!(parse(body).is_err(), "{body}");
        }
        let e = parse(&format!(r#"{{"accessKeyId":"a","secretKey":"{TOKEN}"}}"#)).unwrap_err();
        assert!(!e.to_string().contains("tokentoken"), "{e}");
        let e = parse(&format!(
            r#"{{"accessKeyId":"a","secretKey":"xxxxxxxxxx","expiry":"{TOKEN} xxxxxxxxxx"}}"#
        ))
        .unwrap_err();
        let text = e.to_string();
        assert!(
            !text.contains("tokentoken") && !text.contains("xxxxxxxxxx"),
            "{text}"
        );
    }

    #[test]
    fn expiry_must_fit_what_was_asked() {
        let now: Timestamp = "2026-12-05T10:00:00Z".parse().unwrap();
        let key = |expiry: &str| {
            parse(&format!(
                r#"{{"accessKeyId":"a","secretKey":"x","expiry":"{expiry}"}}"#
            ))
            .unwrap()
        };
        let hour = Lifetime::Temporary(Duration::from_secs(3600));
        let ok = |k: &AccessKey, l| check_expiry(k, l, now, "u").is_ok();
        assert!(ok(&key("2026-12-05T11:00:00Z"), hour));
        // Slack: 5 minutes plus a tenth.
        assert!(ok(&key("2026-12-05T11:11:00Z"), hour));
        assert!(!ok(&key("2026-12-05T11:12:00Z"), hour));
        assert!(!ok(&key("2026-12-05T10:00:00Z"), hour));
        assert!(!ok(&key("2026-12-05T09:00:00Z"), hour));
        // The epoch is a permanent key: only when asked for.
        let permanent = key("1970-01-01T00:00:00Z");
        assert!(permanent.expiry.is_none());
        assert!(!ok(&permanent, hour));
        assert!(ok(&permanent, Lifetime::Permanent));
        assert!(!ok(&key("2026-12-05T11:00:00Z"), Lifetime::Permanent));
    }

    #[test]
    fn nothing_is_sent_for_a_bad_request() {
        let cfg = ApiConfig {
            endpoint: "http://127.0.0.1:9".into(),
            ..ApiConfig::default()
        };
        let t = Token::new(TOKEN);
        for (token, lifetime) in [
            (&Token::new(" "), Lifetime::Permanent),
            (&t, Lifetime::Temporary(Duration::ZERO)),
            (&t, Lifetime::Temporary(Duration::from_secs(43_201))),
        ] {
            let e = create_access_key(&cfg, token, lifetime).unwrap_err();
            assert!(
                matches!(e, AccessKeyError::Api(ApiError::InvalidRequest(_))),
                "{e:?}"
            );
        }
    }
}
