//! `pigeon relay …`: the relays my card lists.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::cli::RelayCommand;
use crate::error::{Exit, WithHint, fail};
use crate::keys::IdentityMeta;

pub fn run(ctx: &Ctx, cmd: RelayCommand) -> Result<Exit> {
    let mut meta = IdentityMeta::load(&ctx.home)?;
    match cmd {
        RelayCommand::List => {
            for url in &meta.relays {
                super::emit(&json!({"type": "relay", "url": url}))?;
            }
            return Ok(Exit::Ok);
        }
        RelayCommand::Add { url } => {
            let url = normalize_url(&url)?;
            if meta.relays.contains(&url) {
                super::emit(
                    &json!({"type": "relay", "url": url, "status": "unchanged", "seq": meta.seq}),
                )?;
                return Ok(Exit::Ok);
            }
            meta.relays.push(url.clone());
            meta.bump();
            meta.save(&ctx.home)?;
            super::emit(&json!({"type": "relay", "url": url, "status": "added", "seq": meta.seq}))?;
        }
        RelayCommand::Remove { url } => {
            let url = normalize_url(&url)?;
            let before = meta.relays.len();
            meta.relays.retain(|r| *r != url);
            if meta.relays.len() == before {
                return Err(fail(Exit::NotFound, format!("{url} is not on your card")))
                    .hint("see them with `pigeon relay list`");
            }
            meta.bump();
            meta.save(&ctx.home)?;
            super::emit(
                &json!({"type": "relay", "url": url, "status": "removed", "seq": meta.seq}),
            )?;
        }
    }
    ctx.say("your card changed: give your contacts the new one (pigeon card)");
    Ok(Exit::Ok)
}

/// `http(s)://host[:port][/path]` without a trailing slash.
pub fn normalize_url(url: &str) -> Result<String> {
    let u = url.trim().trim_end_matches('/');
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(u.to_string()),
        _ => Err(fail(Exit::Usage, format!("{url:?} is not a relay URL")))
            .hint("use a URL like http://pi.local:7447"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(normalize_url("http://pi:7447/").unwrap(), "http://pi:7447");
        assert!(normalize_url("pi:7447").is_err());
        assert!(normalize_url("http://").is_err());
    }
}
