//! The HTTP client for relays. Speaks only `wire` types; one `Client` (one connection
//! pool) per process, shared by threads.

use std::fmt;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wire::{self, BatchReply, BatchRequest, DeleteReply, Envelope, FetchReply, PostReply};

pub mod tracker;

/// Largest answer the client reads: relays stop a page after about 4 MiB of payload, or
/// at one envelope of up to their `max_body` (at most `max_inflight_bytes`, 64 MiB by
/// default), plus the page's JSON around it. A relay cannot make the client hold more.
const MAX_REPLY_BYTES: u64 = 80 * 1024 * 1024;

/// Why a relay call failed.
#[derive(Debug, Clone)]
pub enum RelayError {
    /// No answer: connection refused, DNS, timeout.
    Unreachable(String),
    /// An answer with an error status, and the relay's error when it sent one.
    Status {
        status: u16,
        code: String,
        message: String,
        /// The relay's `Retry-After` (seconds) on a refusal it asks us to wait out.
        retry_after: Option<u64>,
    },
    /// An answer pigeon does not understand.
    Protocol(String),
}

impl RelayError {
    /// Whether it goes away by itself: no answer, busy (429) or a server error (5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            RelayError::Unreachable(_) => true,
            RelayError::Status { status, .. } => *status == 429 || *status >= 500,
            RelayError::Protocol(_) => false,
        }
    }
}

impl fmt::Display for RelayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayError::Unreachable(e) => write!(f, "unreachable: {e}"),
            RelayError::Status {
                status,
                code,
                message,
                retry_after,
            } => {
                write!(f, "HTTP {status} {code}: {message}")?;
                match retry_after {
                    Some(s) => write!(f, " (the relay asks to wait {s} s)"),
                    None => Ok(()),
                }
            }
            RelayError::Protocol(e) => write!(f, "bad answer: {e}"),
        }
    }
}

impl std::error::Error for RelayError {}

/// A connection pool to relays.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    timeout: Duration,
    /// When set, no post waits past it (on the relay, or sleeping out a `Retry-After`):
    /// what is left is the caller's to queue.
    deadline: Option<Instant>,
}

/// The longest `Retry-After` a post sleeps out, and the most it sleeps in all before
/// giving up: a relay that asks for longer (a lockout, a full quota) gets the delivery
/// left queued rather than a send that hangs for minutes without a word.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Client {
    /// `timeout` bounds each whole call; long polls add their wait to it.
    pub fn new(timeout: Duration) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("pigeon/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(16)
            // A redirect would carry a signed request, a token or a message body to
            // wherever the server names: never followed (see `raw_reply`).
            .max_redirects(0)
            .build()
            .into();
        Client {
            agent,
            timeout,
            deadline: None,
        }
    }

    /// The same pool, whose posts give up at `deadline`.
    pub fn until(&self, deadline: Instant) -> Client {
        Client {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// Posts one envelope to a mailbox; `token` is a relay password or token.
    pub fn post(
        &self,
        relay: &str,
        mailbox: &str,
        env: &Envelope,
        token: Option<&str>,
    ) -> Result<PostReply, RelayError> {
        self.post_json(&format!("{relay}/v1/mailboxes/{mailbox}"), env, token)
    }

    /// Posts many envelopes in one request.
    pub fn batch(
        &self,
        relay: &str,
        batch: &BatchRequest,
        token: Option<&str>,
    ) -> Result<BatchReply, RelayError> {
        self.post_json(&format!("{relay}/v1/batch"), batch, token)
    }

    /// Posts envelopes each to many mailboxes, every payload sent once (`/v1/fanout`).
    pub fn fanout(
        &self,
        relay: &str,
        req: &wire::FanoutRequest,
        token: Option<&str>,
    ) -> Result<wire::FanoutReply, RelayError> {
        self.post_json(&format!("{relay}/v1/fanout"), req, token)
    }

    fn post_json<B: Serialize, T: DeserializeOwned + Serialize>(
        &self,
        url: &str,
        body: &B,
        token: Option<&str>,
    ) -> Result<T, RelayError> {
        let deadline = self.deadline;
        let past =
            || RelayError::Unreachable("no answer before the outbox retry's deadline".into());
        with_backoff(deadline, || {
            let mut req = self.agent.post(url);
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(past());
                }
                req = req
                    .config()
                    .timeout_global(Some(left.min(self.timeout)))
                    .build();
            }
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            // A timeout that the deadline cut short is the deadline's doing.
            req.send_json(body).map_err(|e| match e {
                ureq::Error::Timeout(_) if deadline.is_some_and(|d| Instant::now() >= d) => past(),
                e => RelayError::Unreachable(e.to_string()),
            })
        })
    }

    /// Reads envelopes after `after`, waiting up to `wait` seconds for one to arrive.
    pub fn fetch(
        &self,
        relay: &str,
        key: &SigningKey,
        after: u64,
        limit: u32,
        wait: u64,
    ) -> Result<FetchReply, RelayError> {
        let query = format!("after={after}&limit={limit}&wait={wait}");
        let timeout = Duration::from_secs(wait + 30);
        let page: FetchReply = self.signed("GET", relay, key, &query, Some(timeout))?;
        check_page(&page, after, limit)?;
        Ok(page)
    }

    /// Acknowledges (deletes) every envelope up to and including `upto`.
    pub fn ack(&self, relay: &str, key: &SigningKey, upto: u64) -> Result<DeleteReply, RelayError> {
        self.signed("DELETE", relay, key, &format!("upto={upto}"), None)
    }

    /// A request on my mailbox, signed for this relay (see `wire::sign_request`).
    fn signed<T: DeserializeOwned + Serialize>(
        &self,
        method: &str,
        relay: &str,
        key: &SigningKey,
        query: &str,
        timeout: Option<Duration>,
    ) -> Result<T, RelayError> {
        let path = format!("/v1/mailboxes/{}", mailbox_of(key));
        let url = format!("{relay}{path}?{query}");
        let mut req = match method {
            "DELETE" => self.agent.delete(url),
            _ => self.agent.get(url),
        };
        if let Some(t) = timeout {
            req = req.config().timeout_global(Some(t)).build();
        }
        let host = wire::url_authority(relay);
        for (k, v) in wire::sign_request(key, method, host, &path, query, wire::now()) {
            req = req.header(k, v);
        }
        reply(req.call())
    }
}

/// Seqs above this are not believed: relays count from 1 and stay far below it (it is also
/// the largest integer every JSON reader keeps exactly).
pub const MAX_SEQ: u64 = (1 << 53) - 1;

/// A page is believed only if its seqs are what we asked for: strictly increasing, after
/// `after`, at most `limit` of them, and below [`MAX_SEQ`]. `recv` acknowledges the highest
/// seq it received, so a relay that invents a huge seq must not get it signed.
fn check_page(page: &FetchReply, after: u64, limit: u32) -> Result<(), RelayError> {
    if page.envelopes.len() > limit as usize {
        return Err(RelayError::Protocol(format!(
            "the relay sent {} envelopes, more than the {limit} asked for",
            page.envelopes.len()
        )));
    }
    let mut prev = after;
    for e in &page.envelopes {
        if e.seq <= prev || e.seq > MAX_SEQ {
            return Err(RelayError::Protocol(format!(
                "the relay sent seq {} after {prev} (seqs must increase and stay below 2^53); \
                 nothing of this page was acknowledged",
                e.seq
            )));
        }
        prev = e.seq;
    }
    Ok(())
}

fn mailbox_of(key: &SigningKey) -> String {
    wire::mailbox_id(key.verifying_key().as_bytes())
}

/// Posting is idempotent (relays store the same id and bytes once), so a post that met a rate
/// limit or a busy relay is tried again after the delay the relay asked for, when that
/// delay is short ([`MAX_RETRY_AFTER`], [`MAX_BACKOFF`] in all, never past `deadline`);
/// else the refusal is returned with its `Retry-After`, for the delivery to wait queued.
fn with_backoff<T: DeserializeOwned + Serialize>(
    deadline: Option<Instant>,
    send: impl Fn() -> Result<ureq::http::Response<ureq::Body>, RelayError>,
) -> Result<T, RelayError> {
    const ATTEMPTS: u32 = 6;
    let mut slept = Duration::ZERO;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let resp = send()?;
        if matches!(resp.status().as_u16(), 429 | 503) && attempt < ATTEMPTS {
            let wait = retry_after(&resp).unwrap_or(Duration::from_secs(1));
            let wait = wait.max(Duration::from_millis(50));
            let in_time = deadline.is_none_or(|d| Instant::now() + wait < d);
            if wait <= MAX_RETRY_AFTER && slept + wait <= MAX_BACKOFF && in_time {
                std::thread::sleep(wait);
                slept += wait;
                continue;
            }
        }
        return reply(Ok(resp));
    }
}

/// The `Retry-After` of an answer, in (possibly fractional) seconds.
fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let secs = resp
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)))
}

fn reply<T: DeserializeOwned + Serialize>(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<T, RelayError> {
    let body = raw_reply(result, MAX_REPLY_BYTES)?;
    serde_json::from_slice(&body).map_err(|e| RelayError::Protocol(e.to_string()))
}

/// The body of a 2xx answer (at most `limit` bytes), else the error the server sent.
fn raw_reply(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    limit: u64,
) -> Result<Vec<u8>, RelayError> {
    let mut resp = result.map_err(|e| RelayError::Unreachable(e.to_string()))?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        let to = resp
            .headers()
            .get("location")
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .chars()
                    .take(200)
                    .collect()
            })
            .unwrap_or_else(|| "nowhere".to_string());
        return Err(RelayError::Status {
            status,
            code: "redirect".into(),
            retry_after: None,
            message: crate::output::one_line(&format!(
                "it redirects to {to}; pigeon follows no redirect (use that URL instead if \
                 you trust it)"
            )),
        });
    }
    let wait = retry_after(&resp).map(|d| d.as_secs_f64().ceil() as u64);
    let body = resp
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let (code, message): (String, String) = match serde_json::from_slice::<wire::ErrorReply>(&body)
    {
        Ok(e) => (
            e.error.code.chars().take(64).collect(),
            e.error.message.chars().take(500).collect(),
        ),
        Err(_) => (
            "http".into(),
            String::from_utf8_lossy(&body).chars().take(200).collect(),
        ),
    };
    Err(RelayError::Status {
        status,
        code: crate::output::one_line(&code),
        message: crate::output::one_line(&message),
        retry_after: wait,
    })
}
