//! The tracker (`pigeon tracker serve`, or `pigeon serve --tracker` beside a relay): a
//! directory of signed cards by fingerprint and by name, and of relays, mirrored with peer
//! trackers. See `docs/protocol.md`, "Tracker".
//!
//! It runs on the relay's server plumbing ([`crate::relay::start_with`]): the same
//! connection limits, timeouts, source addresses, rate limits, lockouts, blocks, signed
//! request checks and `/metrics`. What it adds:
//!
//! - [`routes`]: the HTTP API; [`accept`]: every card is checked by [`crate::card`] and
//!   against the tracker's limits before it is stored, whether a person published it or a
//!   peer's mirror brought it;
//! - [`store`] and [`writer`]: the SQLite file and its one writing thread (group commit);
//! - [`peers`]: mirroring (pull with a since-cursor, push on change).
//!
//! It needs no secret key and sees no message: it imports card *verification* only, never
//! `keys` nor any decryption.

pub mod accept;
pub mod peers;
pub mod routes;
pub mod store;
pub mod writer;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::task::JoinHandle;

use crate::relay::limits::SourceQuota;
use crate::relay::metrics::Counter;
use crate::relay::storage::Readers;
use crate::relay::{self, RelayConfig};
use writer::Writer;

/// The longest lifetime a card may have left by default: pigeon's cards are valid for two
/// years from their issue (`keys::identity`), and a month more leaves room for a clock
/// that runs ahead.
pub const DEFAULT_MAX_LIFETIME: u64 = (2 * 365 + 30) * 86_400;

/// What the tracker itself needs; the plumbing's settings are the relay's [`RelayConfig`].
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    pub db: PathBuf,
    pub peers: Vec<String>,
    pub pull_interval: Duration,
    /// Largest card accepted, in bytes.
    pub max_card: u64,
    /// Cards held at most (anyone can make identities; the disk is not theirs to fill).
    pub max_cards: u64,
    /// Bytes of cards held at most, all cards together.
    pub max_bytes: u64,
    /// Bytes of cards one source address may have stored per hour; 0 means no cap.
    pub max_bytes_per_source_hour: u64,
    /// Longest a card may still be valid when it arrives, in seconds: every card must have
    /// an `expires` at most this far ahead, so whatever is stored leaves by itself.
    pub max_lifetime: u64,
    /// Read-only connections serving lookups.
    pub readers: usize,
}

impl TrackerConfig {
    pub fn defaults(db: PathBuf) -> TrackerConfig {
        TrackerConfig {
            db,
            peers: Vec::new(),
            pull_interval: Duration::from_secs(300),
            max_card: 64 << 10,
            max_cards: 1_000_000,
            max_bytes: 2 << 30,
            max_bytes_per_source_hour: 4 << 20,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            readers: 4,
        }
    }
}

/// Counters for `/metrics`, beside the relay's.
#[derive(Default)]
pub struct TrackerMetrics {
    pub stored: Counter,
    pub same: Counter,
    pub refused: Counter,
    pub released: Counter,
    pub mirrored: Counter,
    pub pushed: Counter,
    pub peer_errors: Counter,
    pub announced: Counter,
}

impl TrackerMetrics {
    fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, c) in [
            (
                "stored",
                "Cards stored (new or a higher seq).",
                &self.stored,
            ),
            ("same", "Cards published again byte for byte.", &self.same),
            ("refused", "Cards refused (any reason).", &self.refused),
            (
                "released",
                "Names released by signed request.",
                &self.released,
            ),
            (
                "mirrored",
                "Cards stored from a peer's pull.",
                &self.mirrored,
            ),
            ("pushed", "Cards pushed to peers.", &self.pushed),
            ("peer_errors", "Failed pulls and pushes.", &self.peer_errors),
            ("announced", "Relay announcements taken.", &self.announced),
        ] {
            let _ = writeln!(
                out,
                "# HELP pigeon_tracker_{name}_total {help}\n# TYPE pigeon_tracker_{name}_total counter\npigeon_tracker_{name}_total {}",
                c.get()
            );
        }
        out
    }
}

/// Everything the tracker's handlers share (with the relay's [`relay::App`] beside it).
pub struct Tracker {
    pub cfg: TrackerConfig,
    pub writer: Writer,
    pub readers: Arc<Readers>,
    pub metrics: TrackerMetrics,
    /// Cards to push to peers; full means the next pull of theirs catches up.
    pub push: Option<tokio::sync::mpsc::Sender<(String, Vec<u8>)>>,
    /// Whether it serves its own `/v1/info` (a tracker alone) or the relay does.
    pub alone: bool,
    /// What each source stored this hour (the tracker's own, not the relay's mailboxes').
    pub per_source: SourceQuota,
}

/// A running tracker (and relay, when mounted).
pub struct Running {
    pub relay: relay::Relay,
    tracker: Arc<Tracker>,
    tasks: Vec<JoinHandle<()>>,
    writer_thread: std::thread::JoinHandle<()>,
}

/// Starts a tracker on the relay plumbing configured by `plumbing`: alone when
/// `plumbing.mailboxes` is false (then `plumbing.db` is the tracker's file too), else beside
/// the relay.
pub async fn start(plumbing: RelayConfig, cfg: TrackerConfig) -> Result<Running> {
    let (writer, writer_thread) = Writer::start(
        &cfg.db,
        writer::Caps {
            cards: cfg.max_cards,
            bytes: cfg.max_bytes,
            lifetime: cfg.max_lifetime,
        },
    )?;
    let readers = Readers::open(&cfg.db, cfg.readers)?;
    let (push_tx, push_rx) = if cfg.peers.is_empty() {
        (None, None)
    } else {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        (Some(tx), Some(rx))
    };
    let tracker = Arc::new(Tracker {
        alone: !plumbing.mailboxes,
        per_source: SourceQuota::new(cfg.max_bytes_per_source_hour),
        cfg,
        writer,
        readers,
        metrics: TrackerMetrics::default(),
        push: push_tx,
    });
    let sweep_every = plumbing.sweep_interval;
    let t = tracker.clone();
    let relay = relay::start_with(
        plumbing,
        Box::new(move |app| {
            let m = t.clone();
            let _ = app.extra_metrics.set(Box::new(move || m.metrics.render()));
            routes::router(app.clone(), t)
        }),
    )
    .await
    .context("cannot start the tracker")?;
    let mut tasks = vec![tokio::spawn(sweeper(tracker.clone(), sweep_every))];
    if let Some(rx) = push_rx {
        tasks.push(tokio::spawn(peers::pusher(tracker.clone(), rx)));
        tasks.push(tokio::spawn(peers::puller(tracker.clone())));
    }
    Ok(Running {
        relay,
        tracker,
        tasks,
        writer_thread,
    })
}

impl Running {
    pub fn addr(&self) -> SocketAddr {
        self.relay.addr()
    }

    /// Stops the server (requests in flight finish), then the tracker's writer.
    pub async fn shutdown(self) -> Result<()> {
        for t in &self.tasks {
            t.abort();
        }
        self.relay.shutdown().await?;
        self.tracker.readers.close().await;
        self.tracker.writer.stop().await;
        relay::join_thread(self.writer_thread, "the tracker's writer thread failed").await
    }
}

/// Deletes expired cards (freeing their names) and relays not seen for long.
async fn sweeper(t: Arc<Tracker>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = t.writer.sweep().await {
            eprintln!("pigeon tracker: sweeping expired cards: {e}");
        }
        t.per_source.prune(std::time::Instant::now());
    }
}
