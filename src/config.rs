//! `config.toml`: settings below flags and `PIGEON_*` variables, above the defaults.
//!
//! ```toml
//! [identity]
//! passphrase_file = "/home/me/.pigeon-pass"
//! [send]
//! ttl = "2d"
//! retry_deadline = 3   # seconds a send spends on what earlier sends left queued
//! tokens = { "http://pi.local:7447" = "/home/me/.pigeon-pi-token" }
//! [recv]
//! files_dir = "/home/me/Downloads/pigeon"
//! max_file_size = 16777216   # bytes
//! keep_for = "7d"            # leave messages on the relays a week (`recv --keep-for`)
//! drain_for = "14d"          # keep reading a relay I moved away from at least this long
//! [tracker]          # where cards are looked up and announced
//! urls = ["https://tracker.example.org"]
//! refresh_after = "1d"   # a contact's card older than this is fetched again before a send
//! [serve]            # read by the relay: see `pigeon serve --help`
//! listen = "0.0.0.0:7447"
//! [tracker.serve]    # read by `pigeon tracker serve`
//! peers = ["https://tracker.example.org"]
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::error::{Exit, Fail};
use crate::home::Home;

pub mod edit;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub identity: IdentityConfig,
    #[serde(default)]
    pub send: SendConfig,
    #[serde(default)]
    pub recv: RecvConfig,
    #[serde(default)]
    pub tracker: TrackerConfig,
    /// The relay's settings, checked by the relay's own config code.
    #[serde(default)]
    pub serve: toml::Table,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendConfig {
    pub ttl: Option<String>,
    /// Seconds to wait for a relay before giving up on it.
    pub timeout: Option<u64>,
    /// Seconds the outbox retry after a new message may take in all (default 3); what
    /// is not delivered by then stays queued for the next send or `send --retry`.
    pub retry_deadline: Option<u64>,
    /// Relay URL -> file holding the password or token that relay wants for posting.
    #[serde(default)]
    pub tokens: std::collections::BTreeMap<String, PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecvConfig {
    pub files_dir: Option<PathBuf>,
    /// Largest attachment `recv` saves, in bytes (`recv --max-file-size`).
    pub max_file_size: Option<u64>,
    /// How long messages stay on the relays before `recv` acknowledges them
    /// (`recv --keep-for`).
    pub keep_for: Option<String>,
    /// How long a relay I moved away from (`relay remove`) is read at least before `recv`
    /// drops it once empty: senders with an old card may still post there meanwhile.
    pub drain_for: Option<String>,
}

/// The trackers the client talks to (`--tracker`, `PIGEON_TRACKER`, this table).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerConfig {
    #[serde(default)]
    pub urls: Vec<String>,
    /// A contact's card older than this is fetched again from the trackers before a send.
    pub refresh_after: Option<String>,
    /// `[tracker.serve]`: read by `pigeon tracker serve` (`cmd/tracker.rs`).
    #[serde(default)]
    pub serve: toml::Table,
}

/// A contact's card is refreshed from the trackers when older than this, by default.
pub const DEFAULT_REFRESH_AFTER: u64 = 86_400;
/// A draining relay is read at least this long, by default: the relay's longest TTL, so
/// whatever was posted before the move has expired by then.
pub const DEFAULT_DRAIN_FOR: u64 = 14 * 86_400;

impl Config {
    /// The trackers to use, as written: those of `--tracker` (or `PIGEON_TRACKER`, which
    /// clap reads for the flag) if any, else the config file's `[tracker] urls`; none by
    /// default.
    pub fn trackers(&self, flags: &[String]) -> Vec<String> {
        if flags.is_empty() {
            self.tracker.urls.clone()
        } else {
            flags.to_vec()
        }
    }

    /// `[tracker] refresh_after` in seconds.
    pub fn refresh_after(&self) -> Result<u64> {
        match &self.tracker.refresh_after {
            Some(t) => parse_duration(t).context(Fail(
                Exit::Usage,
                "bad refresh_after in [tracker] of config.toml".into(),
            )),
            None => Ok(DEFAULT_REFRESH_AFTER),
        }
    }

    /// `[recv] drain_for` in seconds.
    pub fn drain_for(&self) -> Result<u64> {
        match &self.recv.drain_for {
            Some(t) => parse_duration(t).context(Fail(
                Exit::Usage,
                "bad drain_for in [recv] of config.toml".into(),
            )),
            None => Ok(DEFAULT_DRAIN_FOR),
        }
    }

    /// Reads the config file; a missing file is the defaults.
    pub fn load(home: &Home) -> Result<Config> {
        let path = home.config_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Config::parse(&text).with_context(|| {
            Fail(
                Exit::Usage,
                format!("{} is not a valid pigeon config", path.display()),
            )
        })
    }

    pub fn parse(text: &str) -> Result<Config> {
        Ok(toml::from_str(text)?)
    }
}

/// Parses a duration like `90s`, `30m`, `12h`, `2d`, `1w` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<u64> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .with_context(|| format!("{text:?} is not a duration like 30m, 12h or 2d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => anyhow::bail!("{text:?}: unknown unit {unit:?} (use s, m, h, d or w)"),
    };
    n.checked_mul(mult).context("duration too long")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_rejects_unknown_keys() {
        let c = Config::parse("[send]\nttl = \"2d\"\n[serve]\nlisten = \"0.0.0.0:1\"\n").unwrap();
        assert_eq!(c.send.ttl.as_deref(), Some("2d"));
        assert!(c.serve.contains_key("listen"));
        let err = Config::parse("[send]\nttll = 1\n").unwrap_err();
        assert!(format!("{err:#}").contains("ttll"), "{err:#}");
    }

    #[test]
    fn trackers_and_refresh_age() {
        let c = Config::parse(
            "[tracker]\nurls = [\"HTTP://T.example/\", \"http://t.example\"]\nrefresh_after = \"2h\"\n",
        )
        .unwrap();
        // Flags win over the file.
        assert_eq!(
            c.trackers(&["http://flag:1".into()]),
            vec!["http://flag:1".to_string()]
        );
        assert_eq!(c.refresh_after().unwrap(), 7200);
        assert_eq!(
            Config::default().refresh_after().unwrap(),
            DEFAULT_REFRESH_AFTER
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        assert_eq!(parse_duration("2d").unwrap(), 172_800);
        assert!(parse_duration("2x").is_err());
        assert!(parse_duration("d").is_err());
    }
}
