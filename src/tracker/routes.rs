//! The tracker's HTTP API (v1). Refusals are the relay's `{"error":{"code","message"}}`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Tracker;
use super::accept::{accept_async, listable};
use super::store::{self, name_key};
use super::writer::{NewCard, StoreOutcome};
use crate::relay::App;
use crate::relay::admission::Gate;
use crate::relay::limits::Peer;
use crate::relay::mailbox::check_signed;
use crate::relay::reply::{ApiErr, json, read_body};
use crate::relay::routes::admit;
use crate::wire;

/// Cards in one `GET /v1/cards` page when the client names no limit, and at most.
const DEFAULT_PAGE: u64 = 100;
const MAX_PAGE: u64 = 1000;

#[derive(Clone)]
struct S {
    app: Arc<App>,
    t: Arc<Tracker>,
}

pub fn router(app: Arc<App>, t: Arc<Tracker>) -> Router {
    let alone = t.alone;
    let r = Router::new()
        .route("/v1/cards", get(list))
        .route("/v1/cards/{fp}", get(get_card).put(put_card))
        .route("/v1/names/{name}", get(get_name).delete(release))
        .route("/v1/relays", get(relays).post(announce));
    let r = if alone {
        r.route("/v1/info", get(info))
    } else {
        r
    };
    r.with_state(S { app, t })
}

fn card_reply(bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

fn not_found(what: &str) -> ApiErr {
    ApiErr::new(StatusCode::NOT_FOUND, "not_found", what)
}

fn unavailable(e: anyhow::Error) -> ApiErr {
    ApiErr::unavailable(format!("{e:#}"))
}

/// Stores a checked card and pushes it to the peers when it is new here.
pub async fn publish(t: &Tracker, card: NewCard) -> StoreOutcome {
    let push = t
        .push
        .clone()
        .map(|p| (p, card.fp.clone(), card.bytes.clone()));
    let out = t.writer.store(card).await;
    match &out {
        StoreOutcome::Stored(_) => {
            t.metrics.stored.inc();
            if let Some((p, fp, bytes)) = push {
                let _ = p.try_send((fp, bytes));
            }
        }
        StoreOutcome::Same(_) => t.metrics.same.inc(),
        _ => t.metrics.refused.inc(),
    }
    out
}

fn over_source_quota(t: &Tracker, secs: u64) -> ApiErr {
    ApiErr::new(
        StatusCode::TOO_MANY_REQUESTS,
        "source_quota",
        &format!(
            "this address has published its maximum of {} bytes of cards this hour; \
             try again in {secs} s",
            t.cfg.max_bytes_per_source_hour
        ),
    )
    .retry_after(secs)
}

/// A locked-out or blocked source is refused before its request is looked at.
fn gate(app: &App, peer: Peer) -> Result<(), ApiErr> {
    match app.admission.gate(peer, Instant::now()) {
        Ok(()) => Ok(()),
        Err(Gate::Locked(secs)) => Err(ApiErr::new(
            StatusCode::TOO_MANY_REQUESTS,
            "locked_out",
            &format!("too many failed attempts; locked out for {secs} s"),
        )
        .retry_after(secs)),
        Err(Gate::Blocked) => Err(ApiErr::new(
            StatusCode::FORBIDDEN,
            "blocked",
            "this address is blocked; ask the tracker's operator",
        )),
    }
}

async fn put_card(
    State(s): State<S>,
    Extension(peer): Extension<Peer>,
    Path(fp): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiErr> {
    gate(&s.app, peer)?;
    admit(&s.app, peer, &headers).await?;
    let (bytes, _held) = read_body(&s.app, &headers, body).await?;
    let card = accept_async(&s.t, bytes, Some(fp)).await?;
    // Counted before it is stored, given back unless it was: one source cannot fill the
    // disk (or the cards' table) with valid junk at the speed of its link.
    let size = card.bytes.len() as u64;
    s.t.per_source
        .take(peer, size, Instant::now())
        .map_err(|secs| over_source_quota(&s.t, secs))?;
    let out = publish(&s.t, card).await;
    if !matches!(out, StoreOutcome::Stored(_)) {
        s.t.per_source.give_back(peer, size);
    }
    let reply = |status, stored, seq| {
        json(
            status,
            &wire::CardPutReply {
                v: wire::V,
                stored,
                seq,
            },
        )
    };
    match out {
        StoreOutcome::Stored(seq) => Ok(reply(StatusCode::CREATED, true, seq)),
        StoreOutcome::Same(seq) => Ok(reply(StatusCode::OK, false, seq)),
        StoreOutcome::Stale(held) => Err(ApiErr::new(
            StatusCode::CONFLICT,
            "stale_seq",
            &format!("this tracker holds seq {held} for this card; a new card needs a higher seq"),
        )),
        StoreOutcome::NameTaken => Err(ApiErr::new(
            StatusCode::CONFLICT,
            "name_taken",
            "another identity holds this name here; choose another name (pigeon keygen --name)",
        )),
        StoreOutcome::Full(what) => Err(ApiErr::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "quota",
            &format!(
                "this tracker holds as many {what} as it keeps until expired cards are swept; \
                 try another tracker, or again later"
            ),
        )),
        StoreOutcome::Failed(e) => Err(ApiErr::unavailable(e)),
    }
}

async fn get_card(State(s): State<S>, Path(fp): Path<String>) -> Result<Response, ApiErr> {
    if fp.is_empty() || fp.len() > 128 || !fp.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            "bad_card",
            "a fingerprint is letters and digits",
        ));
    }
    match s.t.readers.run_short(move |c| store::card(c, &fp)).await {
        Ok(Some(bytes)) => Ok(card_reply(bytes)),
        Ok(None) => Err(not_found("no card with this fingerprint here")),
        Err(e) => Err(unavailable(e)),
    }
}

async fn get_name(State(s): State<S>, Path(name): Path<String>) -> Result<Response, ApiErr> {
    let key = name_key(&name);
    match s
        .t
        .readers
        .run_short(move |c| store::card_by_name(c, &key))
        .await
    {
        Ok(Some(bytes)) => Ok(card_reply(bytes)),
        Ok(None) => Err(not_found("nobody holds this name here")),
        Err(e) => Err(unavailable(e)),
    }
}

/// A signed `DELETE /v1/names/{name}`: by the mailbox key of the card holding the name.
async fn release(
    State(s): State<S>,
    Extension(peer): Extension<Peer>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    gate(&s.app, peer)?;
    let key = name_key(&name);
    let k = key.clone();
    let holder =
        s.t.readers
            .run_short(move |c| store::holder(c, &k))
            .await
            .map_err(unavailable)?;
    let Some((fp, mailbox)) = holder else {
        return Err(not_found("nobody holds this name here"));
    };
    // The path as sent is what was signed; the router decoded the same text into `name`.
    check_signed(&s.app, peer, "DELETE", &uri, &headers, &mailbox, true).await?;
    match s.t.writer.release(key, fp).await {
        Ok(true) => {
            s.t.metrics.released.inc();
            Ok(json(
                StatusCode::OK,
                &wire::ReleaseReply {
                    v: wire::V,
                    released: true,
                },
            ))
        }
        Ok(false) => Err(not_found("nobody holds this name here")),
        Err(e) => Err(ApiErr::unavailable(e)),
    }
}

/// `after` and `limit`, plain decimal numbers.
fn page_query(q: Option<&str>) -> Result<(u64, u64), ApiErr> {
    let (mut after, mut limit) = (0, DEFAULT_PAGE);
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match k {
            "after" => &mut after,
            "limit" => &mut limit,
            _ => continue,
        };
        *slot = v
            .parse()
            .map_err(|_| ApiErr::bad(&format!("{k} must be a whole number")))?;
    }
    Ok((after, limit.clamp(1, MAX_PAGE)))
}

async fn list(State(s): State<S>, RawQuery(q): RawQuery) -> Result<Response, ApiErr> {
    let (after, limit) = page_query(q.as_deref())?;
    let (cards, next) =
        s.t.readers
            .run(move |c| store::page(c, after, limit))
            .await
            .map_err(unavailable)?;
    let cards = cards
        .into_iter()
        .filter_map(|b| String::from_utf8(b).ok())
        .filter_map(|t| serde_json::value::RawValue::from_string(t).ok())
        .collect();
    Ok(json(
        StatusCode::OK,
        &wire::CardPage {
            v: wire::V,
            cards,
            next,
        },
    ))
}

async fn relays(State(s): State<S>) -> Result<Response, ApiErr> {
    let rows = s.t.readers.run(store::relays).await.map_err(unavailable)?;
    let relays = rows
        .into_iter()
        .map(|(url, source, seen)| wire::KnownRelay { url, source, seen })
        .collect();
    Ok(json(
        StatusCode::OK,
        &wire::RelayList { v: wire::V, relays },
    ))
}

async fn announce(
    State(s): State<S>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiErr> {
    gate(&s.app, peer)?;
    // The relay list is what newcomers pick from: filling it takes what publishing does.
    admit(&s.app, peer, &headers).await?;
    let (bytes, _held) = read_body(&s.app, &headers, body).await?;
    let a: wire::RelayAnnounce = serde_json::from_slice(&bytes)
        .map_err(|e| ApiErr::bad(&format!("bad announcement JSON: {e}")))?;
    ApiErr::check_version("announcement", a.v)?;
    let url = a.url.trim_end_matches('/').to_string();
    listable(&url).map_err(|e| ApiErr::bad(&e))?;
    match s.t.writer.announce(url).await {
        Ok(Some(new)) => {
            s.t.metrics.announced.inc();
            let status = if new {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json(
                status,
                &serde_json::json!({"v": wire::V, "stored": new}),
            ))
        }
        Ok(None) => Err(ApiErr::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "quota",
            "this tracker knows as many relays as it keeps; try again later",
        )),
        Err(e) => Err(ApiErr::unavailable(e)),
    }
}

async fn info(State(s): State<S>) -> Response {
    json(
        StatusCode::OK,
        &wire::TrackerInfo {
            v: wire::V,
            name: "pigeon-tracker".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            peers: s.t.cfg.peers.clone(),
            max_card_bytes: s.t.cfg.max_card,
            max_card_lifetime: Some(s.t.cfg.max_lifetime),
            admission: s.app.cfg.admission().into(),
        },
    )
}
