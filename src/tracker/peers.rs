//! Mirroring with peer trackers (`--peer URL`): pull each peer's cards in its arrival order
//! from where the last pull stopped (`GET /v1/cards?after=`), at start and every
//! `pull_interval`; push every card stored here to every peer (`PUT /v1/cards/{fp}`).
//!
//! A peer is not trusted with anything: each card it serves goes through the same checks as
//! a card a person publishes ([`super::accept::accept`]), so a hostile peer can only offer
//! cards their owners signed. A push that fails is not retried: the peer's next pull of this
//! tracker brings the card.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::Tracker;
use super::accept::accept_async;
use super::routes::publish;
use super::store;
use super::writer::StoreOutcome;
use crate::relay::outgoing::redirect_note;

/// Cards asked for per page, and pages per peer per round (a peer with more is continued
/// next round).
const PAGE: u64 = 500;
const MAX_PAGES: usize = 200;
/// Largest page accepted from a peer.
const MAX_PAGE_BYTES: u64 = 64 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);

/// No redirect is followed ([`crate::relay::outgoing`]).
fn agent() -> ureq::Agent {
    crate::relay::outgoing::agent(TIMEOUT)
}

fn base(peer: &str) -> &str {
    peer.trim_end_matches('/')
}

/// Pushes stored cards to every peer as they come, each peer on its own queue: a peer
/// that is slow or hangs holds up only its own pushes (its queue full, the cards wait for
/// its next pull of this tracker), never those to the other peers.
pub async fn pusher(t: Arc<Tracker>, mut rx: mpsc::Receiver<(String, Vec<u8>)>) {
    // Held here: when this task is aborted (shutdown), the set aborts the peers' tasks.
    let mut tasks = tokio::task::JoinSet::new();
    let mut queues = Vec::new();
    for peer in t.cfg.peers.clone() {
        let (tx, prx) = mpsc::channel(1024);
        queues.push(tx);
        tasks.spawn(push_to(t.clone(), peer, prx));
    }
    while let Some(card) = rx.recv().await {
        for q in &queues {
            let _ = q.try_send(card.clone());
        }
    }
}

async fn push_to(t: Arc<Tracker>, peer: String, mut rx: mpsc::Receiver<(String, Vec<u8>)>) {
    let agent = agent();
    while let Some((fp, bytes)) = rx.recv().await {
        let agent = agent.clone();
        let url = format!("{}/v1/cards/{fp}", base(&peer));
        let sent = tokio::task::spawn_blocking(move || {
            agent
                .put(&url)
                .header("content-type", "application/json")
                .send(&bytes[..])
                .map_err(|e| format!("{url}: {e}"))
                .and_then(|r| match redirect_note(&r) {
                    Some(note) => Err(format!("{url}: {note}")),
                    None => Ok(r.status().as_u16()),
                })
        })
        .await;
        match sent {
            // 409 is a peer that already has this card or a newer one: not an error.
            Ok(Ok(200 | 201 | 409)) => t.metrics.pushed.inc(),
            Ok(Ok(status)) => {
                t.metrics.peer_errors.inc();
                eprintln!("pigeon tracker: pushing a card to {peer}: HTTP {status}");
            }
            Ok(Err(e)) => {
                t.metrics.peer_errors.inc();
                eprintln!("pigeon tracker: pushing a card: {e}");
            }
            Err(_) => {}
        }
    }
}

/// Pulls every peer at start and every `pull_interval`, each on its own schedule so a
/// slow peer delays only its own mirror.
pub async fn puller(t: Arc<Tracker>) {
    // Held here: when this task is aborted (shutdown), the set aborts the peers' tasks.
    let mut tasks = tokio::task::JoinSet::new();
    for peer in t.cfg.peers.clone() {
        tasks.spawn(pull_every(t.clone(), peer));
    }
    while tasks.join_next().await.is_some() {}
}

async fn pull_every(t: Arc<Tracker>, peer: String) {
    let mut tick = tokio::time::interval(t.cfg.pull_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = pull(&t, &peer).await {
            t.metrics.peer_errors.inc();
            eprintln!("pigeon tracker: pulling {peer}: {e}");
        }
    }
}

#[derive(Deserialize)]
struct Page {
    cards: Vec<Box<RawValue>>,
    next: u64,
}

/// One peer, page after page from the stored cursor; returns the cards stored.
pub async fn pull(t: &Arc<Tracker>, peer: &str) -> Result<u64, String> {
    let p = peer.to_string();
    let mut cursor = t
        .readers
        .run(move |c| store::peer_cursor(c, &p))
        .await
        .map_err(|e| format!("{e:#}"))?;
    let agent = agent();
    let mut stored = 0;
    for _ in 0..MAX_PAGES {
        let url = format!("{}/v1/cards?after={cursor}&limit={PAGE}", base(peer));
        let a = agent.clone();
        let page = tokio::task::spawn_blocking(move || fetch(&a, &url))
            .await
            .map_err(|e| e.to_string())??;
        let n = page.cards.len();
        for raw in page.cards {
            // Anything the checks refuse is the peer's problem, not ours: skip it.
            let Ok(card) = accept_async(t, raw.get().as_bytes().to_vec(), None).await else {
                t.metrics.refused.inc();
                continue;
            };
            if let StoreOutcome::Stored(_) = publish(t, card).await {
                t.metrics.mirrored.inc();
                stored += 1;
            }
        }
        if page.next <= cursor && n > 0 {
            return Err("the peer's cursor went backwards".into());
        }
        cursor = page.next;
        t.writer.set_cursor(peer.to_string(), cursor).await;
        // A page may be short because of its size in bytes: only an empty one is the end.
        if n == 0 {
            break;
        }
    }
    Ok(stored)
}

fn fetch(agent: &ureq::Agent, url: &str) -> Result<Page, String> {
    let mut resp = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
    if let Some(note) = redirect_note(&resp) {
        return Err(format!("{url}: {note}"));
    }
    if resp.status() != 200 {
        return Err(format!("{url} answered {}", resp.status()));
    }
    let text = resp
        .body_mut()
        .with_config()
        .limit(MAX_PAGE_BYTES)
        .read_to_string()
        .map_err(|e| format!("{url}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{url}: not a page of cards: {e}"))
}
