//! The relay (`pigeon serve`): stores opaque envelopes per mailbox until their owner fetches
//! and acknowledges them, or their TTL runs out. It never sees names, senders or plaintext,
//! and it only checks Ed25519 request signatures: nothing here imports `crypto` or `keys`.
//!
//! - [`config`]: settings and their precedence;
//! - [`storage`] and [`writer`]: the SQLite file, group commit, read pool, sweeping;
//! - [`routes`], [`mailbox`] and [`reply`]: the HTTP API;
//! - [`server`]: connections, timeouts, and the checks before routing;
//! - [`auth`], [`admission`], [`limits`]: signed requests, passwords and tokens, lockouts
//!   and blocks, rates and budgets;
//! - [`web`]: the optional web client at `/` (`--web`).
//!
//! [`start`] runs a relay inside the current tokio runtime and returns a [`Relay`] handle
//! with the bound address; [`Relay::shutdown`] stops it cleanly. `cmd/serve.rs` wraps this
//! for the command line; tests may use it in-process.

pub mod admission;
mod announce;
pub mod auth;
pub mod config;
mod fanout;
mod hooks;
pub mod limits;
pub mod mailbox;
pub mod metrics;
pub mod names;
pub mod netinfo;
pub mod operator;
mod ops;
pub mod outgoing;
pub mod reply;
pub mod routes;
pub mod server;
pub mod source;
pub mod storage;
mod strikes;
mod timed_io;
pub mod tokens;
pub mod waiters;
pub mod web;
pub mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

pub use config::RelayConfig;

use crate::error::WithHint;
use admission::{Admission, AdmissionConfig};
use limits::{BodyBudget, RateLimiter, SourceQuota};
use metrics::Metrics;
use names::Names;
use storage::Readers;
use waiters::Waiters;
use writer::{Quotas, Writer};

/// Expired envelopes deleted per transaction while sweeping, so a large sweep does not hold
/// up posts for long.
const SWEEP_CHUNK: usize = 2000;
/// How often the relay re-reads the blocks table to notice `pigeon serve unblock`.
const BLOCK_RELOAD: Duration = Duration::from_secs(1);

/// Everything the handlers share.
pub struct App {
    pub cfg: RelayConfig,
    pub writer: Writer,
    pub readers: Arc<Readers>,
    pub waiters: Arc<Waiters>,
    pub metrics: Arc<Metrics>,
    pub admission: Admission,
    pub rate: RateLimiter,
    pub replay: auth::ReplayCache,
    pub bodies: BodyBudget,
    /// What each source stored this hour.
    pub per_source: SourceQuota,
    /// The hosts signed requests may name.
    pub names: Names,
    /// Connections open per source address.
    pub conns_per_source: server::PerSource,
    /// Turns true when the relay is stopping; long polls return early.
    pub shutdown: watch::Receiver<bool>,
    /// The database's instance id, sent with every fetch.
    pub instance: String,
    /// More `/metrics` text from what is mounted beside the relay (the tracker).
    pub extra_metrics: std::sync::OnceLock<Box<dyn Fn() -> String + Send + Sync>>,
}

/// Routes served beside (or, with `cfg.mailboxes` false, instead of) the relay's own,
/// behind the same connection limits, lockouts, rate limits and metrics. Given the shared
/// state, so its handlers can use the relay's admission, limits and body reading.
pub type Mount = Box<dyn FnOnce(&Arc<App>) -> axum::Router + Send>;

/// A running relay.
pub struct Relay {
    addr: SocketAddr,
    app: Arc<App>,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    conns: Arc<Semaphore>,
    writer_thread: std::thread::JoinHandle<()>,
}

/// Opens the database, binds the address and starts serving.
pub async fn start(cfg: RelayConfig) -> Result<Relay> {
    start_with(cfg, Box::new(|_| axum::Router::new())).await
}

/// [`start`], with `mount`'s routes served too.
pub async fn start_with(cfg: RelayConfig, mount: Mount) -> Result<Relay> {
    let metrics = Arc::new(Metrics::default());
    let waiters = Arc::new(Waiters::default());
    let (secret, blocked, instance, revoked) = {
        let conn = storage::open_rw(&cfg.db)?;
        (
            storage::token_secret(&conn)?,
            storage::blocked(&conn)?,
            storage::instance_id(&conn)?,
            operator::revoked(&conn)?,
        )
    };
    let quotas = Quotas {
        max_envelopes: cfg.max_envelopes,
        max_mailbox_bytes: cfg.max_mailbox_bytes,
        max_total_bytes: cfg.max_total_bytes,
    };
    let (writer, writer_thread) = Writer::start(&cfg.db, quotas, waiters.clone(), metrics.clone())?;
    let readers = Readers::open(&cfg.db, cfg.readers)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))
        .hint("is another relay running there? choose another address with --listen")?;
    let addr = listener.local_addr()?;

    let (stop, shutdown) = watch::channel(false);
    let admission = Admission::new(
        AdmissionConfig {
            password: cfg.password.clone(),
            require_token: cfg.require_token,
            secret,
            max_failures: cfg.max_failures,
            lockout: cfg.lockout,
            max_lockouts: cfg.max_lockouts,
            on_event: cfg.on_event.clone(),
        },
        blocked,
    );
    admission.sync_revoked(revoked);
    let app = Arc::new(App {
        names: Names::new(addr, &cfg.public_urls),
        per_source: SourceQuota::new(cfg.max_bytes_per_source_hour),
        conns_per_source: server::PerSource::default(),
        rate: RateLimiter::new(cfg.rate),
        bodies: BodyBudget::new(cfg.max_inflight_bytes),
        replay: auth::ReplayCache::default(),
        cfg,
        writer,
        readers,
        waiters,
        metrics,
        admission,
        shutdown: shutdown.clone(),
        instance,
        extra_metrics: std::sync::OnceLock::new(),
    });
    let conns = Arc::new(Semaphore::new(app.cfg.max_connections as usize));
    let router = routes::router(app.clone()).merge(mount(&app));
    let accept = tokio::spawn(server::accept_loop(
        listener,
        app.clone(),
        router,
        conns.clone(),
        shutdown,
    ));
    let mut background = vec![
        tokio::spawn(sweeper(app.clone())),
        tokio::spawn(block_watcher(app.clone())),
    ];
    if !app.cfg.announce_to.is_empty() {
        background.push(tokio::spawn(announce::announcer(app.clone(), addr)));
    }
    Ok(Relay {
        addr,
        app,
        stop,
        accept,
        background,
        conns,
        writer_thread,
    })
}

impl Relay {
    /// Where the relay listens (with the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The hosts it answers signed requests for.
    pub fn names(&self) -> &Names {
        &self.app.names
    }

    /// Stops accepting, lets requests in flight finish (up to the grace time), then lets
    /// the writer commit what is queued and close the database.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(true);
        let _ = self.accept.await;
        for task in &self.background {
            task.abort();
        }
        let all = self.app.cfg.max_connections;
        if tokio::time::timeout(self.app.cfg.shutdown_grace, self.conns.acquire_many(all))
            .await
            .is_err()
        {
            eprintln!("pigeon relay: connections still open after the grace time; closing anyway");
        }
        // Readers first: the last connection to close removes the WAL, and only the
        // writer's may.
        self.app.readers.close().await;
        self.app.writer.stop().await;
        join_thread(self.writer_thread, "the writer thread failed").await
    }
}

/// Waits for a thread (a database writer, asked to stop) without blocking the runtime.
pub async fn join_thread(t: std::thread::JoinHandle<()>, failed: &'static str) -> Result<()> {
    tokio::task::spawn_blocking(move || t.join())
        .await
        .ok()
        .and_then(|r| r.ok())
        .context(failed)
}

/// Deletes expired envelopes, and forgets stale rate, replay and strike entries.
async fn sweeper(app: Arc<App>) {
    let mut tick = tokio::time::interval(app.cfg.sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match app.writer.sweep(SWEEP_CHUNK).await {
                Ok(n) if n as usize == SWEEP_CHUNK => continue,
                Ok(_) => break,
                Err(e) => {
                    eprintln!("pigeon relay: sweeping expired envelopes: {e}");
                    break;
                }
            }
        }
        let now = Instant::now();
        app.rate.prune(now);
        app.replay.prune(storage::now());
        app.admission.prune(now);
        app.per_source.prune(now);
    }
}

/// Notices blocks and lockouts lifted by `pigeon serve unblock` and tokens revoked by
/// `pigeon serve revoke` (another process editing the database).
async fn block_watcher(app: Arc<App>) {
    let mut tick = tokio::time::interval(BLOCK_RELOAD);
    loop {
        tick.tick().await;
        let started = Instant::now();
        match app.readers.run(storage::blocked).await {
            Ok(set) => app.admission.sync_blocks(set, started),
            Err(e) => eprintln!("pigeon relay: reading blocks: {e:#}"),
        }
        let now = storage::now();
        match app.readers.run(move |c| operator::locked_out(c, now)).await {
            Ok(set) => app.admission.sync_lockouts(set, started),
            Err(e) => eprintln!("pigeon relay: reading lockouts: {e:#}"),
        }
        match app.readers.run(operator::revoked).await {
            Ok(set) => app.admission.sync_revoked(set),
            Err(e) => eprintln!("pigeon relay: reading revoked tokens: {e:#}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The relay runs in-process too: start, serve a request, stop.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn starts_serves_and_stops_in_process() {
        let d = tempfile::tempdir().unwrap();
        let mut cfg = RelayConfig::defaults(d.path().join("relay.sqlite"));
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        let relay = start(cfg).await.unwrap();
        let url = format!("http://{}/v1/info", relay.addr());
        let body = tokio::task::spawn_blocking(move || {
            ureq::get(&url)
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(body.contains("\"admission\":\"open\""), "{body}");
        relay.shutdown().await.unwrap();
        assert!(!d.path().join("relay.sqlite-wal").exists());
    }
}
