//! The network layer every check runs on (`token show --check`, `token list --check`,
//! `token rotate --verify api|cluster`, `--mint`), shared by the CoreWeave API calls
//! (`coreweave/`) and the cluster check (`cluster/`): a `tokio` current-thread runtime per
//! check, built only when one is made ([`block_on`]; never from inside a task of it);
//! bounded concurrency ([`all_bounded`]); shared deadlines ([`Deadline`]); [`redact`] for
//! server text and answers read to at most [`MAX_BODY`] bytes ([`read_capped`]); proxies
//! as Go and client-go take them ([`proxy`]); connections and what a failure was
//! ([`connect`]). Nothing here prints.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::secret::Token;

pub mod connect;
pub mod proxy;

pub use proxy::ProxyEnv;

/// Largest answer body read, from CoreWeave and from a cluster alike: the documented
/// answers are a few hundred bytes, and an endless answer must not take the memory of the
/// machine.
pub const MAX_BODY: usize = 1 << 20;

/// Longest server message kept in an error, in characters: enough for a Connect error's
/// sentence or a Status message, short of an HTML error page.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// A total time limit shared by several calls: when it is reached the call in flight is
/// dropped and fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: Instant,
    /// The limit as the user gave it, for messages.
    pub limit: Duration,
}

impl Deadline {
    /// `limit` from now; a limit too large for the clock is a century.
    pub fn after(limit: Duration) -> Deadline {
        let now = Instant::now();
        Deadline {
            at: now
                .checked_add(limit)
                .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400)),
            limit,
        }
    }
}

/// What fails in the network layer before any request is made. Its text carries the
/// cause (callers copy it into one error per target), so the cause is not also a source.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NetError {
    /// No runtime could be built (no event loop: out of file descriptors).
    #[error("cannot start the network runtime: {0}")]
    Runtime(std::sync::Arc<std::io::Error>),
}

/// Runs `f` to completion on a `tokio` current-thread runtime built for it, then drops
/// the runtime. A command makes its calls inside one such run where they belong together
/// (`list --check`'s whoami calls, the cluster check's reviews), so building it is paid
/// once per check, and only by a command that makes one. Dropping the runtime on return
/// ends every task and connection it holds: a try that timed out is closed at once, not
/// left open until the process exits (a kept runtime would not run its tasks again, so
/// they would stay half-done). Fails only when the runtime cannot be built (no event
/// loop: out of file descriptors).
pub fn block_on<F: Future>(f: F) -> Result<F::Output, NetError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| NetError::Runtime(std::sync::Arc::new(e)))?;
    Ok(rt.block_on(f))
}

/// Runs `jobs` as tokio tasks, at most `limit` at once, and waits for them until
/// `deadline`. Returns each job's output in the jobs' order; `None` for a job that had
/// not finished by the deadline (it is aborted) or that panicked. Call it inside
/// [`block_on`].
pub async fn all_bounded<T, F>(
    jobs: Vec<F>,
    limit: usize,
    deadline: Option<Deadline>,
) -> Vec<Option<T>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut results: Vec<Option<T>> = (0..jobs.len()).map(|_| None).collect();
    let mut set = tokio::task::JoinSet::new();
    let mut pending = jobs.into_iter().enumerate();
    let mut more = true;
    loop {
        while more && set.len() < limit.max(1) {
            match pending.next() {
                Some((i, job)) => {
                    set.spawn(async move { (i, job.await) });
                }
                None => more = false,
            }
        }
        if set.is_empty() {
            break;
        }
        let next = match deadline {
            Some(d) => match tokio::time::timeout_at(d.at.into(), set.join_next()).await {
                Ok(next) => next,
                // Dropping the set aborts the jobs still running.
                Err(_) => break,
            },
            None => set.join_next().await,
        };
        if let Some(Ok((i, out))) = next {
            results[i] = Some(out);
        }
    }
    results
}

/// How a body read with [`read_capped`] ended.
pub enum Capped {
    Whole(Vec<u8>),
    /// Longer than the cap: reading stopped there; what was read, cut at the cap.
    Over(Vec<u8>),
}

/// Reads `body` to its end or to `cap` bytes, whichever comes first.
pub async fn read_capped<B>(mut body: B, cap: usize) -> Result<Capped, B::Error>
where
    B: http_body::Body + Unpin,
{
    use bytes::Buf as _;
    use http_body_util::BodyExt as _;
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(mut data) = frame?.into_data() {
            while data.has_remaining() {
                let chunk = data.chunk();
                if read.len() + chunk.len() > cap {
                    let room = cap - read.len();
                    read.extend_from_slice(&chunk[..room]);
                    return Ok(Capped::Over(read));
                }
                read.extend_from_slice(chunk);
                let n = chunk.len();
                data.advance(n);
            }
        }
    }
    Ok(Capped::Whole(read))
}

/// The one gate for text a server chose (a Connect `code` or `message`, a Kubernetes
/// Status `reason`/`message`/`details`, a whoami uid, an HTML error page), before it goes
/// into anything shown: every secret of the request (`secrets`: the bearer just sent) and
/// every `CW-SECRET-…` masked as [`Token::masked`] masks it, control characters escaped
/// (a server must not recolour the terminal or forge a line), at most
/// [`MAX_MESSAGE_CHARS`] characters kept.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let mut s = text.to_string();
    for secret in secrets {
        // Shorter fragments are as likely to be ordinary words as secrets; the mask is
        // made only for a secret that is there.
        if secret.chars().count() >= 8 && s.contains(secret) {
            s = s.replace(secret, &Token::new(*secret).masked());
        }
    }
    s = crate::secret::mask_coreweave_tokens(&s);
    let s = crate::secret::escape_controls(&s);
    if s.chars().count() > MAX_MESSAGE_CHARS {
        s.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…"
    } else {
        s.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_jobs_keep_their_order_and_stop_at_the_deadline() {
        let out = block_on(async {
            let jobs: Vec<_> = (0..5u64)
                .map(|i| async move {
                    tokio::time::sleep(Duration::from_millis(50 - i * 10)).await;
                    i
                })
                .collect();
            all_bounded(jobs, 2, None).await
        })
        .unwrap();
        assert_eq!(out, [Some(0), Some(1), Some(2), Some(3), Some(4)]);
        let out = block_on(async {
            let jobs: Vec<std::pin::Pin<Box<dyn Future<Output = u8> + Send>>> = vec![
                Box::pin(async { 1 }),
                Box::pin(async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    2
                }),
            ];
            all_bounded(jobs, 2, Some(Deadline::after(Duration::from_millis(100)))).await
        })
        .unwrap();
        assert_eq!(out, [Some(1), None]);
    }
}
