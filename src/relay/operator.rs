//! What an operator reads and changes in a relay's database from outside the running
//! relay (`pigeon serve blocks`, `unblock`, `tokens`, `revoke`): blocks, lockouts, the
//! tokens issued and those revoked. The running relay reads the same tables every few
//! seconds (`block_watcher`), so a change made here reaches it without a restart.

use std::collections::HashSet;

use anyhow::Result;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

/// A blocked source, or a source locked out until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barred {
    pub addr: String,
    /// `block` or `lockout`.
    pub kind: &'static str,
    /// When the block was recorded (a block lasts until lifted).
    pub since: Option<u64>,
    /// When a lockout ends.
    pub until: Option<u64>,
    /// How many lockouts in a row led to this one.
    pub count: Option<u64>,
}

/// Every block, then every lockout not over at `now`.
pub fn barred(conn: &Connection, now: u64) -> Result<Vec<Barred>> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare("SELECT addr, since FROM blocks ORDER BY since, addr")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (addr, since) = row?;
        out.push(Barred {
            addr,
            kind: "block",
            since: Some(since.max(0) as u64),
            until: None,
            count: None,
        });
    }
    let mut stmt = conn
        .prepare("SELECT addr, until, count FROM lockouts WHERE until > ?1 ORDER BY until, addr")?;
    let rows = stmt.query_map(params![now as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (addr, until, count) = row?;
        out.push(Barred {
            addr,
            kind: "lockout",
            since: None,
            until: Some(until.max(0) as u64),
            count: Some(count.max(0) as u64),
        });
    }
    Ok(out)
}

/// Sources locked out at `now`, as recorded.
pub fn locked_out(conn: &Connection, now: u64) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = conn.prepare_cached("SELECT addr FROM lockouts WHERE until > ?1")?;
    let rows = stmt.query_map(params![now as i64], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// Records a source lockout (the writer thread runs this in its transaction).
pub fn record_lockout(
    conn: &Connection,
    addr: &str,
    until: u64,
    count: u32,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO lockouts (addr, until, count) VALUES (?1, ?2, ?3)",
        params![addr, until as i64, count],
    )?;
    // Old rows are of no use to anyone: they go with each new one.
    conn.execute(
        "DELETE FROM lockouts WHERE until <= ?1",
        params![super::storage::now() as i64],
    )?;
    Ok(())
}

/// Lifts a lockout; false when the address was not locked out (an ended one is only
/// deleted).
pub fn unlock(conn: &Connection, addr: &str) -> Result<bool> {
    let live = conn.execute(
        "DELETE FROM lockouts WHERE addr = ?1 AND until > ?2",
        params![addr, super::storage::now() as i64],
    )? > 0;
    conn.execute("DELETE FROM lockouts WHERE addr = ?1", params![addr])?;
    Ok(live)
}

/// A token as `pigeon serve tokens` lists it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub id: String,
    pub label: String,
    pub issued: u64,
    pub expires: u64,
    pub revoked: bool,
}

/// The SHA-256 of a token, hex: how a revocation names it.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// A token's short id: the start of its digest, enough to name it to `serve revoke`.
pub fn token_id(token: &str) -> String {
    token_digest(token)[..16].to_string()
}

/// Remembers a token `pigeon serve token` made (its digest, never the token).
pub fn record_token(
    conn: &Connection,
    token: &str,
    label: &str,
    issued: u64,
    expires: u64,
) -> Result<String> {
    let id = token_id(token);
    conn.execute(
        "INSERT OR REPLACE INTO tokens (id, label, issued, expires, digest) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, label, issued as i64, expires as i64, token_digest(token)],
    )?;
    Ok(id)
}

/// Every token issued and recorded, oldest first.
pub fn issued(conn: &Connection) -> Result<Vec<Issued>> {
    let mut stmt = conn.prepare(
        "SELECT t.id, t.label, t.issued, t.expires, r.digest IS NOT NULL
         FROM tokens t LEFT JOIN revoked r ON r.digest = t.digest ORDER BY t.issued, t.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Issued {
            id: r.get(0)?,
            label: r.get(1)?,
            issued: r.get::<_, i64>(2)?.max(0) as u64,
            expires: r.get::<_, i64>(3)?.max(0) as u64,
            revoked: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The digest of the issued token whose id starts with `id` (at least 6 hex digits, and
/// naming one token only).
pub fn digest_of_id(conn: &Connection, id: &str) -> Result<Option<(String, Issued)>> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() < 6 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let mut stmt = conn.prepare(
        "SELECT t.digest, t.id, t.label, t.issued, t.expires, r.digest IS NOT NULL
         FROM tokens t LEFT JOIN revoked r ON r.digest = t.digest
         WHERE substr(t.id, 1, length(?1)) = ?1 LIMIT 2",
    )?;
    let found = stmt
        .query_map(params![id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Issued {
                    id: r.get(1)?,
                    label: r.get(2)?,
                    issued: r.get::<_, i64>(3)?.max(0) as u64,
                    expires: r.get::<_, i64>(4)?.max(0) as u64,
                    revoked: r.get(5)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(if found.len() == 1 {
        found.into_iter().next()
    } else {
        None
    })
}

/// Revokes the token with this digest; false when it was revoked already.
pub fn revoke(conn: &Connection, digest: &str, now: u64) -> Result<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO revoked (digest, since) VALUES (?1, ?2)",
        params![digest, now as i64],
    )? > 0)
}

/// Digests of revoked tokens.
pub fn revoked(conn: &Connection) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = conn.prepare_cached("SELECT digest FROM revoked")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_tokens_and_revocations_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let conn = super::super::storage::open_rw(&d.path().join("r.sqlite")).unwrap();
        let now = super::super::storage::now();
        record_lockout(&conn, "192.0.2.1", now + 600, 1).unwrap();
        record_lockout(&conn, "192.0.2.2", now - 1, 1).unwrap();
        let b = barred(&conn, now).unwrap();
        assert_eq!(b.len(), 1, "{b:?}");
        assert_eq!((b[0].addr.as_str(), b[0].kind), ("192.0.2.1", "lockout"));
        assert!(unlock(&conn, "192.0.2.1").unwrap());
        assert!(!unlock(&conn, "192.0.2.1").unwrap());
        assert!(locked_out(&conn, now).unwrap().is_empty());

        let id = record_token(&conn, "pgt1.a.1.b", "bob", now, now + 10).unwrap();
        record_token(&conn, "pgt1.c.1.d", "carol", now, now + 10).unwrap();
        let (digest, t) = digest_of_id(&conn, &id[..8]).unwrap().unwrap();
        assert_eq!(t.label, "bob");
        assert_eq!(digest, token_digest("pgt1.a.1.b"));
        assert!(digest_of_id(&conn, "zz").unwrap().is_none());
        assert!(revoke(&conn, &digest, now).unwrap());
        assert!(!revoke(&conn, &digest, now).unwrap());
        assert_eq!(revoked(&conn).unwrap(), HashSet::from([digest]));
        let all = issued(&conn).unwrap();
        assert_eq!(all.iter().filter(|t| t.revoked).count(), 1);
    }
}
