//! The tracker's tables, in its own SQLite file (a tracker alone shares the file with the
//! relay plumbing's tables, of which it uses only blocks).
//!
//! - `cards`: one row per fingerprint, the card's bytes exactly as published, its `seq`,
//!   `expires`, the name it claims (folded, see [`name_key`]) and `arrival`, the tracker's
//!   own order of storing (the cursor peers mirror by; a replaced card arrives again). The
//!   rowid *is* `arrival`, so the large rows are appended at the end of the file (one page
//!   written per few cards in a commit, as the relay's envelopes) and only the small
//!   entries of the fingerprint index land on random pages. AUTOINCREMENT: an arrival
//!   number is never given twice, even after the last card was deleted, or a peer's cursor
//!   would skip the card that got it again;
//! - `names`: name → fingerprint, held until a signed release or until the holder's card
//!   expires;
//! - `relays`: relays named in cards or announced, with when they were last seen;
//! - `peer_cursors`: how far each peer has been pulled.

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};

use crate::wire::now;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS cards (
        arrival INTEGER PRIMARY KEY AUTOINCREMENT,
        fp TEXT NOT NULL UNIQUE,
        seq INTEGER NOT NULL,
        expires INTEGER,
        name TEXT NOT NULL,
        mailbox TEXT NOT NULL,
        bytes BLOB NOT NULL);
    CREATE INDEX IF NOT EXISTS cards_expires ON cards (expires) WHERE expires IS NOT NULL;
    CREATE TABLE IF NOT EXISTS names (name TEXT PRIMARY KEY, fp TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS relays (
        url TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        seen INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS peer_cursors (url TEXT PRIMARY KEY, cursor INTEGER NOT NULL)
        WITHOUT ROWID;";

/// Opens the file for writing (creating it), with the relay's durability settings, and
/// makes sure the tables exist.
pub fn open_rw(path: &Path) -> Result<Connection> {
    // The relay's opener: private file, WAL, synchronous=FULL, checkpoint tuning.
    let conn = crate::relay::storage::open_durable(path)?;
    conn.execute_batch(SCHEMA)
        .with_context(|| format!("cannot set up the tracker tables in {}", path.display()))?;
    Ok(conn)
}

/// The key a name is held under: Unicode lowercase, so `Alice` and `alice` are one name
/// (a look-alike by case must not be a second identity's).
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

const LIVE: &str = "(expires IS NULL OR expires >= ?2)";

/// A card by fingerprint, unless it expired.
pub fn card(conn: &Connection, fp: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached(&format!("SELECT bytes FROM cards WHERE fp = ?1 AND {LIVE}"))?
        .query_row(params![fp, now()], |r| r.get(0))
        .optional()
}

/// The live card holding `name` (already folded).
pub fn card_by_name(conn: &Connection, name: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached(&format!(
        "SELECT c.bytes FROM names n JOIN cards c ON c.fp = n.fp WHERE n.name = ?1 AND {LIVE}"
    ))?
    .query_row(params![name, now()], |r| r.get(0))
    .optional()
}

/// Who holds `name`: (fingerprint, mailbox id) of a live card.
pub fn holder(conn: &Connection, name: &str) -> rusqlite::Result<Option<(String, String)>> {
    conn.prepare_cached(&format!(
        "SELECT c.fp, c.mailbox FROM names n JOIN cards c ON c.fp = n.fp
         WHERE n.name = ?1 AND {LIVE}"
    ))?
    .query_row(params![name, now()], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()
}

/// Bytes of cards in one page at most (past the first card): cards may be 64 KiB each,
/// and a thousand of them per request, many requests at once, would be the tracker's
/// memory; a client continues from `next`.
pub const MAX_PAGE_BYTES: usize = 1 << 20;

/// Up to `limit` live cards that arrived after `after`, and no more than
/// [`MAX_PAGE_BYTES`], with the cursor to continue from.
pub fn page(conn: &Connection, after: u64, limit: u64) -> rusqlite::Result<(Vec<Vec<u8>>, u64)> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT bytes, arrival FROM cards WHERE arrival > ?1 AND {LIVE} ORDER BY arrival LIMIT ?3"
    ))?;
    let mut next = after;
    let mut cards = Vec::new();
    let rows = stmt.query_map(params![after as i64, now(), limit as i64], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut total = 0;
    for row in rows {
        let (bytes, arrival) = row?;
        total += bytes.len();
        if total > MAX_PAGE_BYTES && !cards.is_empty() {
            break;
        }
        cards.push(bytes);
        next = arrival as u64;
    }
    Ok((cards, next))
}

/// Every known relay, most recently seen first.
pub fn relays(conn: &Connection) -> rusqlite::Result<Vec<(String, String, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT url, source, seen FROM relays ORDER BY seen DESC, url LIMIT 1000",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
    })?;
    rows.collect()
}

/// Where pulling `peer` left off.
pub fn peer_cursor(conn: &Connection, peer: &str) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT cursor FROM peer_cursors WHERE url = ?1")?
        .query_row([peer], |r| r.get::<_, i64>(0))
        .optional()
        .map(|c| c.unwrap_or(0) as u64)
}
