//! The owner's side of a mailbox: signed fetch (with long polling) and signed delete.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::App;
use super::auth;
use super::limits::Peer;
use super::reply::{ApiErr, json};
use super::routes::{failed_attempt, mailbox_hash};
use super::storage::{self, now};
use crate::wire;

/// Payload bytes in one fetch reply, past its first envelope.
const PAGE_BYTES: u64 = 4 << 20;
/// Envelopes in a fetch reply when the reader names no limit.
const DEFAULT_PAGE: u64 = 100;

/// A signed mailbox request: only the key holder gets past.
async fn signed(
    app: &App,
    peer: Peer,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    mbox: &str,
) -> Result<(), ApiErr> {
    let query = uri.query().unwrap_or("");
    match auth::verify(headers, method, uri.path(), query, mbox, now(), &app.replay) {
        Ok(()) => Ok(()),
        Err(e) => {
            if e.is_failure() {
                failed_attempt(app, peer).await;
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
        *slot = Some(
            v.parse()
                .map_err(|_| ApiErr::bad(&format!("{k} must be a whole number")))?,
        );
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

pub async fn delete(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    Path(mbox): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    let hash = mailbox_hash(&mbox)?;
    signed(&app, peer, "DELETE", &uri, &headers, &mbox).await?;
    let upto = parse_query(uri.query())?
        .upto
        .ok_or_else(|| ApiErr::bad("DELETE needs ?upto=SEQ"))?;
    let deleted = app
        .writer
        .ack(hash, upto)
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
