//! `pigeon serve`: run a relay; its operator's commands are in [`admin`].
//!
//! The running relay prints one `{"type":"listening",…}` line on stdout for scripts (the
//! only stdout it writes), notes for people on stderr, and event lines on stderr.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;

mod admin;
use crate::cli::{ServeArgs, ServeCommand, ServeRunArgs};
use crate::error::{Exit, fail};
use crate::output;
use crate::relay::names::check_public_url;
use crate::relay::{self, config, netinfo};
use crate::tracker::{self, TrackerConfig};

pub fn run(ctx: &Ctx, args: ServeArgs) -> Result<Exit> {
    match args.command {
        Some(ServeCommand::Token { label, expires, db }) => {
            admin::token(ctx, &label, expires.as_deref(), db)
        }
        Some(ServeCommand::Unblock { addr, db }) => admin::unblock(ctx, &addr, db),
        Some(ServeCommand::Blocks { db }) => admin::blocks(ctx, db),
        Some(ServeCommand::Tokens { db }) => admin::tokens(ctx, db),
        Some(ServeCommand::Revoke { id, db }) => admin::revoke(ctx, &id, db),
        None => serve(ctx, &args.run),
    }
}

fn serve(ctx: &Ctx, args: &ServeRunArgs) -> Result<Exit> {
    let file = config::load_file(&ctx.home)?;
    let cfg = config::resolve(args, file, &ctx.home)?;
    let mut tracker = cfg.tracker.clone().map(TrackerConfig::defaults);
    if let Some(t) = &mut tracker {
        for p in &args.tracker_peers {
            check_public_url(p).map_err(|e| fail(Exit::Usage, format!("--peer: {e}")))?;
        }
        t.peers = args.tracker_peers.clone();
    }
    run_server(ctx, cfg, tracker)
}

/// Runs a relay, a relay with a tracker beside it, or (with `cfg.mailboxes` false) a tracker
/// alone, until SIGTERM or SIGINT.
pub(super) fn run_server(
    ctx: &Ctx,
    cfg: relay::RelayConfig,
    tracker: Option<TrackerConfig>,
) -> Result<Exit> {
    if let Some(limit) = open_files_limit()
        && u64::from(cfg.max_connections) + 64 > limit
    {
        ctx.say(format!(
            "warning: max_connections is {} but only {limit} files may be open; \
             raise the limit (LimitNOFILE=, ulimit -n) or lower --max-connections",
            cfg.max_connections
        ));
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        // Blocking threads run SQLite reads, which the reader pool bounds anyway.
        .max_blocking_threads(cfg.readers + 4)
        .thread_stack_size(512 * 1024)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(serve_until_signal(ctx, cfg, tracker));
    // Tasks left after the grace time must not hold up the exit.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// What runs: the relay, or the relay plumbing with a tracker mounted.
enum Server {
    Relay(relay::Relay),
    Tracker(tracker::Running),
}

impl Server {
    fn relay(&self) -> &relay::Relay {
        match self {
            Server::Relay(r) => r,
            Server::Tracker(t) => &t.relay,
        }
    }

    async fn shutdown(self) -> Result<()> {
        match self {
            Server::Relay(r) => r.shutdown().await,
            Server::Tracker(t) => t.shutdown().await,
        }
    }
}

async fn serve_until_signal(
    ctx: &Ctx,
    cfg: relay::RelayConfig,
    tracker: Option<TrackerConfig>,
) -> Result<Exit> {
    use tokio::signal::unix::{SignalKind, signal};
    // Installed before the startup line, so a supervisor that signals right after reading
    // it does not kill the relay mid-write.
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let (name, db, admission) = (cfg.name.clone(), cfg.db.clone(), cfg.admission());
    let (public_urls, web) = (cfg.public_urls.clone(), cfg.web && cfg.mailboxes);
    let what = match (&tracker, cfg.mailboxes) {
        (Some(_), false) => "pigeon tracker".to_string(),
        (Some(t), true) => format!(
            "pigeon relay {name:?} with a tracker (database {})",
            t.db.display()
        ),
        (None, _) => format!("pigeon relay {name:?}"),
    };
    let server = match tracker {
        Some(t) => Server::Tracker(tracker::start(cfg, t).await?),
        None => Server::Relay(relay::start(cfg).await?),
    };
    let r = server.relay();
    let addr = r.addr();
    // The names clients are meant to use come first: those on the relay's cards.
    let mut join = public_urls.clone();
    for u in netinfo::join_urls(addr) {
        if !join.contains(&u) {
            join.push(u);
        }
    }
    ctx.say(format!(
        "{what} listening on {} (database {}, posting {admission})",
        netinfo::url(addr),
        db.display()
    ));
    if addr.ip().is_unspecified() || !public_urls.is_empty() {
        for j in &join {
            ctx.say(format!("  join by {j}"));
        }
    }
    if web {
        let page = join.first().cloned().unwrap_or_else(|| netinfo::url(addr));
        ctx.say(format!(
            "  web client at {}/ (people who open it can write only to those whose card lists this relay)",
            page.trim_end_matches('/')
        ));
    }
    if r.names().is_strict() {
        ctx.say(format!(
            "  signed requests must name this relay: {}",
            r.names().describe()
        ));
    } else {
        // Not quiet-able: the operator should know the relay is less strict than it can be.
        eprintln!(
            "pigeon relay: warning: listening on all interfaces without --public-url, so signed \
             requests naming any host on port {} are accepted (a request signed for another \
             relay on that port could be replayed here); set --public-url to the URLs \
             clients use",
            addr.port()
        );
    }
    let line = json!({"type": "listening", "addr": addr.to_string(), "url": netinfo::url(addr), "join": join});
    if let Err(e) = output::json_line(&mut std::io::stdout().lock(), &line) {
        // A closed stdout must not stop a relay people depend on.
        ctx.say(format!(
            "note: cannot write the listening line to stdout: {e}"
        ));
    }
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    ctx.say("stopping: finishing requests in flight");
    server.shutdown().await?;
    ctx.say("stopped");
    Ok(Exit::Ok)
}

/// The soft limit on open files, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
