//! `config.toml`: settings below flags and `PIGEON_*` variables, above the defaults.
//!
//! ```toml
//! [identity]
//! passphrase_file = "/home/me/.pigeon-pass"
//! [send]
//! ttl = "2d"
//! tokens = { "http://pi.local:7447" = "/home/me/.pigeon-pi-token" }
//! [recv]
//! files_dir = "/home/me/Downloads/pigeon"
//! max_file_size = 16777216   # bytes
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub identity: IdentityConfig,
    #[serde(default)]
    pub send: SendConfig,
    #[serde(default)]
    pub recv: RecvConfig,
    /// The relay's settings, checked by the relay's own config code.
    #[serde(default)]
    pub serve: toml::Table,
    /// Trackers: `[tracker.serve]` is read by `pigeon tracker serve` (`cmd/tracker.rs`).
    #[serde(default)]
    pub tracker: toml::Table,
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
}

impl Config {
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
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        assert_eq!(parse_duration("2d").unwrap(), 172_800);
        assert!(parse_duration("2x").is_err());
        assert!(parse_duration("d").is_err());
    }
}
