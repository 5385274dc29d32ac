//! The one thread that writes the tracker's file. Requests queue on a channel; the thread
//! takes everything queued, applies it in one transaction and commits once (one fsync for
//! many publishes: group commit, as the relay's writer does), then answers each.
//!
//! The rules that need the stored state are decided here, inside the transaction, so two
//! publishes racing for one name or one fingerprint cannot both win.

use std::collections::HashMap;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::store;
use crate::wire::now;

/// Operations in one transaction, at most.
const MAX_GROUP: usize = 512;
/// Relays kept at most; past it announcements are refused until old ones are swept.
pub const MAX_RELAYS: i64 = 10_000;
/// An announced relay not heard from for this long is forgotten.
const ANNOUNCE_TTL: u64 = 7 * 86_400;
/// A relay named only in cards, none stored for this long, is forgotten.
const CARD_RELAY_TTL: u64 = 30 * 86_400;

/// A verified card to store.
#[derive(Debug, Clone)]
pub struct NewCard {
    pub fp: String,
    pub seq: u64,
    pub expires: Option<u64>,
    /// The folded name ([`store::name_key`]).
    pub name: String,
    pub mailbox: String,
    pub relays: Vec<String>,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Stored (new, or a higher seq than held).
    Stored(u64),
    /// Byte for byte the card held.
    Same(u64),
    /// A seq at or below the one held (which one).
    Stale(u64),
    /// The name is held by another fingerprint.
    NameTaken,
    /// The tracker holds as many cards (or bytes of cards) as it keeps: which.
    Full(&'static str),
    Failed(String),
}

enum Op {
    Store(NewCard, oneshot::Sender<StoreOutcome>),
    Release(String, String, oneshot::Sender<Result<bool, String>>),
    Announce(String, oneshot::Sender<Result<Option<bool>, String>>),
    Cursor(String, u64),
    Sweep(oneshot::Sender<Result<u64, String>>),
    Stop,
}

/// What the tracker holds at most.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Cards: a new fingerprint past it is refused (a card replacing its own older one is
    /// always taken).
    pub cards: u64,
    /// Bytes of all cards together: a card that would pass it is refused, unless it
    /// replaces a card at least as large.
    pub bytes: u64,
    /// Seconds a held card may still live: rows stored before every card needed an
    /// `expires` (or with a longer one) are given this lifetime at start.
    pub lifetime: u64,
}

/// The handle the handlers use.
pub struct Writer {
    tx: mpsc::Sender<Op>,
}

impl Writer {
    /// Past `caps` a card is refused until the sweep frees room.
    pub fn start(path: &std::path::Path, caps: Caps) -> Result<(Writer, JoinHandle<()>)> {
        let conn = store::open_rw(path)?;
        let latest = now().saturating_add(caps.lifetime).min(i64::MAX as u64) as i64;
        conn.execute(
            "UPDATE cards SET expires = ?1 WHERE expires IS NULL OR expires > ?1",
            [latest],
        )
        .context("cannot bound the lifetime of the cards held")?;
        let arrival: i64 = conn.query_row(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'cards'), 0)",
            [],
            |r| r.get(0),
        )?;
        let (cards, bytes) = count_cards(&conn)?;
        let mut state = State {
            cards,
            bytes,
            conn,
            arrival: arrival as u64,
            relays_seen: HashMap::new(),
            caps,
        };
        let (tx, mut rx) = mpsc::channel::<Op>(4096);
        let handle = std::thread::Builder::new()
            .name("pigeon-tracker-writer".into())
            .spawn(move || {
                let mut group = Vec::new();
                while let Some(first) = rx.blocking_recv() {
                    group.push(first);
                    while group.len() < MAX_GROUP {
                        match rx.try_recv() {
                            Ok(op) => group.push(op),
                            Err(_) => break,
                        }
                    }
                    let stop = group.iter().any(|o| matches!(o, Op::Stop));
                    state.run_group(std::mem::take(&mut group));
                    if stop {
                        break;
                    }
                }
                let _ = state.conn.pragma_update(None, "optimize", "");
            })
            .context("cannot start the tracker's writer thread")?;
        Ok((Writer { tx }, handle))
    }

    async fn ask<T>(&self, op: impl FnOnce(oneshot::Sender<T>) -> Op) -> Result<T, String> {
        let (reply, rx) = oneshot::channel();
        let gone = || "the tracker is stopping".to_string();
        self.tx.send(op(reply)).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }

    pub async fn store(&self, card: NewCard) -> StoreOutcome {
        self.ask(|r| Op::Store(card, r))
            .await
            .unwrap_or_else(StoreOutcome::Failed)
    }

    /// Frees `name` if `fp` still holds it; false when it does not.
    pub async fn release(&self, name: String, fp: String) -> Result<bool, String> {
        self.ask(|r| Op::Release(name, fp, r)).await?
    }

    /// Records an announced relay: `Some(true)` new, `Some(false)` known, `None` full.
    pub async fn announce(&self, url: String) -> Result<Option<bool>, String> {
        self.ask(|r| Op::Announce(url, r)).await?
    }

    pub async fn set_cursor(&self, peer: String, cursor: u64) {
        let _ = self.tx.send(Op::Cursor(peer, cursor)).await;
    }

    /// Deletes expired cards (and frees their names) and forgotten relays.
    pub async fn sweep(&self) -> Result<u64, String> {
        self.ask(Op::Sweep).await?
    }

    pub async fn stop(&self) {
        let _ = self.tx.send(Op::Stop).await;
    }
}

/// A reply to send once the commit's fate is known.
enum Pending {
    Store(oneshot::Sender<StoreOutcome>, StoreOutcome),
    Release(oneshot::Sender<Result<bool, String>>, bool),
    Announce(oneshot::Sender<Result<Option<bool>, String>>, Option<bool>),
    Sweep(oneshot::Sender<Result<u64, String>>, u64),
}

struct State {
    conn: Connection,
    arrival: u64,
    /// Cards held and their bytes (kept in step with the table, recounted after a
    /// rollback).
    cards: u64,
    bytes: u64,
    caps: Caps,
    /// When each relay named in cards was last written (a rolled-back commit only delays
    /// an update by the hour).
    relays_seen: HashMap<String, u64>,
}

/// Relays remembered in `relays_seen` at most before it starts over.
const RELAYS_SEEN_CAP: usize = 100_000;

impl State {
    fn run_group(&mut self, ops: Vec<Op>) {
        let mut pending = Vec::with_capacity(ops.len());
        let begun = self.conn.execute_batch("BEGIN IMMEDIATE");
        let mut err = begun.err().map(|e| e.to_string());
        for op in ops {
            if let Some(e) = &err {
                fail(op, e);
                continue;
            }
            let done = match op {
                Op::Store(card, r) => self.store(&card).map(|o| Pending::Store(r, o)),
                Op::Release(name, fp, r) => {
                    self.release(&name, &fp).map(|b| Pending::Release(r, b))
                }
                Op::Announce(url, r) => self.announce(&url).map(|b| Pending::Announce(r, b)),
                Op::Sweep(r) => self.sweep().map(|n| Pending::Sweep(r, n)),
                Op::Cursor(peer, c) => {
                    let _ = self.conn.execute(
                        "INSERT OR REPLACE INTO peer_cursors (url, cursor) VALUES (?1, ?2)",
                        params![peer, c as i64],
                    );
                    continue;
                }
                Op::Stop => continue,
            };
            match done {
                Ok(p) => pending.push(p),
                Err(e) => err = Some(format!("the tracker database: {e}")),
            }
        }
        if err.is_none()
            && let Err(e) = self.conn.execute_batch("COMMIT")
        {
            err = Some(format!("cannot commit: {e}"));
        }
        if let Some(e) = err {
            let _ = self.conn.execute_batch("ROLLBACK");
            if let Ok((n, b)) = count_cards(&self.conn) {
                (self.cards, self.bytes) = (n, b);
            }
            eprintln!("pigeon tracker: {e}");
            for p in pending {
                match p {
                    Pending::Store(r, _) => drop(r.send(StoreOutcome::Failed(e.clone()))),
                    Pending::Release(r, _) => drop(r.send(Err(e.clone()))),
                    Pending::Announce(r, _) => drop(r.send(Err(e.clone()))),
                    Pending::Sweep(r, _) => drop(r.send(Err(e.clone()))),
                }
            }
            return;
        }
        for p in pending {
            match p {
                Pending::Store(r, o) => drop(r.send(o)),
                Pending::Release(r, b) => drop(r.send(Ok(b))),
                Pending::Announce(r, b) => drop(r.send(Ok(b))),
                Pending::Sweep(r, n) => drop(r.send(Ok(n))),
            }
        }
    }

    fn store(&mut self, c: &NewCard) -> rusqlite::Result<StoreOutcome> {
        let now = now();
        let held: Option<(i64, i64, Vec<u8>, String)> = self
            .conn
            .prepare_cached("SELECT arrival, seq, bytes, name FROM cards WHERE fp = ?1")?
            .query_row([&c.fp], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        if let Some((_, seq, bytes, _)) = &held {
            if *bytes == c.bytes {
                return Ok(StoreOutcome::Same(*seq as u64));
            }
            if c.seq <= *seq as u64 {
                return Ok(StoreOutcome::Stale(*seq as u64));
            }
        }
        // The name's holder counts only while its card is live: an expired card gives its
        // name up (the sweep deletes both later).
        let holder: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT n.fp FROM names n JOIN cards c ON c.fp = n.fp
                 WHERE n.name = ?1 AND (c.expires IS NULL OR c.expires >= ?2)",
            )?
            .query_row(params![c.name, now], |r| r.get(0))
            .optional()?;
        if holder.as_ref().is_some_and(|h| *h != c.fp) {
            return Ok(StoreOutcome::NameTaken);
        }
        let old_len = held.as_ref().map_or(0, |h| h.2.len() as u64);
        let new_len = c.bytes.len() as u64;
        if new_len > old_len && self.bytes.saturating_add(new_len - old_len) > self.caps.bytes {
            return Ok(StoreOutcome::Full("bytes of cards"));
        }
        if held.is_none() {
            if self.cards >= self.caps.cards {
                return Ok(StoreOutcome::Full("cards"));
            }
            self.cards += 1;
        }
        self.bytes = (self.bytes + new_len).saturating_sub(old_len);
        if let Some((arrival, _, _, old_name)) = &held {
            self.conn
                .prepare_cached("DELETE FROM cards WHERE arrival = ?1")?
                .execute([arrival])?;
            // One name per identity: a card with a new name gives the old one up (its
            // owner signed the change).
            if *old_name != c.name {
                self.conn
                    .prepare_cached("DELETE FROM names WHERE name = ?1 AND fp = ?2")?
                    .execute(params![old_name, c.fp])?;
            }
        }
        self.arrival += 1;
        self.conn
            .prepare_cached(
                "INSERT INTO cards (arrival, fp, seq, expires, name, mailbox, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                self.arrival as i64,
                c.fp,
                c.seq as i64,
                c.expires.map(|e| e.min(i64::MAX as u64) as i64),
                c.name,
                c.mailbox,
                c.bytes
            ])?;
        if holder.is_none() {
            self.conn
                .prepare_cached("INSERT OR REPLACE INTO names (name, fp) VALUES (?1, ?2)")?
                .execute(params![c.name, c.fp])?;
        }
        for url in &c.relays {
            // `seen` is a day's precision at best: one write per relay per hour is plenty.
            if self.relays_seen.get(url).is_some_and(|t| t + 3600 > now) {
                continue;
            }
            if self.relays_seen.len() >= RELAYS_SEEN_CAP {
                self.relays_seen.clear();
            }
            self.relays_seen.insert(url.clone(), now);
            let known = self
                .conn
                .prepare_cached("UPDATE relays SET seen = max(seen, ?2) WHERE url = ?1")?
                .execute(params![url, now as i64])?;
            // The list is bounded for cards as for announcements; the card is stored anyway.
            if known == 0 && self.relay_count()? < MAX_RELAYS {
                self.conn
                    .prepare_cached(
                        "INSERT INTO relays (url, source, seen) VALUES (?1, 'card', ?2)",
                    )?
                    .execute(params![url, now as i64])?;
            }
        }
        Ok(StoreOutcome::Stored(c.seq))
    }

    fn release(&mut self, name: &str, fp: &str) -> rusqlite::Result<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM names WHERE name = ?1 AND fp = ?2")?
            .execute(params![name, fp])?;
        Ok(n > 0)
    }

    fn announce(&mut self, url: &str) -> rusqlite::Result<Option<bool>> {
        let now = now() as i64;
        let known = self
            .conn
            .prepare_cached("UPDATE relays SET source = 'announce', seen = ?2 WHERE url = ?1")?
            .execute(params![url, now])?;
        if known > 0 {
            return Ok(Some(false));
        }
        if self.relay_count()? >= MAX_RELAYS {
            return Ok(None);
        }
        self.conn
            .prepare_cached("INSERT INTO relays (url, source, seen) VALUES (?1, 'announce', ?2)")?
            .execute(params![url, now])?;
        Ok(Some(true))
    }

    fn relay_count(&self) -> rusqlite::Result<i64> {
        self.conn
            .prepare_cached("SELECT count(*) FROM relays")?
            .query_row([], |r| r.get(0))
    }

    fn sweep(&mut self) -> rusqlite::Result<u64> {
        let now = now();
        let (n, freed): (i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(length(bytes)), 0) FROM cards
             WHERE expires IS NOT NULL AND expires < ?1",
            [now as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        self.conn.execute(
            "DELETE FROM cards WHERE expires IS NOT NULL AND expires < ?1",
            [now as i64],
        )?;
        self.cards = self.cards.saturating_sub(n as u64);
        self.bytes = self.bytes.saturating_sub(freed as u64);
        self.conn.execute(
            "DELETE FROM names WHERE fp NOT IN (SELECT fp FROM cards)",
            [],
        )?;
        self.conn.execute(
            "DELETE FROM relays WHERE (source = 'announce' AND seen < ?1)
                OR (source = 'card' AND seen < ?2)",
            params![
                now.saturating_sub(ANNOUNCE_TTL) as i64,
                now.saturating_sub(CARD_RELAY_TTL) as i64
            ],
        )?;
        Ok(n as u64)
    }
}

fn fail(op: Op, e: &str) {
    let e = e.to_string();
    match op {
        Op::Store(_, r) => drop(r.send(StoreOutcome::Failed(e))),
        Op::Release(_, _, r) => drop(r.send(Err(e))),
        Op::Announce(_, r) => drop(r.send(Err(e))),
        Op::Sweep(r) => drop(r.send(Err(e))),
        Op::Cursor(..) | Op::Stop => {}
    }
}

/// Cards held and their bytes.
fn count_cards(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    conn.query_row(
        "SELECT count(*), coalesce(sum(length(bytes)), 0) FROM cards",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
}
