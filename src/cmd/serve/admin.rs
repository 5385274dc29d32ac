//! The relay operator's commands, run beside (or without) the running relay on its
//! database: make, list and revoke posting tokens; list and lift blocks and lockouts.
//! Each prints JSON Lines on stdout and a sentence for people on stderr.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;

use super::super::Ctx;
use crate::error::{Exit, WithHint, fail};
use crate::output;
use crate::relay::{admission, config, limits::Peer, operator, storage};

fn db_path(ctx: &Ctx, db: Option<PathBuf>) -> Result<PathBuf> {
    Ok(match db {
        Some(p) => p,
        None => config::load_file(&ctx.home)?
            .db
            .unwrap_or_else(|| ctx.home.relay_db_path()),
    })
}

pub(super) fn token(
    ctx: &Ctx,
    label: &str,
    expires: Option<&str>,
    db: Option<PathBuf>,
) -> Result<Exit> {
    if label.is_empty() || label.len() > 100 || label.chars().any(char::is_control) {
        return Err(fail(
            Exit::Usage,
            "a token label is 1 to 100 printable characters",
        ));
    }
    let secs = config::parse_duration(expires.unwrap_or("30d"))
        .context(fail(Exit::Usage, "bad --expires"))?;
    if secs == 0 {
        return Err(fail(Exit::Usage, "--expires must be longer than 0s"));
    }
    let db = db_path(ctx, db)?;
    let conn = storage::open_rw(&db)?;
    let secret = storage::token_secret(&conn)?;
    let issued = storage::now();
    let until = issued.saturating_add(secs);
    let token = admission::make_token(&secret, label, until);
    let id = operator::record_token(&conn, &token, label, issued, until)?;
    output::json_line(
        &mut std::io::stdout().lock(),
        &json!({"type": "token", "id": id, "label": label, "expires": until,
                "expires_at": output::utc(until), "token": token}),
    )?;
    ctx.say(format!(
        "give {label} this token (id {id}); it works until {}. A pigeon user saves it in a \
         file only they can read (chmod 600) and names that file in config.toml:\n  \
         [send]\n  tokens = {{ \"https://this-relay.example\" = \"/home/{label}/.pigeon-token\" }}\n\
         (the relay's URL as on their card). Other clients send `Authorization: Bearer TOKEN`. \
         `pigeon serve revoke {id}` revokes it.",
        output::utc(until)
    ));
    Ok(Exit::Ok)
}

/// The database of an admin command, which must exist: a typo must not make a new one.
fn existing_db(ctx: &Ctx, db: Option<PathBuf>) -> Result<rusqlite::Connection> {
    let db = db_path(ctx, db)?;
    if !db.exists() {
        return Err(fail(
            Exit::NotFound,
            format!("no relay database at {}", db.display()),
        ))
        .hint("name the relay's database with --db (or PIGEON_DB)");
    }
    storage::open_rw(&db)
}

pub(super) fn unblock(ctx: &Ctx, addr: &str, db: Option<PathBuf>) -> Result<Exit> {
    let peer = Peer::parse(addr)
        .ok_or_else(|| fail(Exit::Usage, format!("{addr:?} is not an IP address")))?;
    let conn = existing_db(ctx, db)?;
    let key = peer.to_string();
    let block = storage::unblock(&conn, &key)?;
    let lockout = operator::unlock(&conn, &key)?;
    if !block && !lockout {
        return Err(fail(
            Exit::NotFound,
            format!("{key} is neither blocked nor locked out"),
        ))
        .hint("`pigeon serve blocks` lists the blocked and locked-out addresses");
    }
    output::json_line(
        &mut std::io::stdout().lock(),
        &json!({"type": "unblock", "addr": key, "block": block, "lockout": lockout}),
    )?;
    let what = match (block, lockout) {
        (true, true) => "lifted the block and the lockout of",
        (true, false) => "unblocked",
        _ => "lifted the lockout of",
    };
    ctx.say(format!(
        "{what} {key}; a running relay notices within a few seconds"
    ));
    Ok(Exit::Ok)
}

pub(super) fn blocks(ctx: &Ctx, db: Option<PathBuf>) -> Result<Exit> {
    let conn = existing_db(ctx, db)?;
    let all = operator::barred(&conn, storage::now())?;
    let mut out = std::io::stdout().lock();
    for b in &all {
        let mut v = json!({"type": b.kind, "addr": b.addr});
        if let Some(t) = b.since {
            v["since"] = t.into();
        }
        if let Some(t) = b.until {
            v["until"] = t.into();
            v["until_at"] = output::utc(t).into();
        }
        if let Some(n) = b.count {
            v["lockouts"] = n.into();
        }
        output::json_line(&mut out, &v)?;
    }
    let n_blocks = all.iter().filter(|b| b.kind == "block").count();
    ctx.say(format!(
        "{n_blocks} blocked, {} locked out; `pigeon serve unblock ADDR` lifts either",
        all.len() - n_blocks
    ));
    Ok(Exit::Ok)
}

pub(super) fn tokens(ctx: &Ctx, db: Option<PathBuf>) -> Result<Exit> {
    let conn = existing_db(ctx, db)?;
    let now = storage::now();
    let all = operator::issued(&conn)?;
    let mut out = std::io::stdout().lock();
    for t in &all {
        let state = if t.revoked {
            "revoked"
        } else if t.expires <= now {
            "expired"
        } else {
            "valid"
        };
        output::json_line(
            &mut out,
            &json!({"type": "token", "id": t.id, "label": t.label, "issued": t.issued,
                    "expires": t.expires, "expires_at": output::utc(t.expires), "state": state}),
        )?;
    }
    ctx.say(format!(
        "{} token(s); tokens made before this list was kept are not in it (revoke one with \
         `pigeon serve revoke -` and the token on stdin)",
        all.len()
    ));
    Ok(Exit::Ok)
}

pub(super) fn revoke(ctx: &Ctx, id: &str, db: Option<PathBuf>) -> Result<Exit> {
    let conn = existing_db(ctx, db)?;
    let (digest, label) = if id == "-" {
        // The token itself is a secret: from stdin, never from argv.
        let mut token = String::new();
        std::io::stdin()
            .take(4096)
            .read_to_string(&mut token)
            .context("cannot read the token from stdin")?;
        let token = token.trim();
        let secret = storage::token_secret(&conn)?;
        let label = match admission::verify_token(&secret, token, 0) {
            Ok(label) => label,
            Err(_) => {
                return Err(fail(Exit::Crypto, "that is not a token of this relay"))
                    .hint("give the token exactly as `pigeon serve token` printed it");
            }
        };
        (operator::token_digest(token), label)
    } else {
        match operator::digest_of_id(&conn, id)? {
            Some((digest, t)) => (digest, t.label),
            None => {
                return Err(fail(
                    Exit::NotFound,
                    format!("no token {id:?} (or more than one starts so)"),
                ))
                .hint("`pigeon serve tokens` lists the ids; give 6 or more hex digits");
            }
        }
    };
    let fresh = operator::revoke(&conn, &digest, storage::now())?;
    output::json_line(
        &mut std::io::stdout().lock(),
        &json!({"type": "revoked", "id": &digest[..16], "label": label, "already": !fresh}),
    )?;
    ctx.say(if fresh {
        format!("revoked the token of {label}; a running relay refuses it within a few seconds")
    } else {
        format!("the token of {label} was revoked already")
    });
    Ok(Exit::Ok)
}
