//! The SQL of each write, run by the writer inside its group transaction.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest as _, Sha256};

use super::writer::{NewEnvelope, PostOutcome, Quotas};

/// Bytes an envelope costs on disk besides its payload, counted against every byte quota:
/// the row's integers and id (about 40 bytes with SQLite's record header), its entries in
/// the three indexes (about 60), and page slack. Without it a flood of tiny envelopes would
/// fill the disk while the quotas saw almost nothing.
pub const ROW_OVERHEAD: u64 = 128;

/// What an envelope of `payload` bytes counts as against the byte quotas.
pub fn stored_size(payload: usize) -> u64 {
    payload as u64 + ROW_OVERHEAD
}

/// Bytes of SHA-256 kept per envelope to tell two payloads under one id apart: 128 bits, so
/// nobody can make junk that matches a payload they have seen (a second preimage), and small
/// enough that the unique index stays a few dozen bytes an entry.
pub const DIGEST_LEN: usize = 16;

/// The payload digest stored with an envelope: a post is a duplicate only when mailbox, id
/// *and* digest match, so junk posted first under a known id cannot make the genuine copy
/// look like a retry (a client's retry re-posts the same bytes and still dedupes).
pub fn payload_digest(payload: &[u8]) -> [u8; DIGEST_LEN] {
    let full = Sha256::digest(payload);
    let mut d = [0u8; DIGEST_LEN];
    d.copy_from_slice(&full[..DIGEST_LEN]);
    d
}

/// A mailbox row as the current transaction sees it; `id` 0 until the row is written (it
/// is created only when an envelope is stored, never for a refused post).
pub struct Mbox {
    id: i64,
    count: u64,
    bytes: u64,
    dirty: bool,
}

/// A shared payload row touched by the current transaction: its rowid and how many
/// references the transaction added (written back by [`settle`]).
pub struct Shared {
    id: i64,
    added: i64,
    bytes: std::sync::Arc<Vec<u8>>,
}

/// Shared payload rows of the current transaction, by digest.
pub type SharedRows = HashMap<[u8; DIGEST_LEN], Shared>;

#[allow(clippy::too_many_arguments)]
pub fn post_one(
    tx: &Connection,
    mboxes: &mut HashMap<[u8; 32], Mbox>,
    shared: &mut SharedRows,
    quotas: &Quotas,
    seq: &mut u64,
    total: &mut u64,
    now: u64,
    item: &NewEnvelope,
) -> rusqlite::Result<PostOutcome> {
    let mb = match mboxes.get_mut(&item.mbox) {
        Some(m) => m,
        None => {
            let row = tx
                .prepare_cached("SELECT id, count, bytes FROM mailboxes WHERE hash = ?1")?
                .query_row(params![item.mbox.as_slice()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()?;
            let (id, count, bytes) = row.unwrap_or((0, 0, 0));
            mboxes.entry(item.mbox).or_insert(Mbox {
                id,
                count: count as u64,
                bytes: bytes as u64,
                dirty: false,
            })
        }
    };
    let find_dup = |mb: &Mbox| -> rusqlite::Result<Option<u64>> {
        if mb.id == 0 {
            return Ok(None);
        }
        tx.prepare_cached("SELECT seq FROM envelopes WHERE mbox = ?1 AND id = ?2 AND digest = ?3")?
            .query_row(
                params![mb.id, item.id.as_slice(), item.digest.as_slice()],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|s| s.map(|s| s as u64))
    };
    let len = stored_size(item.payload.len());
    let full = if mb.count + 1 > quotas.max_envelopes {
        Some(PostOutcome::MailboxFull("envelopes"))
    } else if mb.bytes + len > quotas.max_mailbox_bytes {
        Some(PostOutcome::MailboxFull("bytes"))
    } else if *total + len > quotas.max_total_bytes {
        Some(PostOutcome::RelayFull)
    } else {
        None
    };
    if let Some(full) = full {
        // A re-post of something stored is still a success, full or not.
        return Ok(find_dup(mb)?.map_or(full, PostOutcome::Duplicate));
    }
    if mb.id == 0 {
        tx.prepare_cached("INSERT INTO mailboxes (hash) VALUES (?1)")?
            .execute(params![item.mbox.as_slice()])?;
        mb.id = tx.last_insert_rowid();
    }
    let s = *seq;
    // 0: stored inline after all (see `shared_row`).
    let pid = if item.shared {
        Some(shared_row(tx, shared, item)?).filter(|&p| p != 0)
    } else {
        None
    };
    let inline: &[u8] = if pid.is_some() {
        &[]
    } else {
        item.payload.as_slice()
    };
    // The unique (mbox, id, digest) index finds a duplicate as part of the insert: no extra
    // lookup on the common path.
    let inserted = tx
        .prepare_cached(
            "INSERT INTO envelopes (seq, mbox, id, received, expires, payload, digest, pid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (mbox, id, digest) DO NOTHING",
        )?
        .execute(params![
            s as i64,
            mb.id,
            item.id.as_slice(),
            now as i64,
            now.saturating_add(item.ttl) as i64,
            inline,
            item.digest.as_slice(),
            pid,
        ])?;
    if inserted == 0 {
        let dup = find_dup(mb)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        return Ok(PostOutcome::Duplicate(dup));
    }
    if let Some(p) = pid
        && let Some(row) = shared.get_mut(&item.digest)
        && row.id == p
    {
        row.added += 1;
    }
    *seq += 1;
    *total += len;
    mb.count += 1;
    mb.bytes += len;
    mb.dirty = true;
    Ok(PostOutcome::Stored(s))
}

/// The `payloads` row holding this item's bytes, found or made. A row under the same
/// digest is reused only when its bytes are equal: a digest match alone is not proof
/// enough to hand one sender's bytes to another's envelope. 0 when this transaction has
/// other bytes under the digest already: the item is then stored inline.
fn shared_row(
    tx: &Connection,
    shared: &mut SharedRows,
    item: &NewEnvelope,
) -> rusqlite::Result<i64> {
    match shared.get(&item.digest) {
        Some(row)
            if std::sync::Arc::ptr_eq(&row.bytes, &item.payload) || row.bytes == item.payload =>
        {
            return Ok(row.id);
        }
        // Other bytes under a digest already used in this transaction: no sharing.
        Some(_) => return Ok(0),
        None => {}
    }
    let found: Option<i64> = {
        let mut stmt = tx.prepare_cached("SELECT id, payload FROM payloads WHERE digest = ?1")?;
        let mut rows = stmt.query(params![item.digest.as_slice()])?;
        let mut found = None;
        while let Some(r) = rows.next()? {
            if r.get_ref(1)?.as_blob()? == item.payload.as_slice() {
                found = Some(r.get(0)?);
                break;
            }
        }
        found
    };
    let id = match found {
        Some(id) => id,
        None => {
            tx.prepare_cached(
                "INSERT INTO payloads (digest, size, refs, payload) VALUES (?1, ?2, 0, ?3)",
            )?
            .execute(params![
                item.digest.as_slice(),
                item.payload.len() as i64,
                item.payload.as_slice()
            ])?;
            tx.last_insert_rowid()
        }
    };
    shared.insert(
        item.digest,
        Shared {
            id,
            added: 0,
            bytes: std::sync::Arc::clone(&item.payload),
        },
    );
    Ok(id)
}

/// Writes the references the transaction added to shared payloads, and drops a row made
/// for posts that all turned out duplicates or refused. Runs before anything deletes
/// envelopes, so a release never sees a count that is short of references just made.
pub fn settle(tx: &Connection, shared: &mut SharedRows) -> rusqlite::Result<()> {
    for (_, row) in shared.drain() {
        release(tx, row.id, -row.added)?;
    }
    Ok(())
}

/// Takes `n` references off a shared payload; the last one gone, the bytes go too.
fn release(tx: &Connection, id: i64, n: i64) -> rusqlite::Result<()> {
    if n != 0 {
        tx.prepare_cached("UPDATE payloads SET refs = refs - ?2 WHERE id = ?1")?
            .execute(params![id, n])?;
    }
    tx.prepare_cached("DELETE FROM payloads WHERE id = ?1 AND refs <= 0")?
        .execute(params![id])?;
    Ok(())
}

/// The payload length of an envelope row, inline or shared, in SQL.
const LENGTH: &str = "CASE WHEN pid IS NULL THEN length(payload)
     ELSE (SELECT size FROM payloads WHERE payloads.id = envelopes.pid) END";

/// Writes the changed mailbox counters back, once per mailbox. The rows stay cached: the
/// writer owns the database, so they stay true until an ack or a sweep changes them in SQL
/// (the writer drops the cache then, and whenever a transaction fails).
pub fn flush(tx: &Connection, mboxes: &mut HashMap<[u8; 32], Mbox>) -> rusqlite::Result<()> {
    let mut stmt =
        tx.prepare_cached("UPDATE mailboxes SET count = ?2, bytes = ?3 WHERE id = ?1")?;
    for m in mboxes.values_mut().filter(|m| m.dirty) {
        stmt.execute(params![m.id, m.count as i64, m.bytes as i64])?;
        m.dirty = false;
    }
    Ok(())
}

/// Deletes the mailbox's envelopes with `seq <= upto` that arrived at or before `not_after`.
pub fn ack(
    tx: &Connection,
    hash: &[u8; 32],
    upto: u64,
    not_after: u64,
    total: &mut u64,
) -> rusqlite::Result<u64> {
    let Some(id) = tx
        .prepare_cached("SELECT id FROM mailboxes WHERE hash = ?1")?
        .query_row(params![hash.as_slice()], |r| r.get::<_, i64>(0))
        .optional()?
    else {
        return Ok(0);
    };
    let upto = upto.min(i64::MAX as u64) as i64;
    let not_after = not_after.min(i64::MAX as u64) as i64;
    // One read of the rows going: their count and bytes, per shared payload (NULL: inline).
    let groups: Vec<(Option<i64>, i64, i64)> = tx
        .prepare_cached(&format!(
            "SELECT pid, count(*), coalesce(sum({LENGTH}), 0) FROM envelopes
             WHERE mbox = ?1 AND seq <= ?2 AND received <= ?3 GROUP BY pid"
        ))?
        .query_map(params![id, upto, not_after], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let n: i64 = groups.iter().map(|g| g.1).sum();
    if n == 0 {
        return Ok(0);
    }
    let bytes = groups.iter().map(|g| g.2).sum::<i64>() + n * ROW_OVERHEAD as i64;
    let refs = groups.iter().filter_map(|&(pid, k, _)| Some((pid?, k)));
    tx.prepare_cached("DELETE FROM envelopes WHERE mbox = ?1 AND seq <= ?2 AND received <= ?3")?
        .execute(params![id, upto, not_after])?;
    for (pid, k) in refs {
        release(tx, pid, k)?;
    }
    shrink(tx, id, n, bytes)?;
    *total = total.saturating_sub(bytes as u64);
    Ok(n as u64)
}

/// Deletes up to `limit` expired envelopes.
pub fn sweep(tx: &Connection, now: u64, limit: usize, total: &mut u64) -> rusqlite::Result<u64> {
    let victims: Vec<(i64, i64, i64, Option<i64>)> = tx
        .prepare_cached(&format!(
            "SELECT seq, mbox, {LENGTH}, pid FROM envelopes WHERE expires <= ?1
             ORDER BY expires LIMIT ?2"
        ))?
        .query_map(params![now as i64, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut per_mbox: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut refs: HashMap<i64, i64> = HashMap::new();
    let mut del = tx.prepare_cached("DELETE FROM envelopes WHERE seq = ?1")?;
    for (seq, mbox, len, pid) in &victims {
        del.execute(params![seq])?;
        if let Some(pid) = pid {
            *refs.entry(*pid).or_default() += 1;
        }
        let e = per_mbox.entry(*mbox).or_default();
        let len = len + ROW_OVERHEAD as i64;
        e.0 += 1;
        e.1 += len;
        *total = total.saturating_sub(len as u64);
    }
    for (pid, k) in refs {
        release(tx, pid, k)?;
    }
    for (id, (n, bytes)) in per_mbox {
        shrink(tx, id, n, bytes)?;
    }
    Ok(victims.len() as u64)
}

/// Takes envelopes off a mailbox's counters; an empty mailbox row goes away.
fn shrink(tx: &Connection, id: i64, n: i64, bytes: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE mailboxes SET count = max(count - ?2, 0), bytes = max(bytes - ?3, 0) WHERE id = ?1",
    )?
    .execute(params![id, n, bytes])?;
    tx.prepare_cached("DELETE FROM mailboxes WHERE id = ?1 AND count = 0")?
        .execute(params![id])?;
    Ok(())
}

pub fn is_disk_full(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull)
}
