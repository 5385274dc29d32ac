//! The one writer: a thread that owns the write connection and commits in groups.
//!
//! Handlers queue operations on a channel and wait for the answer. The thread takes
//! everything queued, runs it in one transaction, commits with one fsync (WAL,
//! `synchronous=FULL`), and only then answers each waiter. So a 201 is never sent for an
//! envelope that a power cut could lose, and throughput does not fall to one fsync per post.
//!
//! This file is the handle and the thread's loop; [`commit`] runs one group's transaction.

use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use tokio::sync::{mpsc, oneshot};

use super::metrics::Metrics;
use super::ops::{DIGEST_LEN, payload_digest};
use super::storage;
use super::waiters::Waiters;
use commit::State;

mod commit;
#[cfg(test)]
mod shared_tests;
#[cfg(test)]
mod tests;

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
    /// Shared by every mailbox of one fan-out item (one copy in memory).
    pub payload: Arc<Vec<u8>>,
    /// Of the payload: with `mbox` and `id`, what makes a post a duplicate.
    pub digest: [u8; DIGEST_LEN],
    /// Stored once in `payloads` and referenced, not inline in the envelope row: set for
    /// fan-out items, whose one payload goes to many mailboxes.
    pub shared: bool,
}

impl NewEnvelope {
    /// Computes the payload digest here, on the handler's thread, not on the writer's.
    pub fn new(mbox: [u8; 32], id: [u8; 16], ttl: u64, payload: Vec<u8>) -> NewEnvelope {
        NewEnvelope {
            mbox,
            id,
            ttl,
            digest: payload_digest(&payload),
            payload: Arc::new(payload),
            shared: false,
        }
    }

    /// One payload for many mailboxes: the digest is computed once and the bytes are
    /// shared, in memory and in the relay's file.
    pub fn fan_out(mboxes: &[[u8; 32]], id: [u8; 16], ttl: u64, payload: Vec<u8>) -> Vec<Self> {
        NewEnvelope::new([0; 32], id, ttl, payload).to_mailboxes(mboxes)
    }

    /// This envelope (its digest already computed) for each of `mboxes`, the bytes shared.
    pub fn to_mailboxes(&self, mboxes: &[[u8; 32]]) -> Vec<Self> {
        (mboxes.iter())
            .map(|&mbox| NewEnvelope {
                mbox,
                id: self.id,
                ttl: self.ttl,
                payload: Arc::clone(&self.payload),
                digest: self.digest,
                shared: true,
            })
            .collect()
    }
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
    /// Records a block, or (with `lockout`: until, count) a source lockout.
    Block {
        addr: String,
        lockout: Option<(u64, u32)>,
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
        self.ask(|reply| Op::Block {
            addr,
            lockout: None,
            reply,
        })
        .await?
    }
    /// Records a source lockout until `until` (unix seconds), for `pigeon serve blocks`.
    pub async fn lockout(&self, addr: String, until: u64, count: u32) -> Result<(), String> {
        self.ask(|reply| Op::Block {
            addr,
            lockout: Some((until, count)),
            reply,
        })
        .await?
    }
    /// Asks the thread to finish what is queued, then close the database.
    pub async fn stop(&self) {
        let _ = self.tx.send(Op::Stop).await;
    }
}

fn op_bytes(op: &Op) -> usize {
    match op {
        // A shared payload counts once per group at most; counting it per item only makes
        // the group end sooner.
        Op::Post { items, .. } => items.iter().map(|i| i.payload.len()).sum(),
        _ => 0,
    }
}
