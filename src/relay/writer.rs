//! The one writer: a thread that owns the write connection and commits in groups.
//!
//! Handlers queue operations on a channel and wait for the answer. The thread takes
//! everything queued, runs it in one transaction, commits with one fsync (WAL,
//! `synchronous=FULL`), and only then answers each waiter. So a 201 is never sent for an
//! envelope that a power cut could lose, and throughput does not fall to one fsync per post.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{Notify, mpsc, oneshot};

use super::metrics::Metrics;
use super::storage;

/// Operations taken in one transaction, at most.
const MAX_GROUP: usize = 2048;
/// Payload bytes taken in one transaction, at most (more waits for the next one).
const MAX_GROUP_BYTES: usize = 16 << 20;
/// Mailbox rows the writer keeps in memory between transactions, at most.
const MBOX_CACHE: usize = 4096;

/// One envelope to store, already validated and decoded.
#[derive(Debug)]
pub struct NewEnvelope {
    pub mbox: [u8; 32],
    pub id: [u8; 16],
    /// Already clamped to the relay's maximum.
    pub ttl: u64,
    pub payload: Vec<u8>,
}

/// What became of one envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    Stored(u64),
    Duplicate(u64),
    /// The mailbox is full: which limit.
    MailboxFull(&'static str),
    RelayFull,
    Failed(String),
}

pub enum Op {
    Post {
        items: Vec<NewEnvelope>,
        reply: oneshot::Sender<Vec<PostOutcome>>,
    },
    Ack {
        mbox: [u8; 32],
        upto: u64,
        reply: oneshot::Sender<Result<u64, String>>,
    },
    Sweep {
        limit: usize,
        reply: oneshot::Sender<Result<u64, String>>,
    },
    Block {
        addr: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Stop,
}

#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    pub max_envelopes: u64,
    pub max_mailbox_bytes: u64,
    pub max_total_bytes: u64,
}

/// Per mailbox: the notifier and how many readers wait on it.
type WaitMap = HashMap<[u8; 32], (Arc<Notify>, usize)>;

/// Long-poll readers waiting for a mailbox, woken after each commit that adds to it.
#[derive(Default)]
pub struct Waiters {
    map: Mutex<WaitMap>,
}

/// Holds a registration; dropping it forgets the mailbox when nobody else waits.
pub struct WaitGuard<'a> {
    waiters: &'a Waiters,
    mbox: [u8; 32],
    pub notify: Arc<Notify>,
}

impl Waiters {
    pub fn register(&self, mbox: [u8; 32]) -> WaitGuard<'_> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map
            .entry(mbox)
            .or_insert_with(|| (Arc::new(Notify::new()), 0));
        entry.1 += 1;
        WaitGuard {
            waiters: self,
            mbox,
            notify: entry.0.clone(),
        }
    }

    fn wake(&self, mboxes: &[[u8; 32]]) {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return;
        }
        for m in mboxes {
            if let Some((n, _)) = map.get(m) {
                n.notify_waiters();
            }
        }
    }
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.waiters.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = map.get_mut(&self.mbox) {
            e.1 -= 1;
            if e.1 == 0 {
                map.remove(&self.mbox);
            }
        }
    }
}

/// The handle handlers use to reach the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
}

impl Writer {
    /// Opens the database and starts the thread.
    pub fn start(
        path: &std::path::Path,
        quotas: Quotas,
        waiters: Arc<Waiters>,
        metrics: Arc<Metrics>,
    ) -> Result<(Writer, JoinHandle<()>)> {
        let conn = storage::open_rw(path)?;
        let mut state = State::load(conn, quotas, waiters, metrics)?;
        let (tx, mut rx) = mpsc::channel::<Op>(8192);
        let handle = std::thread::Builder::new()
            .name("pigeon-writer".into())
            .spawn(move || {
                let mut group = Vec::new();
                while let Some(first) = rx.blocking_recv() {
                    let mut stop = matches!(first, Op::Stop);
                    let mut bytes = op_bytes(&first);
                    group.push(first);
                    while !stop && group.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
                        match rx.try_recv() {
                            Ok(op) => {
                                stop = matches!(op, Op::Stop);
                                bytes += op_bytes(&op);
                                group.push(op);
                            }
                            Err(_) => break,
                        }
                    }
                    state.run_group(std::mem::take(&mut group));
                    if stop {
                        break;
                    }
                }
                state.close();
            })
            .context("cannot start the writer thread")?;
        Ok((Writer { tx }, handle))
    }

    async fn ask<T>(&self, op: impl FnOnce(oneshot::Sender<T>) -> Op) -> Result<T, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(op(reply))
            .await
            .map_err(|_| "the relay is stopping".to_string())?;
        rx.await.map_err(|_| "the relay is stopping".to_string())
    }

    pub async fn post(&self, items: Vec<NewEnvelope>) -> Result<Vec<PostOutcome>, String> {
        self.ask(|reply| Op::Post { items, reply }).await
    }
    pub async fn ack(&self, mbox: [u8; 32], upto: u64) -> Result<u64, String> {
        self.ask(|reply| Op::Ack { mbox, upto, reply }).await?
    }
    pub async fn sweep(&self, limit: usize) -> Result<u64, String> {
        self.ask(|reply| Op::Sweep { limit, reply }).await?
    }
    pub async fn block(&self, addr: String) -> Result<(), String> {
        self.ask(|reply| Op::Block { addr, reply }).await?
    }
    /// Asks the thread to finish what is queued, then close the database.
    pub async fn stop(&self) {
        let _ = self.tx.send(Op::Stop).await;
    }
}

fn op_bytes(op: &Op) -> usize {
    match op {
        Op::Post { items, .. } => items.iter().map(|i| i.payload.len()).sum(),
        _ => 0,
    }
}

/// A mailbox row as the writer last wrote it (plus the current transaction's changes).
struct Mbox {
    id: i64,
    count: u64,
    bytes: u64,
    dirty: bool,
}

/// A reply to send once the transaction's fate is known.
enum Pending {
    Post(oneshot::Sender<Vec<PostOutcome>>, Vec<PostOutcome>),
    Ack(oneshot::Sender<Result<u64, String>>, u64),
    Sweep(oneshot::Sender<Result<u64, String>>, u64),
    Block(oneshot::Sender<Result<(), String>>),
}

struct State {
    conn: Connection,
    quotas: Quotas,
    waiters: Arc<Waiters>,
    metrics: Arc<Metrics>,
    next_seq: u64,
    total_bytes: u64,
    /// Mailbox rows by hash. Only this thread writes them, so the copy stays exact; it is
    /// dropped whenever a transaction fails, and after acks and sweeps change rows in SQL.
    mboxes: HashMap<[u8; 32], Mbox>,
}

impl State {
    fn load(
        conn: Connection,
        quotas: Quotas,
        waiters: Arc<Waiters>,
        metrics: Arc<Metrics>,
    ) -> Result<State> {
        let stored = storage::meta_u64(&conn, "next_seq")?.unwrap_or(1);
        let max: Option<i64> =
            conn.query_row("SELECT max(seq) FROM envelopes", [], |r| r.get(0))?;
        let next_seq = stored.max(max.unwrap_or(0) as u64 + 1);
        let (_, _, total_bytes) = storage::totals(&conn)?;
        Ok(State {
            conn,
            quotas,
            waiters,
            metrics,
            next_seq,
            total_bytes,
            mboxes: HashMap::new(),
        })
    }

    fn run_group(&mut self, ops: Vec<Op>) {
        let (seq0, total0) = (self.next_seq, self.total_bytes);
        let mut pending = Vec::with_capacity(ops.len());
        let mut woken = Vec::new();
        let result = self.transaction(ops, &mut pending, &mut woken);
        if let Err(e) = result {
            // Nothing of the group is on disk: say so to everyone in it.
            self.next_seq = seq0;
            self.total_bytes = total0;
            self.mboxes.clear();
            let msg = if is_disk_full(&e) {
                "the relay's disk is full".to_string()
            } else {
                format!("storage error: {e}")
            };
            eprintln!("pigeon relay: {msg}");
            for p in pending {
                match p {
                    Pending::Post(tx, outs) => {
                        let out = if is_disk_full(&e) {
                            PostOutcome::RelayFull
                        } else {
                            PostOutcome::Failed(msg.clone())
                        };
                        let _ = tx.send(vec![out; outs.len()]);
                    }
                    Pending::Ack(tx, _) | Pending::Sweep(tx, _) => {
                        let _ = tx.send(Err(msg.clone()));
                    }
                    Pending::Block(tx) => {
                        let _ = tx.send(Err(msg.clone()));
                    }
                }
            }
            return;
        }
        self.metrics.commit(pending.len() as u64);
        self.waiters.wake(&woken);
        for p in pending {
            match p {
                Pending::Post(tx, outs) => {
                    for o in &outs {
                        if let PostOutcome::Stored(_) = o {
                            self.metrics.stored.inc();
                        }
                    }
                    let _ = tx.send(outs);
                }
                Pending::Ack(tx, n) => {
                    self.metrics.deleted.add(n);
                    let _ = tx.send(Ok(n));
                }
                Pending::Sweep(tx, n) => {
                    self.metrics.expired.add(n);
                    let _ = tx.send(Ok(n));
                }
                Pending::Block(tx) => {
                    let _ = tx.send(Ok(()));
                }
            }
        }
    }

    fn transaction(
        &mut self,
        ops: Vec<Op>,
        pending: &mut Vec<Pending>,
        woken: &mut Vec<[u8; 32]>,
    ) -> rusqlite::Result<()> {
        let quotas = self.quotas;
        let mboxes = &mut self.mboxes;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut seq = self.next_seq;
        let mut total = self.total_bytes;
        let mut deleted = false;
        let mut stored_bytes = 0u64;
        let now = storage::now();
        for op in ops {
            match op {
                Op::Post { items, reply } => {
                    let mut outs = Vec::with_capacity(items.len());
                    for item in items {
                        let out = post_one(&tx, mboxes, &quotas, &mut seq, &mut total, now, &item)?;
                        if let PostOutcome::Stored(_) = out {
                            stored_bytes += item.payload.len() as u64;
                            if !woken.contains(&item.mbox) {
                                woken.push(item.mbox);
                            }
                        }
                        outs.push(out);
                    }
                    pending.push(Pending::Post(reply, outs));
                }
                Op::Ack { mbox, upto, reply } => {
                    flush(&tx, mboxes)?;
                    let n = ack(&tx, &mbox, upto, &mut total)?;
                    mboxes.remove(&mbox);
                    deleted |= n > 0;
                    pending.push(Pending::Ack(reply, n));
                }
                Op::Sweep { limit, reply } => {
                    flush(&tx, mboxes)?;
                    let n = sweep(&tx, now, limit, &mut total)?;
                    mboxes.clear();
                    deleted |= n > 0;
                    pending.push(Pending::Sweep(reply, n));
                }
                Op::Block { addr, reply } => {
                    tx.execute(
                        "INSERT OR IGNORE INTO blocks (addr, since) VALUES (?1, ?2)",
                        params![addr, now as i64],
                    )?;
                    pending.push(Pending::Block(reply));
                }
                Op::Stop => {}
            }
        }
        flush(&tx, mboxes)?;
        // The next seq is max(seq) + 1 of what is stored, unless the newest envelopes were
        // deleted: only then must it be written down, so a seq is never given out twice
        // (a reader's cursor would skip the new envelope). Posts alone leave `meta` alone,
        // which saves rewriting its page in every commit.
        if deleted {
            tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?1)")?
                .execute(params![seq as i64])?;
        }
        tx.commit()?;
        if self.mboxes.len() > MBOX_CACHE {
            self.mboxes.clear();
        }
        self.next_seq = seq;
        self.total_bytes = total;
        self.metrics.stored_bytes.add(stored_bytes);
        Ok(())
    }

    fn close(self) {
        // Fold the WAL back into the main file so a clean stop leaves one file behind.
        let _ = self.conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
        if let Err((_, e)) = self.conn.close() {
            eprintln!("pigeon relay: closing the database: {e}");
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn post_one(
    tx: &Connection,
    mboxes: &mut HashMap<[u8; 32], Mbox>,
    quotas: &Quotas,
    seq: &mut u64,
    total: &mut u64,
    now: u64,
    item: &NewEnvelope,
) -> rusqlite::Result<PostOutcome> {
    let mb = match mboxes.get_mut(&item.mbox) {
        Some(m) => m,
        None => {
            let row = tx
                .prepare_cached("SELECT id, count, bytes FROM mailboxes WHERE hash = ?1")?
                .query_row(params![item.mbox.as_slice()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()?;
            let (id, count, bytes) = match row {
                Some(r) => r,
                None => {
                    tx.prepare_cached("INSERT INTO mailboxes (hash) VALUES (?1)")?
                        .execute(params![item.mbox.as_slice()])?;
                    (tx.last_insert_rowid(), 0, 0)
                }
            };
            mboxes.entry(item.mbox).or_insert(Mbox {
                id,
                count: count as u64,
                bytes: bytes as u64,
                dirty: false,
            })
        }
    };
    let len = item.payload.len() as u64;
    let refusal = if mb.count + 1 > quotas.max_envelopes {
        Some(PostOutcome::MailboxFull("envelopes"))
    } else if mb.bytes + len > quotas.max_mailbox_bytes {
        Some(PostOutcome::MailboxFull("bytes"))
    } else if *total + len > quotas.max_total_bytes {
        Some(PostOutcome::RelayFull)
    } else {
        None
    };
    if let Some(refusal) = refusal {
        // An envelope stored before is a duplicate even when the mailbox is full now.
        return Ok(match stored_seq(tx, mb.id, &item.id)? {
            Some(s) => PostOutcome::Duplicate(s),
            None => refusal,
        });
    }
    // Insert first: the unique (mbox, id) index finds a duplicate in the same descent that
    // places the new entry, instead of a lookup before every insert.
    let s = *seq;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO envelopes (seq, mbox, id, received, expires, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            s as i64,
            mb.id,
            item.id.as_slice(),
            now as i64,
            now.saturating_add(item.ttl) as i64,
            item.payload
        ])?;
    if inserted == 0 {
        // Only the (mbox, id) index can conflict: `seq` is always new.
        return match stored_seq(tx, mb.id, &item.id)? {
            Some(s) => Ok(PostOutcome::Duplicate(s)),
            None => Err(rusqlite::Error::QueryReturnedNoRows),
        };
    }
    *seq += 1;
    *total += len;
    mb.count += 1;
    mb.bytes += len;
    mb.dirty = true;
    Ok(PostOutcome::Stored(s))
}

/// The seq of the envelope `id` already stored in mailbox row `mbox`.
fn stored_seq(tx: &Connection, mbox: i64, id: &[u8; 16]) -> rusqlite::Result<Option<u64>> {
    tx.prepare_cached("SELECT seq FROM envelopes WHERE mbox = ?1 AND id = ?2")?
        .query_row(params![mbox, id.as_slice()], |r| r.get::<_, i64>(0))
        .optional()
        .map(|s| s.map(|s| s as u64))
}

/// Writes the transaction's mailbox counters back, once per mailbox.
fn flush(tx: &Connection, mboxes: &mut HashMap<[u8; 32], Mbox>) -> rusqlite::Result<()> {
    let mut stmt =
        tx.prepare_cached("UPDATE mailboxes SET count = ?2, bytes = ?3 WHERE id = ?1")?;
    for m in mboxes.values_mut().filter(|m| m.dirty) {
        stmt.execute(params![m.id, m.count as i64, m.bytes as i64])?;
        m.dirty = false;
    }
    Ok(())
}

fn ack(tx: &Connection, hash: &[u8; 32], upto: u64, total: &mut u64) -> rusqlite::Result<u64> {
    let Some(id) = tx
        .prepare_cached("SELECT id FROM mailboxes WHERE hash = ?1")?
        .query_row(params![hash.as_slice()], |r| r.get::<_, i64>(0))
        .optional()?
    else {
        return Ok(0);
    };
    let upto = upto.min(i64::MAX as u64) as i64;
    let (n, bytes): (i64, i64) = tx
        .prepare_cached(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM envelopes
             WHERE mbox = ?1 AND seq <= ?2",
        )?
        .query_row(params![id, upto], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if n == 0 {
        return Ok(0);
    }
    tx.prepare_cached("DELETE FROM envelopes WHERE mbox = ?1 AND seq <= ?2")?
        .execute(params![id, upto])?;
    shrink(tx, id, n, bytes)?;
    *total = total.saturating_sub(bytes as u64);
    Ok(n as u64)
}

/// Deletes up to `limit` expired envelopes.
fn sweep(tx: &Connection, now: u64, limit: usize, total: &mut u64) -> rusqlite::Result<u64> {
    let victims: Vec<(i64, i64, i64)> = tx
        .prepare_cached(
            "SELECT seq, mbox, length(payload) FROM envelopes WHERE expires <= ?1
             ORDER BY expires LIMIT ?2",
        )?
        .query_map(params![now as i64, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut per_mbox: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut del = tx.prepare_cached("DELETE FROM envelopes WHERE seq = ?1")?;
    for (seq, mbox, len) in &victims {
        del.execute(params![seq])?;
        let e = per_mbox.entry(*mbox).or_default();
        e.0 += 1;
        e.1 += len;
        *total = total.saturating_sub(*len as u64);
    }
    for (id, (n, bytes)) in per_mbox {
        shrink(tx, id, n, bytes)?;
    }
    Ok(victims.len() as u64)
}

/// Takes envelopes off a mailbox's counters; an empty mailbox row goes away.
fn shrink(tx: &Connection, id: i64, n: i64, bytes: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE mailboxes SET count = max(count - ?2, 0), bytes = max(bytes - ?3, 0) WHERE id = ?1",
    )?
    .execute(params![id, n, bytes])?;
    tx.prepare_cached("DELETE FROM mailboxes WHERE id = ?1 AND count = 0")?
        .execute(params![id])?;
    Ok(())
}

fn is_disk_full(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(path: &std::path::Path, max_envelopes: u64) -> State {
        let quotas = Quotas {
            max_envelopes,
            max_mailbox_bytes: 1 << 20,
            max_total_bytes: 1 << 30,
        };
        let conn = storage::open_rw(path).unwrap();
        State::load(conn, quotas, Arc::default(), Arc::default()).unwrap()
    }

    fn post(s: &mut State, mbox: u8, id: u8) -> PostOutcome {
        let (reply, mut rx) = oneshot::channel();
        let items = vec![NewEnvelope {
            mbox: [mbox; 32],
            id: [id; 16],
            ttl: 60,
            payload: vec![id; 100],
        }];
        s.run_group(vec![Op::Post { items, reply }]);
        rx.try_recv().unwrap().remove(0)
    }

    fn ack(s: &mut State, mbox: u8, upto: u64) -> u64 {
        let (reply, mut rx) = oneshot::channel();
        s.run_group(vec![Op::Ack {
            mbox: [mbox; 32],
            upto,
            reply,
        }]);
        rx.try_recv().unwrap().unwrap()
    }

    #[test]
    fn duplicates_quotas_and_seqs_survive_acks_and_restarts() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("relay.sqlite");
        let mut s = state(&p, 2);
        assert_eq!(post(&mut s, 1, 1), PostOutcome::Stored(1));
        assert_eq!(post(&mut s, 1, 1), PostOutcome::Duplicate(1));
        assert_eq!(
            post(&mut s, 2, 1),
            PostOutcome::Stored(2),
            "same id, other mailbox"
        );
        assert_eq!(post(&mut s, 1, 2), PostOutcome::Stored(3));
        assert_eq!(post(&mut s, 1, 3), PostOutcome::MailboxFull("envelopes"));
        assert_eq!(
            post(&mut s, 1, 2),
            PostOutcome::Duplicate(3),
            "a duplicate is a duplicate even when the mailbox is full"
        );
        // Acknowledging the newest envelopes, then restarting, never gives a seq out twice.
        assert_eq!(ack(&mut s, 1, 3), 2);
        assert_eq!(ack(&mut s, 2, 3), 1);
        assert_eq!(
            post(&mut s, 1, 4),
            PostOutcome::Stored(4),
            "counts follow the ack"
        );
        assert_eq!(ack(&mut s, 1, 4), 1);
        s.close();
        let mut s = state(&p, 2);
        assert_eq!(post(&mut s, 1, 5), PostOutcome::Stored(5));
        assert_eq!(post(&mut s, 1, 6), PostOutcome::Stored(6));
        assert_eq!(post(&mut s, 1, 7), PostOutcome::MailboxFull("envelopes"));
        s.close();
        let s = state(&p, 2);
        assert_eq!(s.next_seq, 7, "posts alone are recovered from max(seq)");
        let (count, bytes): (i64, i64) = s
            .conn
            .query_row("SELECT count, bytes FROM mailboxes", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(
            (count, bytes),
            (2, 200),
            "the cached counters were written back"
        );
    }
}
