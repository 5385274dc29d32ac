//! The relay's settings: defaults, the `[serve]` table of `config.toml`, env and flags.
//!
//! Precedence is flags > env `PIGEON_*` > file > defaults. Clap already folds the env into
//! the flags, so merging here is "flag or file or default". Unknown keys in the file are an
//! error naming the key: a typo must not silently leave a limit at its default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::source::Cidr;
use crate::cli::ServeRunArgs;
use crate::error::{Exit, Fail, WithHint};
use crate::home::Home;

/// Everything a running relay needs to know, validated.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub listen: SocketAddr,
    pub db: PathBuf,
    pub name: String,
    /// The relay password itself (read from `password_file`), when posting needs one.
    pub password: Option<String>,
    pub require_token: bool,
    /// Serve the web client at `/` (see `relay::web`).
    pub web: bool,
    /// Who may read `/metrics`.
    pub metrics: crate::cli::MetricsAccess,
    pub on_event: Option<String>,
    pub max_body: u64,
    pub max_envelopes: u64,
    pub max_mailbox_bytes: u64,
    pub max_total_bytes: u64,
    pub max_ttl: u64,
    pub default_ttl: u64,
    pub max_wait: u64,
    /// Envelopes in one fetch reply.
    pub max_page: u64,
    /// Items in one `POST /v1/batch`.
    pub max_batch: u64,
    /// Whether `POST /v1/fanout` is served (false: 404, as from a relay before it).
    pub fanout: bool,
    pub sweep_interval: Duration,
    /// Requests per second per source address; 0 means no limit.
    pub rate: u32,
    pub max_connections: u32,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_failures: u32,
    pub lockout: Duration,
    pub max_lockouts: u32,
    /// Read-only SQLite connections serving fetches.
    pub readers: usize,
    /// Request bodies held in memory at once, all connections together.
    pub max_inflight_bytes: u64,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// URLs clients reach the relay by, besides its bound address (see `names`).
    pub public_urls: Vec<String>,
    /// Proxies whose forwarding headers name the client.
    pub trusted_proxies: Vec<Cidr>,
    /// Connections open at once from one source address (trusted proxies exempt).
    pub max_connections_per_source: u32,
    /// How long a reply may wait for the client to read it before the connection closes.
    pub write_timeout: Duration,
    /// Stored bytes one source may add per hour; 0 means no cap.
    pub max_bytes_per_source_hour: u64,
    /// Serve the mailbox routes (false for a tracker alone, which borrows the plumbing).
    pub mailboxes: bool,
    /// The database of a tracker mounted beside the relay (`serve --tracker`).
    pub tracker: Option<PathBuf>,
    /// Trackers this relay announces itself to.
    pub announce_to: Vec<String>,
}

impl RelayConfig {
    /// The defaults, with the database at `db`.
    pub fn defaults(db: PathBuf) -> RelayConfig {
        RelayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7447)),
            db,
            name: "pigeon".into(),
            password: None,
            require_token: false,
            web: false,
            metrics: crate::cli::MetricsAccess::Open,
            on_event: None,
            max_body: 1 << 20,
            max_envelopes: 10_000,
            max_mailbox_bytes: 100 << 20,
            max_total_bytes: 1 << 30,
            max_ttl: 14 * DAY,
            default_ttl: 7 * DAY,
            max_wait: 60,
            max_page: 500,
            max_batch: 1000,
            fanout: true,
            sweep_interval: Duration::from_secs(60),
            rate: 50,
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_failures: 3,
            lockout: Duration::from_secs(600),
            max_lockouts: 3,
            readers: 2,
            max_inflight_bytes: 64 << 20,
            shutdown_grace: Duration::from_secs(10),
            public_urls: Vec::new(),
            trusted_proxies: Vec::new(),
            max_connections_per_source: 64,
            write_timeout: Duration::from_secs(30),
            max_bytes_per_source_hour: 0,
            mailboxes: true,
            tracker: None,
            announce_to: Vec::new(),
        }
    }

    /// How posting is admitted: `open`, `password` or `token` (as `/v1/info` says it).
    pub fn admission(&self) -> &'static str {
        if self.require_token {
            "token"
        } else if self.password.is_some() {
            "password"
        } else {
            "open"
        }
    }
}

const DAY: u64 = 86_400;

/// The `[serve]` table of `config.toml`. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileServe {
    pub listen: Option<String>,
    pub db: Option<PathBuf>,
    pub name: Option<String>,
    pub password_file: Option<PathBuf>,
    pub require_token: Option<bool>,
    pub web: Option<bool>,
    pub metrics: Option<crate::cli::MetricsAccess>,
    pub on_event: Option<String>,
    pub max_body: Option<u64>,
    pub max_envelopes: Option<u64>,
    pub max_mailbox_bytes: Option<u64>,
    pub max_total_bytes: Option<u64>,
    pub max_ttl: Option<Secs>,
    pub default_ttl: Option<Secs>,
    pub max_wait: Option<Secs>,
    pub max_page: Option<u64>,
    pub max_batch: Option<u64>,
    pub fanout: Option<bool>,
    pub sweep_interval: Option<Secs>,
    pub rate: Option<u32>,
    pub max_connections: Option<u32>,
    pub header_timeout: Option<Secs>,
    pub body_timeout: Option<Secs>,
    pub max_failures: Option<u32>,
    pub lockout: Option<Secs>,
    pub max_lockouts: Option<u32>,
    pub readers: Option<usize>,
    pub max_inflight_bytes: Option<u64>,
    pub shutdown_grace: Option<Secs>,
    pub public_url: Option<String>,
    pub public_urls: Option<Vec<String>>,
    pub trusted_proxies: Option<Vec<String>>,
    pub max_connections_per_source: Option<u32>,
    pub write_timeout: Option<Secs>,
    pub max_bytes_per_source_hour: Option<u64>,
    pub tracker: Option<bool>,
    pub tracker_db: Option<PathBuf>,
    pub announce_to: Option<Vec<String>>,
}

/// A duration in the file: a number of seconds or a string such as `"14d"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Secs {
    Number(u64),
    Text(String),
}

impl Secs {
    pub fn secs(&self, key: &str) -> Result<u64> {
        match self {
            Secs::Number(n) => Ok(*n),
            Secs::Text(t) => parse_duration(t).with_context(|| format!("[serve] {key}")),
        }
    }
}

/// Reads the `[serve]` table of the config file (read and checked as a whole by
/// [`crate::config::Config`]); a missing file is an empty table. Paths in the file are
/// relative to the file's folder.
pub fn load_file(home: &Home) -> Result<FileServe> {
    let cfg = crate::config::Config::load(home)?;
    from_table(&cfg.serve, &home.config)
        .with_context(|| format!("in {}", home.config_file().display()))
}

#[cfg(test)]
fn parse_file(text: &str, dir: &Path) -> Result<FileServe> {
    let cfg = crate::config::Config::parse(text).context(Fail(Exit::Usage, "bad TOML".into()))?;
    from_table(&cfg.serve, dir)
}

pub(crate) fn from_table(serve: &toml::Table, dir: &Path) -> Result<FileServe> {
    if serve.is_empty() {
        return Ok(FileServe::default());
    }
    let serve = toml::Value::Table(serve.clone());
    let mut file = FileServe::deserialize(serve.clone())
        .map_err(|e| anyhow::anyhow!("{}", e.message().trim()))
        .context(Fail(Exit::Usage, "bad [serve] table".into()))
        .hint("see `pigeon serve --help` for the keys; they are the flag names with _")?;
    for p in [&mut file.db, &mut file.password_file, &mut file.tracker_db]
        .into_iter()
        .flatten()
    {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    }
    Ok(file)
}

/// Merges flags (with env) over the file over the defaults, reads the password file, and
/// checks that the values make sense together.
pub fn resolve(args: &ServeRunArgs, file: FileServe, home: &Home) -> Result<RelayConfig> {
    let usage = |msg: String| anyhow::Error::new(Fail(Exit::Usage, msg));
    let db = args
        .db
        .clone()
        .or(file.db)
        .unwrap_or_else(|| home.relay_db_path());
    let mut c = RelayConfig::defaults(db);
    if let Some(l) = args.listen.clone().or(file.listen) {
        c.listen = l.parse().map_err(|_| {
            usage(format!(
                "--listen {l:?} is not an address like 0.0.0.0:7447"
            ))
        })?;
    }
    if let Some(n) = args.name.clone().or(file.name) {
        c.name = n;
    }
    if let Some(p) = args.password_file.clone().or(file.password_file) {
        c.password = Some(read_password(&p)?);
    }
    c.require_token = args.require_token || file.require_token.unwrap_or(false);
    c.web = args.web || file.web.unwrap_or(false);
    c.metrics = args.metrics.or(file.metrics).unwrap_or(c.metrics);
    c.on_event = args
        .on_event
        .clone()
        .or(file.on_event)
        .filter(|s| !s.is_empty());

    let num = |flag: Option<u64>, file: Option<u64>, default: u64| flag.or(file).unwrap_or(default);
    c.max_body = num(args.max_body, file.max_body, c.max_body);
    c.max_envelopes = num(args.max_envelopes, file.max_envelopes, c.max_envelopes);
    c.max_mailbox_bytes = num(
        args.max_mailbox_bytes,
        file.max_mailbox_bytes,
        c.max_mailbox_bytes,
    );
    c.max_total_bytes = num(
        args.max_total_bytes,
        file.max_total_bytes,
        c.max_total_bytes,
    );
    c.max_page = file.max_page.unwrap_or(c.max_page);
    c.max_batch = file.max_batch.unwrap_or(c.max_batch);
    c.fanout = file.fanout.unwrap_or(c.fanout);
    c.rate = args.rate.or(file.rate).unwrap_or(c.rate);
    c.max_connections = args
        .max_connections
        .or(file.max_connections)
        .unwrap_or(c.max_connections);
    c.max_failures = args
        .max_failures
        .or(file.max_failures)
        .unwrap_or(c.max_failures);
    c.max_lockouts = args
        .max_lockouts
        .or(file.max_lockouts)
        .unwrap_or(c.max_lockouts);
    c.readers = file.readers.unwrap_or(c.readers);
    c.max_connections_per_source = args
        .max_connections_per_source
        .or(file.max_connections_per_source)
        .unwrap_or(c.max_connections_per_source);
    c.max_bytes_per_source_hour = num(
        args.max_bytes_per_source_hour,
        file.max_bytes_per_source_hour,
        c.max_bytes_per_source_hour,
    );
    // Lists: the flags replace the file's, as a single value would.
    c.public_urls = if args.public_urls.is_empty() {
        file.public_url
            .into_iter()
            .chain(file.public_urls.into_iter().flatten())
            .collect()
    } else {
        args.public_urls.clone()
    };
    for u in &c.public_urls {
        super::names::check_public_url(u).map_err(|e| usage(format!("public_url: {e}")))?;
    }
    let proxies = if args.trusted_proxies.is_empty() {
        file.trusted_proxies.unwrap_or_default()
    } else {
        args.trusted_proxies.clone()
    };
    c.trusted_proxies = proxies
        .iter()
        .map(|p| Cidr::parse(p).map_err(|e| usage(format!("trusted_proxy: {e}"))))
        .collect::<Result<_>>()?;
    c.max_inflight_bytes = file.max_inflight_bytes.unwrap_or(c.max_inflight_bytes);
    if args.tracker || file.tracker.unwrap_or(false) {
        c.tracker = Some(
            args.tracker_db
                .clone()
                .or(file.tracker_db)
                .unwrap_or_else(|| home.tracker_db_path()),
        );
    }
    c.announce_to = if args.announce_to.is_empty() {
        file.announce_to.unwrap_or_default()
    } else {
        args.announce_to.clone()
    };
    for u in &c.announce_to {
        super::names::check_public_url(u).map_err(|e| usage(format!("announce_to: {e}")))?;
    }

    let dur =
        |flag: &Option<String>, file: &Option<Secs>, key: &str, default: u64| -> Result<u64> {
            match (flag, file) {
                (Some(f), _) => {
                    parse_duration(f).with_context(|| format!("--{}", key.replace('_', "-")))
                }
                (None, Some(s)) => s.secs(key),
                (None, None) => Ok(default),
            }
        };
    c.max_ttl = dur(&args.max_ttl, &file.max_ttl, "max_ttl", c.max_ttl)?;
    let explicit_default_ttl = args.default_ttl.is_some() || file.default_ttl.is_some();
    c.default_ttl = dur(
        &args.default_ttl,
        &file.default_ttl,
        "default_ttl",
        c.default_ttl,
    )?;
    c.max_wait = dur(&args.max_wait, &file.max_wait, "max_wait", c.max_wait)?;
    let secs = Duration::from_secs;
    c.sweep_interval = secs(dur(
        &args.sweep_interval,
        &file.sweep_interval,
        "sweep_interval",
        60,
    )?);
    c.header_timeout = secs(dur(
        &args.header_timeout,
        &file.header_timeout,
        "header_timeout",
        10,
    )?);
    c.body_timeout = secs(dur(
        &args.body_timeout,
        &file.body_timeout,
        "body_timeout",
        30,
    )?);
    c.lockout = secs(dur(&args.lockout, &file.lockout, "lockout", 600)?);
    c.shutdown_grace = secs(dur(&None, &file.shutdown_grace, "shutdown_grace", 10)?);
    c.write_timeout = secs(dur(
        &args.write_timeout,
        &file.write_timeout,
        "write_timeout",
        30,
    )?);

    if explicit_default_ttl && c.default_ttl > c.max_ttl {
        return Err(usage(format!(
            "default_ttl ({}s) is longer than max_ttl ({}s)",
            c.default_ttl, c.max_ttl
        )));
    }
    c.default_ttl = c.default_ttl.min(c.max_ttl);
    validate(&c).map_err(|e| usage(e.to_string()))?;
    Ok(c)
}

fn validate(c: &RelayConfig) -> Result<()> {
    let positive = [
        ("max_body", c.max_body),
        ("max_envelopes", c.max_envelopes),
        ("max_mailbox_bytes", c.max_mailbox_bytes),
        ("max_total_bytes", c.max_total_bytes),
        ("max_ttl", c.max_ttl),
        ("max_page", c.max_page),
        ("max_batch", c.max_batch),
        ("max_connections", c.max_connections.into()),
        ("max_failures", c.max_failures.into()),
        ("max_lockouts", c.max_lockouts.into()),
        ("readers", c.readers as u64),
        ("sweep_interval", c.sweep_interval.as_secs()),
        ("header_timeout", c.header_timeout.as_secs()),
        ("body_timeout", c.body_timeout.as_secs()),
        ("write_timeout", c.write_timeout.as_secs()),
        (
            "max_connections_per_source",
            c.max_connections_per_source.into(),
        ),
    ];
    for (key, v) in positive {
        if v == 0 {
            bail!("{key} must be at least 1");
        }
    }
    if c.max_inflight_bytes < c.max_body {
        bail!(
            "max_inflight_bytes must be at least max_body ({})",
            c.max_body
        );
    }
    // The in-flight budget is a semaphore counted in u32 permits.
    if c.max_inflight_bytes > u64::from(u32::MAX >> 3) {
        bail!("max_inflight_bytes must be under 512 MiB");
    }
    if c.readers > 16 {
        bail!("readers must be at most 16");
    }
    Ok(())
}

fn read_password(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the password file {}", path.display()))
        .hint("the file holds the relay password on its first line")?;
    let pw = text
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_string();
    if pw.is_empty() {
        return Err(anyhow::Error::new(Fail(
            Exit::Usage,
            format!("the password file {} is empty", path.display()),
        )));
    }
    Ok(pw)
}

pub use crate::config::parse_duration;

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
