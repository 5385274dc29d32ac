//! One group of operations in one transaction: the writer thread's state (next seq, total
//! bytes, cached mailbox rows), and the replies sent only once the commit is on disk.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::{Op, PostOutcome, Quotas};
use crate::relay::metrics::Metrics;
use crate::relay::ops::{Mbox, SharedRows, ack, flush, is_disk_full, post_one, settle, sweep};
use crate::relay::storage;
use crate::relay::waiters::Waiters;

/// The first seq of a new database: unix time in microseconds.
fn first_seq() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_micros() as u64)
        .max(1)
}

/// A reply to send once the transaction's fate is known.
enum Pending {
    Post(oneshot::Sender<Vec<PostOutcome>>, Vec<PostOutcome>),
    Ack(oneshot::Sender<Result<u64, String>>, u64),
    Sweep(oneshot::Sender<Result<u64, String>>, u64),
    Block(oneshot::Sender<Result<(), String>>),
}

pub(super) struct State {
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
    pub(super) fn load(
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

    pub(super) fn run_group(&mut self, ops: Vec<Op>) {
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
        let mut shared = SharedRows::new();
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
                        let out = post_one(
                            &tx,
                            &mut mboxes,
                            &mut shared,
                            &quotas,
                            &mut seq,
                            &mut total,
                            now,
                            &item,
                        )?;
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
                    settle(&tx, &mut shared)?;
                    let n = ack(&tx, &mbox, upto, not_after, &mut total)?;
                    mboxes.clear();
                    deleted |= n > 0;
                    pending.push(Pending::Ack(reply, n));
                }
                Op::Sweep { limit, reply } => {
                    flush(&tx, &mut mboxes)?;
                    settle(&tx, &mut shared)?;
                    let n = sweep(&tx, now, limit, &mut total)?;
                    mboxes.clear();
                    deleted |= n > 0;
                    pending.push(Pending::Sweep(reply, n));
                }
                Op::Block {
                    addr,
                    lockout: Some((until, count)),
                    reply,
                } => {
                    crate::relay::operator::record_lockout(&tx, &addr, until, count)?;
                    pending.push(Pending::Block(reply));
                }
                Op::Block {
                    addr,
                    lockout: None,
                    reply,
                } => {
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
        settle(&tx, &mut shared)?;
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

    pub(super) fn close(self) {
        // Fold the WAL back into the main file so a clean stop leaves one file behind.
        let _ = self.conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
        if let Err((_, e)) = self.conn.close() {
            eprintln!("pigeon relay: closing the database: {e}");
        }
    }
}
