//! `pigeon tracker announce|lookup|relays|release`: the client side of trackers (`tracker
//! serve`, the server, is `cmd::tracker`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::Ctx;
use crate::cli::{TrackerCommand, TrackerUrls};
use crate::client::{Client, RelayError};
use crate::config::Config;
use crate::directory::{self, Found, Query};
use crate::error::{Exit, WithHint, fail};
use crate::keys::{Contacts, IdentityMeta};

pub fn run(ctx: &Ctx, cmd: TrackerCommand) -> Result<Exit> {
    let cfg = Config::load(&ctx.home)?;
    let client = client(&cfg);
    match cmd {
        // `cmd::tracker::run` serves before it hands the client commands here.
        TrackerCommand::Serve(_) => unreachable!("tracker serve is not a client command"),
        TrackerCommand::Announce {
            trackers,
            passphrase_file,
        } => {
            let trackers = urls(&cfg, &trackers)?;
            let id = ctx.identity(passphrase_file.as_deref())?;
            let card = serde_json::to_vec(&id.card()?)?;
            announce(ctx, &client, &trackers, &id.meta.fingerprint, &card)
        }
        TrackerCommand::Lookup {
            query,
            add,
            as_name,
            fingerprint,
            trackers,
        } => {
            let trackers = urls(&cfg, &trackers)?;
            let only = chosen_key(&query, fingerprint.as_deref())?;
            let found = find(
                ctx,
                &client,
                &trackers,
                &Query::parse(&query),
                only.as_deref(),
            )?;
            not_older_than_pinned(ctx, &found)?;
            if !add {
                warn_other_key(ctx, &query, &found)?;
            }
            // Pinned before anything is printed: a refused card is not printed either.
            let pinned = match add {
                true => Some(pin(ctx, &found, as_name.as_deref())?),
                false => None,
            };
            emit_card(&found)?;
            if let Some((c, status)) = pinned {
                super::emit(&super::contact::view(&c, Some(status), false))?;
            }
            Ok(Exit::Ok)
        }
        TrackerCommand::Add { url } => add(ctx, &client, &url),
        TrackerCommand::Remove { url } => remove(ctx, &url),
        TrackerCommand::List => {
            for url in &cfg.tracker.urls {
                super::emit(&json!({"type": "tracker", "url": url}))?;
            }
            if cfg.tracker.urls.is_empty() {
                ctx.say("no tracker in config.toml: add one with `pigeon tracker add URL`");
            }
            Ok(Exit::Ok)
        }
        TrackerCommand::Relays { trackers } => {
            let trackers = urls(&cfg, &trackers)?;
            relays(ctx, &client, &trackers)
        }
        TrackerCommand::Release {
            trackers,
            passphrase_file,
        } => {
            let trackers = urls(&cfg, &trackers)?;
            let id = ctx.identity(passphrase_file.as_deref())?;
            release(ctx, &client, &trackers, &id)
        }
    }
}

/// `tracker add URL`: into `[tracker] urls`, after asking it what it is.
fn add(ctx: &Ctx, client: &Client, url: &str) -> Result<Exit> {
    let url = super::relay::normalize_url(url).context("the tracker's URL")?;
    // A warning, not a refusal: the tracker may be down now, or reachable only later.
    match client.tracker_info(&url) {
        Ok(info) if info.get("max_card_lifetime").is_some() || info["tracker"] == true => {}
        Ok(_) => ctx.say(format!(
            "warning: {url} answers, but not as a tracker (is it a relay without --tracker?)"
        )),
        Err(e) => ctx.say(format!("warning: {url} does not answer now: {e}")),
    }
    let mut status = "unchanged";
    crate::config::edit::tracker_urls(&ctx.home, |urls| {
        if urls
            .iter()
            .any(|u| super::relay::normalize_url(u).ok().as_deref() == Some(&url))
        {
            return false;
        }
        urls.push(url.clone());
        status = "added";
        true
    })?;
    super::emit(&json!({"type": "tracker", "url": url, "status": status}))?;
    if status == "added" {
        ctx.say(format!(
            "{url} is in config.toml now; publish your card there with `pigeon tracker announce`"
        ));
    }
    Ok(Exit::Ok)
}

/// `tracker remove URL`: out of `[tracker] urls`.
fn remove(ctx: &Ctx, url: &str) -> Result<Exit> {
    let url = super::relay::normalize_url(url).context("the tracker's URL")?;
    let mut found = false;
    crate::config::edit::tracker_urls(&ctx.home, |urls| {
        let before = urls.len();
        urls.retain(|u| super::relay::normalize_url(u).ok().as_deref() != Some(&url));
        found = urls.len() != before;
        found
    })?;
    if !found {
        return Err(fail(Exit::NotFound, format!("{url} is not in config.toml")))
            .hint("`pigeon tracker list` prints the trackers it names");
    }
    super::emit(&json!({"type": "tracker", "url": url, "status": "removed"}))?;
    Ok(Exit::Ok)
}

/// One client for tracker calls, with the send timeout.
pub fn client(cfg: &Config) -> Client {
    Client::new(Duration::from_secs(cfg.send.timeout.unwrap_or(20)))
}

/// The trackers to use (flags > `PIGEON_TRACKER` > config), normalised; none is an error.
pub fn urls(cfg: &Config, flags: &TrackerUrls) -> Result<Vec<String>> {
    let out = configured(cfg, flags)?;
    if out.is_empty() {
        return no_tracker("no tracker configured".into());
    }
    Ok(out)
}

/// The one answer to a command that needs a tracker when none is configured: a usage
/// error (exit 2), as for any missing setting, wherever it is met.
pub fn no_tracker<T>(what: String) -> Result<T> {
    Err(fail(Exit::Usage, what)).hint(
        "name one with --tracker URL, PIGEON_TRACKER=URL,… or `urls` in [tracker] of \
         config.toml",
    )
}

/// The trackers to use, normalised and without duplicates; maybe none.
pub fn configured(cfg: &Config, flags: &TrackerUrls) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for url in cfg.trackers(&flags.urls) {
        let url = super::relay::normalize_url(&url).context("a tracker URL")?;
        if !out.contains(&url) {
            out.push(url);
        }
    }
    Ok(out)
}

/// The key `--fingerprint` chooses, normalised; a usage error when it is not a
/// fingerprint or the query is another one.
fn chosen_key(query: &str, fingerprint: Option<&str>) -> Result<Option<String>> {
    let Some(text) = fingerprint else {
        return Ok(None);
    };
    let Query::Fingerprint(fp) = Query::parse(text) else {
        return Err(fail(
            Exit::Usage,
            format!(
                "--fingerprint {:?} is not a fingerprint",
                crate::output::sanitize(text)
            ),
        ))
        .hint("give the 40 or 64 hex digits of the key, as a conflict lists them");
    };
    if let Query::Fingerprint(q) = Query::parse(query)
        && q != fp
    {
        return Err(fail(
            Exit::Usage,
            "the query and --fingerprint name two keys",
        ))
        .hint("look up a name with --fingerprint, or the fingerprint alone");
    }
    Ok(Some(fp))
}

/// Looks a card up on every tracker, keeping only the cards of `only` when given; problems
/// with some trackers are said on stderr. Cards of several keys for a name are a conflict:
/// one `{"type":"conflict"}` line on stdout, every candidate on stderr, and exit 4.
pub fn find(
    ctx: &Ctx,
    client: &Client,
    trackers: &[String],
    query: &Query,
    only: Option<&str>,
) -> Result<Found> {
    let mut lookup = directory::lookup(client, trackers, query);
    if let Some(fp) = only {
        lookup = lookup.only(fp);
    }
    if let Some(c) = lookup.conflict() {
        let candidates: Vec<Value> = c
            .iter()
            .map(|f| {
                json!({"fingerprint": f.card.fingerprint, "name": f.card.name,
                    "tracker": f.tracker, "seq": f.card.seq})
            })
            .collect();
        super::emit(&json!({"type": "conflict", "query": query.text(),
            "candidates": candidates}))?;
    }
    for p in lookup.problems() {
        // A refused card is a security matter: said even under --quiet.
        if p.security {
            eprintln!("pigeon: {}", crate::output::one_line(&p.text));
        } else {
            ctx.say(format!("pigeon: {}", p.text));
        }
    }
    lookup.into_found()
}

/// Prints a card as the tracker served it (its owner's own bytes), when that is one line.
fn emit_card(found: &Found) -> Result<()> {
    use std::io::Write;
    let raw = found.bytes.trim_ascii();
    if raw.contains(&b'\n') || raw.contains(&b'\r') {
        return super::emit(&found.value);
    }
    let mut out = std::io::stdout().lock();
    out.write_all(raw)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// A card older than the one pinned for the same key is stale: refused (exit 4), as
/// `contact add` would refuse it.
fn not_older_than_pinned(ctx: &Ctx, found: &Found) -> Result<()> {
    if let Some(c) = Contacts::open(&ctx.home).by_fingerprint(&found.card.fingerprint)? {
        let pinned = c.card.get("seq").and_then(Value::as_u64).unwrap_or(0);
        if found.card.seq < pinned {
            return Err(fail(
                Exit::Crypto,
                format!(
                    "tracker {} serves an older card of {} (seq {}) than the one pinned \
                     (seq {pinned}): refused",
                    found.tracker, c.name, found.card.seq
                ),
            ))
            .hint("the tracker is out of date or replaying an old card; nothing was changed");
        }
    }
    Ok(())
}

/// A name pinned here to another key than the card found for it: the card is printed (it
/// is what the tracker holds) but not as if it were the contact's; `--add` would refuse it.
fn warn_other_key(ctx: &Ctx, query: &str, found: &Found) -> Result<()> {
    if let Query::Name(name) = Query::parse(query)
        && let Some(c) = Contacts::open(&ctx.home).find(&name)?
        && c.fingerprint != found.card.fingerprint
    {
        eprintln!(
            "pigeon: {}",
            crate::output::one_line(&format!(
                "KEY CHANGE: {} is pinned to {} but tracker {} holds {name} for key {}: \
                 not your contact (--add refuses it)",
                c.name, c.fingerprint, found.tracker, found.card.fingerprint
            ))
        );
    }
    Ok(())
}

/// Pins a card found on a tracker with the rules of `contact add` (no new key accepted).
pub fn pin(
    ctx: &Ctx,
    found: &Found,
    as_name: Option<&str>,
) -> Result<(crate::keys::Contact, &'static str)> {
    if let Ok(me) = IdentityMeta::load(&ctx.home)
        && found.card.fingerprint == me.fingerprint
    {
        return Err(fail(Exit::Usage, "this is your own card")).hint("look up someone else");
    }
    let contacts = Contacts::open(&ctx.home);
    let (c, status) = contacts.add(&found.value, as_name, false)?;
    ctx.say(format!(
        "{} {} ({}) from {}",
        status.as_str(),
        c.name,
        c.fingerprint,
        found.tracker
    ));
    Ok((c, status.as_str()))
}

fn announce(
    ctx: &Ctx,
    client: &Client,
    trackers: &[String],
    fingerprint: &str,
    card: &[u8],
) -> Result<Exit> {
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = trackers
            .iter()
            .map(|t| s.spawn(move || client.publish_card(t, fingerprint, card)))
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("announce thread"))
            .collect()
    });
    let mut failed = Vec::new();
    for (t, r) in trackers.iter().zip(results) {
        match r {
            Ok(p) => super::emit(&json!({"type": "announced", "tracker": t, "ok": true,
                "stored": p.stored, "seq": p.seq}))?,
            Err(e) => {
                let code = error_code(&e);
                ctx.say(format!("pigeon: tracker {t}: {e}"));
                super::emit(&json!({"type": "announced", "tracker": t, "ok": false,
                    "code": code, "error": e.to_string()}))?;
                failed.push(e);
            }
        }
    }
    if failed.iter().any(|e| error_code(e) == "name_taken") {
        ctx.say("hint: another identity holds your name there; take another name and keep your keys with `pigeon rename NEWNAME`, then announce again (or ask them to release it)");
    }
    Ok(outcome(trackers.len(), &failed))
}

fn relays(ctx: &Ctx, client: &Client, trackers: &[String]) -> Result<Exit> {
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = trackers
            .iter()
            .map(|t| s.spawn(move || client.known_relays(t)))
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("relays thread"))
            .collect()
    });
    // One line per relay, whichever trackers know it; the URL must be one pigeon would use.
    let mut seen: BTreeMap<String, Value> = BTreeMap::new();
    let mut failed = Vec::new();
    for (t, r) in trackers.iter().zip(results) {
        match r {
            Ok(list) => {
                for k in list.relays {
                    let Ok(url) = super::relay::normalize_url(&k.url) else {
                        continue;
                    };
                    let e = seen.entry(url.clone()).or_insert_with(|| {
                        json!({"type": "relay", "url": url, "source": k.source,
                            "seen": k.seen, "trackers": []})
                    });
                    if e["seen"].as_u64() < Some(k.seen) {
                        e["seen"] = json!(k.seen);
                    }
                    if let Some(a) = e["trackers"].as_array_mut() {
                        a.push(json!(t));
                    }
                }
            }
            Err(e) => {
                ctx.say(format!("pigeon: tracker {t}: {e}"));
                failed.push(e);
            }
        }
    }
    for v in seen.values() {
        super::emit(v)?;
    }
    Ok(outcome(trackers.len(), &failed))
}

fn release(
    ctx: &Ctx,
    client: &Client,
    trackers: &[String],
    id: &crate::keys::Identity,
) -> Result<Exit> {
    let key = id.secret.mailbox_signing_key();
    let name = &id.meta.name;
    let mut failed = Vec::new();
    for t in trackers {
        match client.release_name(t, key, name) {
            Ok(r) => super::emit(&json!({"type": "released", "tracker": t, "name": name,
                "ok": true, "released": r.released}))?,
            Err(e) => {
                ctx.say(format!("pigeon: tracker {t}: {e}"));
                super::emit(&json!({"type": "released", "tracker": t, "name": name,
                    "ok": false, "code": error_code(&e), "error": e.to_string()}))?;
                failed.push(e);
            }
        }
    }
    Ok(outcome(trackers.len(), &failed))
}

fn error_code(e: &RelayError) -> String {
    match e {
        RelayError::Status { code, .. } => code.clone(),
        RelayError::Unreachable(_) => "unreachable".into(),
        RelayError::Protocol(_) => "protocol".into(),
    }
}

/// 0 when every tracker did it, 6 when some did, else the code of what stopped them all.
fn outcome(total: usize, failed: &[RelayError]) -> Exit {
    if failed.is_empty() {
        Exit::Ok
    } else if failed.len() < total {
        Exit::Partial
    } else if failed.iter().all(RelayError::is_transient) {
        Exit::Network
    } else if failed
        .iter()
        .any(|e| matches!(e, RelayError::Status { status: 401, .. }))
    {
        Exit::Crypto
    } else if failed
        .iter()
        .all(|e| matches!(e, RelayError::Status { status: 404, .. }))
    {
        Exit::NotFound
    } else {
        Exit::Failure
    }
}
