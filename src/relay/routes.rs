//! The HTTP API (v1), one handler per route. Every refusal is a `wire::ErrorReply` with a
//! stable `code`; see `docs/protocol.md`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::App;
use super::admission::{Credential, Escalation, Gate};
use super::limits::Peer;
use super::mailbox;
use super::ops::stored_size;
use super::reply::{ApiErr, json, read_body};
use super::storage;
use super::writer::{NewEnvelope, PostOutcome};
use crate::wire::{self, BatchReply, BatchRequest, BatchResult, Envelope, PostReply};

pub fn router(app: Arc<App>) -> Router {
    let common = Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiErr::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiErr::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "bad_request",
                "method not allowed here",
            )
        });
    if !app.cfg.mailboxes {
        // A tracker alone: what is mounted beside brings its own /v1/info.
        return common.with_state(app);
    }
    let fanout = app.cfg.fanout;
    super::web::routes(app.cfg.web)
        .merge(super::fanout::routes(fanout))
        .merge(common)
        .route(
            "/v1/mailboxes/{mbox}",
            post(post_envelope)
                .get(mailbox::fetch)
                .delete(mailbox::delete),
        )
        .route("/v1/batch", post(batch))
        .route("/v1/info", get(info))
        .with_state(app)
}

/// The route name for metrics.
pub fn route_name(method: &axum::http::Method, path: &str) -> &'static str {
    use axum::http::Method;
    match (method, path) {
        (&Method::POST, "/v1/batch") => "batch",
        (&Method::POST, "/v1/fanout") => "fanout",
        (_, "/v1/info") => "info",
        (_, "/healthz") => "health",
        (_, "/metrics") => "metrics",
        (m, p) if p.starts_with("/v1/mailboxes/") => match *m {
            Method::POST => "post",
            Method::GET => "fetch",
            Method::DELETE => "delete",
            _ => "other",
        },
        (m, p) if p.starts_with("/v1/cards") => match *m {
            Method::PUT => "card_put",
            _ => "card_get",
        },
        (_, p) if p.starts_with("/v1/names/") => "names",
        (_, "/v1/relays") => "relays",
        _ => "other",
    }
}

pub(super) fn mailbox_hash(mbox: &str) -> Result<[u8; 32], ApiErr> {
    let mut h = [0u8; 32];
    if !wire::is_mailbox_id(mbox) || hex::decode_to_slice(mbox, &mut h).is_err() {
        return Err(ApiErr::bad("a mailbox id is 64 lowercase hex digits"));
    }
    Ok(h)
}

/// Batch items per rate-limit token. An item costs the relay about a third of a single post
/// (one request parsed, one transaction shared), so this is generous to clients that batch
/// (pigeon sends 100 at a time) while a batch of 1000 still counts as 50 requests, not 1.
pub(super) const ITEMS_PER_TOKEN: u64 = 20;

/// Acts on what a counted failure led to: a lockout is counted, a block is stored.
pub(crate) async fn escalate(app: &App, peer: Peer, esc: Escalation) {
    match esc {
        Escalation::None => {}
        Escalation::Lockout => {
            app.metrics.lockouts.inc();
            // Recorded so the operator can list and lift it from outside.
            if let Some((until, count)) = app.admission.lockout_of(peer, Instant::now()) {
                match app.writer.lockout(peer.to_string(), until, count).await {
                    Ok(()) => app.admission.lockout_recorded(peer),
                    Err(e) => eprintln!("pigeon relay: cannot record the lockout of {peer}: {e}"),
                }
            }
        }
        Escalation::Block => match app.writer.block(peer.to_string()).await {
            Ok(()) => {
                app.metrics.blocks.inc();
                app.admission.blocked_now(peer);
            }
            Err(e) => eprintln!("pigeon relay: cannot record the block of {peer}: {e}"),
        },
    }
}

/// Posting admission: password or token, when the relay asks for one.
pub(crate) async fn admit(app: &App, peer: Peer, headers: &HeaderMap) -> Result<(), ApiErr> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let unauthorized =
        |msg: &str| ApiErr::new(StatusCode::UNAUTHORIZED, "unauthorized", msg).bearer();
    let checked = app.admission.check_post_from(peer, bearer, Instant::now());
    let cred = match checked {
        Ok((cred, esc)) => {
            escalate(app, peer, esc).await;
            cred
        }
        Err(Gate::Locked(secs)) => {
            return Err(ApiErr::new(
                StatusCode::TOO_MANY_REQUESTS,
                "locked_out",
                &format!("too many failed attempts; locked out for {secs} s"),
            )
            .retry_after(secs));
        }
        Err(Gate::Blocked) => {
            return Err(ApiErr::new(
                StatusCode::FORBIDDEN,
                "blocked",
                "this address is blocked; ask the relay's operator",
            ));
        }
    };
    match cred {
        Credential::Ok => Ok(()),
        Credential::Missing => Err(unauthorized(
            "this relay needs a password or token to post: Authorization: Bearer …",
        )),
        Credential::Expired => Err(unauthorized("the token has expired")),
        Credential::Revoked => Err(unauthorized(
            "the relay's operator revoked this token; ask them for a new one",
        )),
        Credential::Bad => Err(unauthorized("wrong password or token")),
    }
}

pub(super) fn decode_envelope(
    app: &App,
    mbox: [u8; 32],
    e: Envelope,
) -> Result<NewEnvelope, ApiErr> {
    ApiErr::check_version("envelope", e.v)?;
    let mut id = [0u8; 16];
    if !wire::is_message_id(&e.id) || hex::decode_to_slice(&e.id, &mut id).is_err() {
        return Err(ApiErr::bad("an envelope id is 32 lowercase hex digits"));
    }
    let payload = B64
        .decode(e.payload.as_bytes())
        .map_err(|_| ApiErr::bad("the payload is not standard base64"))?;
    if payload.is_empty() {
        // Nothing to deliver, yet a row and its quota: refused.
        return Err(ApiErr::bad("the payload is empty"));
    }
    let ttl = e
        .ttl
        .unwrap_or(app.cfg.default_ttl)
        .clamp(1, app.cfg.max_ttl);
    Ok(NewEnvelope::new(mbox, id, ttl, payload))
}

/// The HTTP answer one post outcome would have.
fn outcome(app: &App, o: &PostOutcome) -> Result<(StatusCode, u64, bool), ApiErr> {
    match o {
        PostOutcome::Stored(seq) => Ok((StatusCode::CREATED, *seq, false)),
        PostOutcome::Duplicate(seq) => {
            app.metrics.duplicates.inc();
            Ok((StatusCode::OK, *seq, true))
        }
        PostOutcome::MailboxFull(which) => Err(ApiErr::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "quota",
            &match *which {
                "envelopes" => format!(
                    "the mailbox holds its maximum of {} envelopes",
                    app.cfg.max_envelopes
                ),
                _ => format!(
                    "the mailbox holds its maximum of {} bytes",
                    app.cfg.max_mailbox_bytes
                ),
            },
        )),
        PostOutcome::DiskFull => Err(ApiErr::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "disk_full",
            "the relay's disk is full; nothing was stored, try again later",
        )
        .retry_after(60)),
        PostOutcome::RelayFull => Err(ApiErr::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "relay_full",
            "the relay has no room left",
        )),
        PostOutcome::Failed(msg) => Err(ApiErr::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            msg,
        )),
    }
}

/// Counts the items against the source's hourly cap, in order; an item over it gets its
/// refusal in place. Returns the items to store and, per item, `None` or its refusal.
fn source_quota(
    app: &App,
    peer: Peer,
    items: Vec<NewEnvelope>,
) -> (Vec<NewEnvelope>, Vec<Option<ApiErr>>) {
    let now = Instant::now();
    let mut keep = Vec::with_capacity(items.len());
    let mut verdicts = Vec::with_capacity(items.len());
    for item in items {
        match app
            .per_source
            .take(peer, stored_size(item.payload.len()), now)
        {
            Ok(()) => {
                keep.push(item);
                verdicts.push(None);
            }
            Err(secs) => verdicts.push(Some(over_source_quota(app, secs))),
        }
    }
    (keep, verdicts)
}

fn over_source_quota(app: &App, secs: u64) -> ApiErr {
    ApiErr::new(
        StatusCode::TOO_MANY_REQUESTS,
        "source_quota",
        &format!(
            "this address has stored its maximum of {} bytes this hour",
            app.cfg.max_bytes_per_source_hour
        ),
    )
    .retry_after(secs)
}

/// Gives back the hourly quota of items that were not stored.
fn refund(app: &App, peer: Peer, sizes: &[u64], outs: &[PostOutcome]) {
    let unused: u64 = sizes
        .iter()
        .zip(outs)
        .filter(|(_, o)| !matches!(o, PostOutcome::Stored(_)))
        .map(|(s, _)| *s)
        .sum();
    app.per_source.give_back(peer, unused);
}

async fn post_envelope(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    Path(mbox): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiErr> {
    let hash = mailbox_hash(&mbox)?;
    admit(&app, peer, &headers).await?;
    let (bytes, _held) = read_body(&app, &headers, body).await?;
    let env: Envelope = serde_json::from_slice(&bytes)
        .map_err(|e| ApiErr::bad(&format!("bad envelope JSON: {e}")))?;
    let item = decode_envelope(&app, hash, env)?;
    let size = stored_size(item.payload.len());
    app.per_source
        .take(peer, size, Instant::now())
        .map_err(|secs| over_source_quota(&app, secs))?;
    let outs = app
        .writer
        .post(vec![item])
        .await
        .map_err(ApiErr::unavailable)?;
    refund(&app, peer, &[size], &outs);
    let (status, seq, duplicate) = outcome(&app, &outs[0])?;
    Ok(json(
        status,
        &PostReply {
            v: wire::V,
            seq,
            duplicate,
        },
    ))
}

async fn batch(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiErr> {
    admit(&app, peer, &headers).await?;
    let (bytes, _held) = read_body(&app, &headers, body).await?;
    let req: BatchRequest =
        serde_json::from_slice(&bytes).map_err(|e| ApiErr::bad(&format!("bad batch JSON: {e}")))?;
    ApiErr::check_version("batch", req.v)?;
    if req.items.len() as u64 > app.cfg.max_batch {
        return Err(ApiErr::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("a batch holds at most {} items", app.cfg.max_batch),
        ));
    }
    // The request itself took one token; the batch costs one per ITEMS_PER_TOKEN items.
    let cost = (req.items.len() as u64).div_ceil(ITEMS_PER_TOKEN);
    app.rate
        .charge(peer, cost.saturating_sub(1), Instant::now());
    let mut results: Vec<Option<BatchResult>> = Vec::with_capacity(req.items.len());
    let mut decoded = Vec::new();
    for item in req.items {
        match mailbox_hash(&item.mailbox).and_then(|h| decode_envelope(&app, h, item.envelope)) {
            Ok(e) => {
                decoded.push(e);
                results.push(None);
            }
            Err(e) => results.push(Some(e.as_batch_result())),
        }
    }
    let results = store(&app, peer, results, decoded).await?;
    Ok(json(
        StatusCode::OK,
        &BatchReply {
            v: wire::V,
            results,
        },
    ))
}

async fn info(State(app): State<Arc<App>>) -> Response {
    let c = &app.cfg;
    json(
        StatusCode::OK,
        &wire::RelayInfo {
            v: wire::V,
            name: c.name.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            admission: c.admission().into(),
            tracker: c.tracker.is_some(),
            limits: wire::RelayLimits {
                max_body_bytes: c.max_body,
                max_envelopes_per_mailbox: c.max_envelopes,
                max_bytes_per_mailbox: c.max_mailbox_bytes,
                max_ttl_secs: c.max_ttl,
                default_ttl_secs: c.default_ttl,
                max_wait_secs: c.max_wait,
                max_page: c.max_page,
            },
        },
    )
}

async fn health() -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({"v": wire::V, "status": "ok"}),
    )
}

async fn metrics(State(app): State<Arc<App>>, Extension(peer): Extension<Peer>) -> Response {
    use crate::cli::MetricsAccess;
    match app.cfg.metrics {
        MetricsAccess::Open => {}
        MetricsAccess::Local if peer.is_loopback() => {}
        MetricsAccess::Local => {
            return ApiErr::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this server's metrics are for local scrapers only (--metrics local)",
            )
            .into_response();
        }
        MetricsAccess::Off => {
            return ApiErr::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
                .into_response();
        }
    }
    let stored = app.readers.run(storage::totals).await.ok();
    let mut text = app.metrics.render(stored);
    text.push_str(&super::fanout::metrics(&app).await);
    if let Some(more) = app.extra_metrics.get() {
        text.push_str(&more());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Stores the decoded items (source quota, one writer round) and fills the `None` places
/// of `results` with their outcomes, in order. Shared by `/v1/batch` and `/v1/fanout`.
pub(super) async fn store(
    app: &App,
    peer: Peer,
    mut results: Vec<Option<BatchResult>>,
    decoded: Vec<NewEnvelope>,
) -> Result<Vec<BatchResult>, ApiErr> {
    let (valid, verdicts) = source_quota(app, peer, decoded);
    let mut verdicts = verdicts.into_iter();
    for r in results.iter_mut().filter(|r| r.is_none()) {
        if let Some(Some(e)) = verdicts.next() {
            app.metrics.reject(e.code);
            *r = Some(e.as_batch_result());
        }
    }
    let sizes: Vec<u64> = valid.iter().map(|i| stored_size(i.payload.len())).collect();
    let outs = if valid.is_empty() {
        Vec::new()
    } else {
        app.writer.post(valid).await.map_err(ApiErr::unavailable)?
    };
    refund(app, peer, &sizes, &outs);
    let mut outs = outs.iter();
    Ok(results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| match outs.next().map(|o| outcome(app, o)) {
                Some(Ok((status, seq, _))) => BatchResult {
                    status: status.as_u16(),
                    seq: Some(seq),
                    error: None,
                },
                Some(Err(e)) => {
                    app.metrics.reject(e.code);
                    e.as_batch_result()
                }
                None => ApiErr::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "lost")
                    .as_batch_result(),
            })
        })
        .collect())
}
