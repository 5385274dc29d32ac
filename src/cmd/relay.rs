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

/// `http(s)://host[:port][/path]` without a trailing slash, scheme and authority lowercased.
/// Signed requests sign the authority as written here and the relay checks the `Host` it
/// receives, so the two must not differ in case, and a URL with user info (`http://a@b`,
/// whose `Host` is `b`) is refused rather than signed for the wrong name.
pub fn normalize_url(url: &str) -> Result<String> {
    let u = url.trim().trim_end_matches('/');
    let lower = u.to_ascii_lowercase();
    let scheme = ["http://", "https://"]
        .into_iter()
        .find(|s| lower.starts_with(s));
    let bad = || {
        Err(fail(Exit::Usage, format!("{url:?} is not a relay URL")))
            .hint("use a URL like http://pi.local:7447")
    };
    let Some(scheme) = scheme else {
        return bad();
    };
    let rest = &u[scheme.len()..];
    let (authority, path) = rest
        .find(['/', '?', '#'])
        .map_or((rest, ""), |i| rest.split_at(i));
    if authority.is_empty() || authority.contains('@') || u.contains(char::is_whitespace) {
        return bad();
    }
    Ok(format!("{scheme}{}{path}", authority.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(normalize_url("http://pi:7447/").unwrap(), "http://pi:7447");
        assert!(normalize_url("pi:7447").is_err());
        assert!(normalize_url("http://").is_err());
        assert_eq!(
            normalize_url("HTTP://Pi.Local:7447/Relay/").unwrap(),
            "http://pi.local:7447/Relay"
        );
        assert!(normalize_url("http://alice@pi:7447").is_err());
        assert!(normalize_url("http://pi :7447").is_err());
    }
}
