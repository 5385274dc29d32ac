//! The one writer: a thread that owns the write connection and commits in groups.
//!
//! Handlers queue operations on a channel and wait for the answer. The thread takes
//! everything queued, runs it in one transaction, commits with one fsync (WAL,
//! `synchronous=FULL`), and only then answers each waiter. So a 201 is never sent for an
//! envelope that a power cut could lose, and throughput does not fall to one fsync per post.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::metrics::Metrics;
use super::ops::{Mbox, ack, flush, is_disk_full, post_one, sweep};
use super::storage;
use super::waiters::Waiters;

/// Operations taken in one transaction, at most.
const MAX_GROUP: usize = 2048;
/// Payload bytes taken in one transaction, at most (more waits for the next one).
const MAX_GROUP_BYTES: usize = 16 << 20;

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
    /// The filesystem is full: nothing of the transaction was stored.
    DiskFull,
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
        not_after: u64,
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
                let run = std::panic::AssertUnwindSafe(move || {
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
                });
                if std::panic::catch_unwind(run).is_err() {
                    // A relay that cannot write must not linger half alive: exit, and let
                    // the supervisor restart it. Everything acknowledged is on disk.
                    eprintln!("pigeon relay: the writer thread failed; exiting");
                    std::process::exit(1);
                }
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
    /// Deletes envelopes of `mbox` up to `upto` that arrived at or before `not_after`.
    pub async fn ack(&self, mbox: [u8; 32], upto: u64, not_after: u64) -> Result<u64, String> {
        self.ask(|reply| Op::Ack {
            mbox,
            upto,
            not_after,
            reply,
        })
        .await?
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

/// The first seq of a new database: unix time in microseconds.
fn first_seq() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_micros() as u64)
        .max(1)
}

fn op_bytes(op: &Op) -> usize {
    match op {
        Op::Post { items, .. } => items.iter().map(|i| i.payload.len()).sum(),
        _ => 0,
    }
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
    /// Mailbox rows kept between transactions (saves a lookup per post).
    mboxes: HashMap<[u8; 32], Mbox>,
}

/// Mailbox rows the writer keeps in memory between transactions, at most.
const MAX_CACHED_MAILBOXES: usize = 4096;

impl State {
    fn load(
        conn: Connection,
        quotas: Quotas,
        waiters: Arc<Waiters>,
        metrics: Arc<Metrics>,
    ) -> Result<State> {
        let stored = storage::meta_u64(&conn, "next_seq")?;
        let max: Option<i64> =
            conn.query_row("SELECT max(seq) FROM envelopes", [], |r| r.get(0))?;
        let next_seq = match (stored, max) {
            // No seq was ever assigned (a delete or sweep would have stored the counter):
            // start from the clock, in microseconds, so that a relay whose database was
            // deleted and recreated still hands out seqs above those clients saw before
            // (their cursors would otherwise skip every new envelope). 2^53 is centuries off.
            (None, None) => first_seq(),
            (s, m) => s.unwrap_or(1).max(m.unwrap_or(0) as u64 + 1),
        };
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
                            PostOutcome::DiskFull
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Taken out: a failed transaction returns early and leaves the cache empty.
        let mut mboxes = std::mem::take(&mut self.mboxes);
        let mut deleted = false;
        let mut seq = self.next_seq;
        let mut total = self.total_bytes;
        let mut stored_bytes = 0u64;
        let now = storage::now();
        for op in ops {
            match op {
                Op::Post { items, reply } => {
                    let mut outs = Vec::with_capacity(items.len());
                    for item in items {
                        let out =
                            post_one(&tx, &mut mboxes, &quotas, &mut seq, &mut total, now, &item)?;
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
                Op::Ack {
                    mbox,
                    upto,
                    not_after,
                    reply,
                } => {
                    flush(&tx, &mut mboxes)?;
                    let n = ack(&tx, &mbox, upto, not_after, &mut total)?;
                    mboxes.clear();
                    deleted |= n > 0;
                    pending.push(Pending::Ack(reply, n));
                }
                Op::Sweep { limit, reply } => {
                    flush(&tx, &mut mboxes)?;
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
        flush(&tx, &mut mboxes)?;
        // On start the next seq is max(stored, max(seq) + 1): only a transaction that
        // deletes can lower max(seq), so only it must store the counter (a page saved on
        // every posting commit).
        if deleted {
            tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?1)")?
                .execute(params![seq as i64])?;
        }
        tx.commit()?;
        if mboxes.len() <= MAX_CACHED_MAILBOXES {
            self.mboxes = mboxes;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(mbox: u8, id: u8, len: usize) -> NewEnvelope {
        NewEnvelope {
            mbox: [mbox; 32],
            id: [id; 16],
            ttl: 60,
            payload: vec![id; len],
        }
    }

    fn start(dir: &std::path::Path, quotas: Quotas) -> (Writer, JoinHandle<()>, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::default());
        let (w, h) = Writer::start(
            &dir.join("r.sqlite"),
            quotas,
            Arc::default(),
            metrics.clone(),
        )
        .unwrap();
        (w, h, metrics)
    }

    const ROOMY: Quotas = Quotas {
        max_envelopes: 1000,
        max_mailbox_bytes: 1 << 20,
        max_total_bytes: 1 << 30,
    };

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_posts_share_commits() {
        let d = tempfile::tempdir().unwrap();
        let (w, h, metrics) = start(d.path(), ROOMY);
        let tasks: Vec<_> = (0..200u8)
            .map(|i| {
                let w = w.clone();
                tokio::spawn(async move { w.post(vec![env(i % 4, i, 100)]).await.unwrap() })
            })
            .collect();
        let mut seqs = Vec::new();
        for t in tasks {
            match t.await.unwrap()[0] {
                PostOutcome::Stored(s) => seqs.push(s),
                ref o => panic!("{o:?}"),
            }
        }
        seqs.sort();
        seqs.dedup();
        assert_eq!(seqs.len(), 200, "every post got its own seq");
        let commits = metrics.commits.get();
        assert!(commits <= 100, "{commits} commits for 200 concurrent posts");
        w.stop().await;
        h.join().unwrap();
    }

    #[tokio::test]
    async fn duplicates_quotas_acks_and_seq_survive_restart() {
        let d = tempfile::tempdir().unwrap();
        // Each envelope also counts ROW_OVERHEAD bytes.
        let o = super::super::ops::ROW_OVERHEAD;
        let quotas = Quotas {
            max_envelopes: 2,
            max_mailbox_bytes: 250 + 2 * o,
            max_total_bytes: 400 + 3 * o,
        };
        let (w, h, _) = start(d.path(), quotas);
        // The same id twice in one group: stored once.
        let out = w.post(vec![env(1, 1, 100), env(1, 1, 100)]).await.unwrap();
        // A new database counts from the clock (microseconds): far above 1.
        let PostOutcome::Stored(b) = out[0] else {
            panic!("{out:?}")
        };
        assert!(b > 1_700_000_000_000_000, "{b}");
        assert_eq!(out, vec![PostOutcome::Stored(b), PostOutcome::Duplicate(b)]);
        let out = w.post(vec![env(1, 2, 200)]).await.unwrap();
        assert_eq!(out, vec![PostOutcome::MailboxFull("bytes")]);
        let out = w.post(vec![env(1, 3, 10), env(1, 4, 10)]).await.unwrap();
        assert_eq!(
            out,
            vec![
                PostOutcome::Stored(b + 1),
                PostOutcome::MailboxFull("envelopes")
            ]
        );
        // Full, but a re-post of a stored id is still a success.
        let out = w.post(vec![env(1, 1, 100)]).await.unwrap();
        assert_eq!(out, vec![PostOutcome::Duplicate(b)]);
        let out = w.post(vec![env(2, 5, 250), env(3, 6, 100)]).await.unwrap();
        assert_eq!(
            out,
            vec![PostOutcome::Stored(b + 2), PostOutcome::RelayFull]
        );
        assert_eq!(w.ack([1; 32], b, u64::MAX).await.unwrap(), 1);
        assert_eq!(w.ack([1; 32], b, u64::MAX).await.unwrap(), 0);
        assert_eq!(w.ack([9; 32], b + 100, u64::MAX).await.unwrap(), 0);
        assert_eq!(
            w.post(vec![env(1, 7, 10)]).await.unwrap(),
            vec![PostOutcome::Stored(b + 3)]
        );
        // Delete everything: the next seq must still be new after a restart.
        assert_eq!(w.ack([1; 32], b + 100, u64::MAX).await.unwrap(), 2);
        assert_eq!(w.ack([2; 32], b + 100, u64::MAX).await.unwrap(), 1);
        w.stop().await;
        h.join().unwrap();
        let (w, h, _) = start(d.path(), quotas);
        assert_eq!(
            w.post(vec![env(1, 8, 10)]).await.unwrap(),
            vec![PostOutcome::Stored(b + 4)]
        );
        w.stop().await;
        h.join().unwrap();
        // Posting commits do not store the counter; the stored rows carry it.
        let (w, h, _) = start(d.path(), quotas);
        assert_eq!(
            w.post(vec![env(1, 9, 10)]).await.unwrap(),
            vec![PostOutcome::Stored(b + 5)]
        );
        w.stop().await;
        h.join().unwrap();
    }
}
