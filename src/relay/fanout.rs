//! `POST /v1/fanout`: one envelope for many mailboxes. The payload is decoded and digested
//! once and stored once (the writer's `payloads` table); quotas, the rate limit and the
//! answers are those of `/v1/batch` with one item per mailbox, so a sender gets no room
//! or requests for free by fanning out.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::App;
use super::limits::Peer;
use super::reply::{ApiErr, json, read_body};
use super::routes::{ITEMS_PER_TOKEN, admit, decode_envelope, mailbox_hash, store};
use crate::wire::{self, BatchResult, FanoutReply, FanoutRequest};
use rusqlite::Connection;

/// The endpoint, unless the operator turned it off (`fanout = false` in `[serve]`): then
/// the relay answers it 404 like one that predates it, and clients send batches.
pub(super) fn routes(on: bool) -> axum::Router<Arc<App>> {
    let r = axum::Router::new();
    if on {
        r.route("/v1/fanout", axum::routing::post(fanout))
    } else {
        r
    }
}

async fn fanout(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiErr> {
    admit(&app, peer, &headers).await?;
    let (bytes, _held) = read_body(&app, &headers, body).await?;
    let req: FanoutRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiErr::bad(&format!("bad fanout JSON: {e}")))?;
    ApiErr::check_version("fanout", req.v)?;
    let deliveries: u64 = req.items.iter().map(|i| i.mailboxes.len() as u64).sum();
    if deliveries > app.cfg.max_batch {
        return Err(ApiErr::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!(
                "a fanout holds at most {} mailboxes in all",
                app.cfg.max_batch
            ),
        ));
    }
    let cost = deliveries.div_ceil(ITEMS_PER_TOKEN);
    app.rate
        .charge(peer, cost.saturating_sub(1), Instant::now());
    let shape: Vec<usize> = req.items.iter().map(|i| i.mailboxes.len()).collect();
    let mut results: Vec<Option<BatchResult>> = Vec::with_capacity(deliveries as usize);
    let mut decoded = Vec::with_capacity(deliveries as usize);
    for item in req.items {
        let hashes: Vec<Result<[u8; 32], ApiErr>> =
            item.mailboxes.iter().map(|m| mailbox_hash(m)).collect();
        // Decoded once for all its mailboxes; the first valid mailbox stands in for them.
        let Some(first) = hashes.iter().find_map(|h| h.as_ref().ok().copied()) else {
            results.extend(
                hashes
                    .into_iter()
                    .map(|h| h.err().map(|e| e.as_batch_result())),
            );
            continue;
        };
        match decode_envelope(&app, first, item.envelope) {
            Ok(env) => {
                let ok: Vec<[u8; 32]> = hashes
                    .iter()
                    .filter_map(|h| h.as_ref().ok().copied())
                    .collect();
                if ok.len() > 1 {
                    decoded.extend(env.to_mailboxes(&ok));
                } else {
                    // One mailbox: inline, as a batch item would be.
                    decoded.push(env);
                }
                results.extend(
                    hashes
                        .into_iter()
                        .map(|h| h.err().map(|e| e.as_batch_result())),
                );
            }
            Err(e) => {
                let r = e.as_batch_result();
                results.extend(hashes.iter().map(|_| Some(r.clone())));
            }
        }
    }
    let mut flat = store(&app, peer, results, decoded).await?.into_iter();
    let results = shape
        .into_iter()
        .map(|n| flat.by_ref().take(n).collect())
        .collect();
    Ok(json(
        StatusCode::OK,
        &FanoutReply {
            v: wire::V,
            results,
        },
    ))
}

/// `/metrics` lines for the shared payloads: how many are stored, and their bytes once.
pub(super) async fn metrics(app: &App) -> String {
    match app.readers.run(shared_payloads).await {
        Ok((rows, bytes)) => format!(
            "# HELP pigeon_shared_payloads Fan-out payloads stored, each once.\n\
             # TYPE pigeon_shared_payloads gauge\npigeon_shared_payloads {rows}\n\
             # HELP pigeon_shared_payload_bytes Bytes of fan-out payloads, each counted once.\n\
             # TYPE pigeon_shared_payload_bytes gauge\npigeon_shared_payload_bytes {bytes}\n"
        ),
        Err(_) => String::new(),
    }
}

/// Shared payloads stored (rows and bytes), each once however many mailboxes name it.
fn shared_payloads(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    conn.query_row(
        "SELECT count(*), coalesce(sum(size), 0) FROM payloads",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
}
