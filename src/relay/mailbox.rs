//! The owner's side of a mailbox: signed fetch (with long polling) and signed delete.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::App;
use super::admission::Gate;
use super::auth;
use super::limits::Peer;
use super::reply::{ApiErr, json};
use super::routes::mailbox_hash;
use super::storage::{self, now};
use crate::wire;

/// Payload bytes in one fetch reply, past its first envelope.
const PAGE_BYTES: u64 = 4 << 20;
/// Envelopes in a fetch reply when the reader names no limit.
const DEFAULT_PAGE: u64 = 100;

/// A signed mailbox request: only the key holder gets past. Returns the signed time.
///
/// The path must be exactly `/v1/mailboxes/<mbox>` as sent (no percent-encoding, no extra
/// slashes): the signature covers the path as sent and the router reads it decoded, so the
/// two readings must be the same text.
async fn signed(
    app: &App,
    peer: Peer,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    mbox: &str,
) -> Result<u64, ApiErr> {
    if uri.path() != format!("/v1/mailboxes/{mbox}") {
        return Err(ApiErr::bad(
            "the path must be /v1/mailboxes/<64 lowercase hex digits>, not percent-encoded",
        ));
    }
    check_signed(app, peer, method, uri, headers, mbox, false).await
}

/// The checks of a signed request for the owner of `mbox`, whatever the path (the tracker's
/// release uses them too): one Host, no lockout of the (source, key) pair, a good signature
/// naming this server. A bad signature counts towards the pair's lockout, and so does a good
/// one by another key when `wrong_key_counts` (where the key is the only thing to guess).
pub async fn check_signed(
    app: &App,
    peer: Peer,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    mbox: &str,
    wrong_key_counts: bool,
) -> Result<u64, ApiErr> {
    // The signed host is the one Host header; a second one, or an absolute request target
    // naming another authority, is a host that a proxy could route by instead.
    let mut hosts = headers.get_all(axum::http::header::HOST).iter();
    let host = hosts.next().and_then(|h| h.to_str().ok());
    let target_differs = uri
        .authority()
        .is_some_and(|a| host.is_none_or(|h| !a.as_str().eq_ignore_ascii_case(h)));
    if hosts.next().is_some() || target_differs {
        return Err(ApiErr::bad(
            "a signed request has exactly one Host header, and a request target naming no other host",
        ));
    }
    let key = auth::claimed_key(headers);
    if let Some(k) = &key
        && let Err(Gate::Locked(secs)) = app.admission.key_gate(peer, k, Instant::now())
    {
        return Err(ApiErr::new(
            StatusCode::TOO_MANY_REQUESTS,
            "locked_out",
            &format!("too many bad signatures with this key; locked out for {secs} s"),
        )
        .retry_after(secs));
    }
    let req = auth::Signed {
        headers,
        method,
        path: uri.path(),
        query: uri.query().unwrap_or(""),
    };
    match auth::verify(&req, mbox, &app.names, now(), &app.replay) {
        Ok(t) => Ok(t),
        Err(e) => {
            if (e.is_failure() || wrong_key_counts && e == auth::AuthError::WrongKey)
                && let Some(k) = &key
                && app.admission.key_failure(peer, k, Instant::now())
            {
                app.metrics.lockouts.inc();
            }
            Err(ApiErr::new(
                StatusCode::UNAUTHORIZED,
                e.code(),
                &e.message(),
            ))
        }
    }
}

/// `after`, `limit`, `wait` and `upto` from a raw query string.
#[derive(Debug, Default)]
struct Query {
    after: Option<u64>,
    limit: Option<u64>,
    wait: Option<u64>,
    upto: Option<u64>,
}

/// Strict, so that no reader of the signed query can see other values than the relay does:
/// each key at most once, values plain decimal digits (no `+`, no percent-encoding).
fn parse_query(q: Option<&str>) -> Result<Query, ApiErr> {
    let mut out = Query::default();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match k {
            "after" => &mut out.after,
            "limit" => &mut out.limit,
            "wait" => &mut out.wait,
            "upto" => &mut out.upto,
            _ => continue,
        };
        if slot.is_some() {
            return Err(ApiErr::bad(&format!("{k} is given twice")));
        }
        let n = Some(v)
            .filter(|v| !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ApiErr::bad(&format!("{k} must be a whole number")))?;
        *slot = Some(n);
    }
    Ok(out)
}

pub async fn fetch(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    Path(mbox): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    let hash = mailbox_hash(&mbox)?;
    signed(&app, peer, "GET", &uri, &headers, &mbox).await?;
    let q = parse_query(uri.query())?;
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, app.cfg.max_page);
    let wait = q.wait.unwrap_or(0).min(app.cfg.max_wait);
    let read = || {
        let readers = app.readers.clone();
        async move {
            readers
                .run(move |c| storage::fetch(c, &hash, after, limit, PAGE_BYTES, now()))
                .await
                .map_err(|e| {
                    ApiErr::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        &format!("{e:#}"),
                    )
                })
        }
    };
    let (rows, more) = if wait == 0 {
        read().await?
    } else {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
        let guard = app.waiters.register(hash);
        let _counted = LongPoll::new(&app);
        let mut stop = app.shutdown.clone();
        loop {
            // Armed before reading, so a commit between the read and the wait still wakes us.
            let mut woken = std::pin::pin!(guard.notify.notified());
            woken.as_mut().enable();
            let page = read().await?;
            if !page.0.is_empty() || tokio::time::Instant::now() >= deadline || *stop.borrow() {
                break page;
            }
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep_until(deadline) => {}
                _ = stop.changed() => {}
            }
        }
    };
    let envelopes = rows
        .into_iter()
        .map(|r| wire::StoredEnvelope {
            seq: r.seq,
            id: hex::encode(&r.id),
            payload: B64.encode(&r.payload),
            received: r.received,
            expires: r.expires,
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &wire::FetchReply {
            v: wire::V,
            envelopes,
            more,
            instance: Some(app.instance.clone()),
        },
    ))
}

/// Counts a waiting long poll in `/metrics` while it lives (a dropped connection drops it).
struct LongPoll<'a>(&'a App);

impl<'a> LongPoll<'a> {
    fn new(app: &'a App) -> LongPoll<'a> {
        app.metrics.long_polls.inc();
        LongPoll(app)
    }
}

impl Drop for LongPoll<'_> {
    fn drop(&mut self) {
        self.0.metrics.long_polls.sub(1);
    }
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    Path(mbox): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    let hash = mailbox_hash(&mbox)?;
    let signed_at = signed(&app, peer, "DELETE", &uri, &headers, &mbox).await?;
    let upto = parse_query(uri.query())?
        .upto
        .ok_or_else(|| ApiErr::bad("DELETE needs ?upto=SEQ"))?;
    // Only what had arrived when the owner signed: a delete replayed later (after a
    // restart emptied the replay cache, say) or an `upto` inflated by a lying relay cannot
    // reach envelopes that came after.
    let deleted = app
        .writer
        .ack(hash, upto, signed_at)
        .await
        .map_err(ApiErr::unavailable)?;
    Ok(json(
        StatusCode::OK,
        &wire::DeleteReply {
            v: wire::V,
            deleted,
        },
    ))
}
