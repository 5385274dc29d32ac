//! `pigeon tracker serve`: a tracker alone, on the relay's plumbing (the relay's config
//! code reads the shared keys of `[tracker.serve]`; this file adds the tracker's own).

use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::Ctx;
use crate::cli::{ServeRunArgs, TrackerCommand, TrackerServeArgs};
use crate::error::{Exit, Fail, fail};
use crate::relay::config::{self, Secs};
use crate::relay::names::check_public_url;
use crate::tracker::TrackerConfig;

/// Where a tracker listens unless told: the relay's port plus one.
const DEFAULT_LISTEN: &str = "127.0.0.1:7448";

pub fn run(ctx: &Ctx, cmd: TrackerCommand) -> Result<Exit> {
    match cmd {
        TrackerCommand::Serve(a) => serve(ctx, &a),
        // The client side: announce, lookup, relays, release.
        other => super::tracker_client::run(ctx, other),
    }
}

/// The tracker's own keys of `[tracker.serve]`; the rest are the relay's `[serve]` keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTracker {
    peers: Option<Vec<String>>,
    pull_interval: Option<Secs>,
    max_card: Option<u64>,
    max_cards: Option<u64>,
    max_bytes: Option<u64>,
    max_bytes_per_source_hour: Option<u64>,
    max_lifetime: Option<Secs>,
}

fn load_file(ctx: &Ctx) -> Result<(config::FileServe, FileTracker)> {
    let cfg = crate::config::Config::load(&ctx.home)?;
    let mut table = cfg.tracker.serve;
    let mut own = toml::Table::new();
    for key in [
        "peers",
        "pull_interval",
        "max_card",
        "max_cards",
        "max_bytes",
        "max_bytes_per_source_hour",
        "max_lifetime",
    ] {
        if let Some(v) = table.remove(key) {
            own.insert(key.into(), v);
        }
    }
    let in_file = || format!("in [tracker.serve] of {}", ctx.home.config_file().display());
    let own = FileTracker::deserialize(toml::Value::Table(own))
        .map_err(|e| anyhow::anyhow!("{}", e.message().trim()))
        .context(Fail(Exit::Usage, in_file()))?;
    let shared = config::from_table(&table, &ctx.home.config).with_context(in_file)?;
    Ok((shared, own))
}

/// `pigeon tracker serve` (and `pigeond tracker`).
pub fn serve(ctx: &Ctx, a: &TrackerServeArgs) -> Result<Exit> {
    let (file, own) = load_file(ctx)?;
    let db =
        a.db.clone()
            .or(file.db.clone())
            .unwrap_or_else(|| ctx.home.tracker_db_path());
    let listen = a
        .listen
        .clone()
        .or(file.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.into());
    let run = ServeRunArgs {
        listen: Some(listen),
        db: Some(db.clone()),
        password_file: a.password_file.clone(),
        on_event: a.on_event.clone(),
        rate: a.rate,
        max_connections: a.max_connections,
        max_connections_per_source: a.max_connections_per_source,
        max_failures: a.max_failures,
        lockout: a.lockout.clone(),
        public_urls: a.public_urls.clone(),
        trusted_proxies: a.trusted_proxies.clone(),
        ..ServeRunArgs::default()
    };
    let mut cfg = config::resolve(&run, file, &ctx.home)?;
    cfg.mailboxes = false;
    let mut t = TrackerConfig::defaults(db);
    t.peers = if a.peers.is_empty() {
        own.peers.unwrap_or_default()
    } else {
        a.peers.clone()
    };
    for p in &t.peers {
        check_public_url(p).map_err(|e| fail(Exit::Usage, format!("--peer: {e}")))?;
    }
    t.max_card = a.max_card.or(own.max_card).unwrap_or(t.max_card);
    if t.max_card == 0 {
        return Err(fail(Exit::Usage, "--max-card must be at least 1"));
    }
    t.max_cards = a.max_cards.or(own.max_cards).unwrap_or(t.max_cards);
    t.max_bytes = a.max_bytes.or(own.max_bytes).unwrap_or(t.max_bytes);
    t.max_bytes_per_source_hour = a
        .max_bytes_per_source_hour
        .or(own.max_bytes_per_source_hour)
        .unwrap_or(t.max_bytes_per_source_hour);
    t.max_lifetime = match (&a.max_lifetime, &own.max_lifetime) {
        (Some(f), _) => {
            config::parse_duration(f).context(Fail(Exit::Usage, "bad --max-lifetime".into()))?
        }
        (None, Some(s)) => s.secs("max_lifetime")?,
        (None, None) => t.max_lifetime,
    };
    if t.max_lifetime == 0 {
        return Err(fail(Exit::Usage, "--max-lifetime must be longer than 0s"));
    }
    // The body limit of a tracker alone is the card limit: larger bodies are refused
    // before they are read.
    cfg.max_body = t.max_card;
    let pull = match (&a.pull_interval, &own.pull_interval) {
        (Some(f), _) => {
            config::parse_duration(f).context(Fail(Exit::Usage, "bad --pull-interval".into()))?
        }
        (None, Some(s)) => s.secs("pull_interval")?,
        (None, None) => t.pull_interval.as_secs(),
    };
    if pull == 0 {
        return Err(fail(Exit::Usage, "--pull-interval must be longer than 0s"));
    }
    t.pull_interval = Duration::from_secs(pull);
    super::serve::run_server(ctx, cfg, Some(t))
}
