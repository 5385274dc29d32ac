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
            for (url, since) in &meta.draining {
                super::emit(&json!({"type": "relay", "url": url, "draining": true,
                    "since": since}))?;
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
            // A relay I was moving away from becomes one senders use again.
            meta.draining.remove(&url);
            meta.relays.push(url.clone());
            meta.bump();
            meta.save(&ctx.home)?;
            super::emit(&json!({"type": "relay", "url": url, "status": "added", "seq": meta.seq}))?;
        }
        RelayCommand::Remove { url, now } => {
            let url = normalize_url(&url)?;
            let listed = meta.relays.contains(&url);
            let draining = meta.draining.contains_key(&url);
            if !(listed || draining && now) {
                let msg = if draining {
                    format!("{url} is already draining")
                } else {
                    format!("{url} is not on your card")
                };
                return Err(fail(Exit::NotFound, msg))
                    .hint("see them with `pigeon relay list`; --now drops a draining relay");
            }
            meta.relays.retain(|r| *r != url);
            let status = if now {
                meta.draining.remove(&url);
                "removed"
            } else {
                meta.draining.insert(url.clone(), crate::keys::now());
                "draining"
            };
            meta.bump();
            meta.save(&ctx.home)?;
            super::emit(&json!({"type": "relay", "url": url, "status": status, "seq": meta.seq}))?;
        }
    }
    ctx.say(
        "your card changed: announce it (pigeon tracker announce) or give your contacts the \
         new one (pigeon card)",
    );
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
