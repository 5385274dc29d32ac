//! The relay's SQLite file: schema and migrations, the read-only connection pool, and the
//! small admin reads and writes (`pigeon serve token`, `pigeon serve unblock`).
//!
//! Layout, chosen so that writes are sequential and small: `envelopes` is a rowid table whose
//! rowid *is* the relay's `seq`, so new envelopes append at the end of the file; a 1 KiB
//! payload fits in the row without an overflow page. The index on `mbox` (entries are
//! `(mbox, seq)`) and the unique `(mbox, id, digest)` index are a few dozen bytes per entry
//! (`digest` is the first 16 bytes of the payload's SHA-256, never the payload); the
//! `expires` index appends too when senders use the default TTL. Counts and bytes per
//! mailbox live in `mailboxes`, updated once per mailbox per transaction by the writer.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::Semaphore;

use crate::error::WithHint;

/// Schema versions, applied in order; `PRAGMA user_version` says how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: the first layout.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
     CREATE TABLE mailboxes (
         id INTEGER PRIMARY KEY,
         hash BLOB NOT NULL UNIQUE,
         count INTEGER NOT NULL DEFAULT 0,
         bytes INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE envelopes (
         seq INTEGER PRIMARY KEY,
         mbox INTEGER NOT NULL,
         id BLOB NOT NULL,
         received INTEGER NOT NULL,
         expires INTEGER NOT NULL,
         payload BLOB NOT NULL);
     -- Index entries carry the rowid, so this one is ordered by (mbox, seq).
     CREATE INDEX envelopes_mbox ON envelopes (mbox);
     CREATE UNIQUE INDEX envelopes_mbox_id ON envelopes (mbox, id);
     CREATE INDEX envelopes_expires ON envelopes (expires);
     CREATE TABLE blocks (addr TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID;",
    // 2: a duplicate is the same id *with the same payload*: junk posted first under a
    // known id no longer makes the genuine copy look like a retry. Old rows were unique
    // by (mbox, id) already; they get their digests in Rust ([`fill_digests`]) in the same
    // transaction.
    "ALTER TABLE envelopes ADD COLUMN digest BLOB NOT NULL DEFAULT x'';
     DROP INDEX envelopes_mbox_id;
     CREATE UNIQUE INDEX envelopes_mbox_id_digest ON envelopes (mbox, id, digest);",
    // 3: a fan-out payload (one message to many mailboxes) is stored once, in `payloads`,
    // and each envelope row names it in `pid` with an empty inline payload; `refs` counts
    // the envelopes naming it, and the row goes with the last one. Old rows keep their
    // inline payloads (pid NULL): nothing to rewrite.
    "CREATE TABLE payloads (
         id INTEGER PRIMARY KEY,
         digest BLOB NOT NULL,
         size INTEGER NOT NULL,
         refs INTEGER NOT NULL,
         payload BLOB NOT NULL);
     CREATE INDEX payloads_digest ON payloads (digest);
     ALTER TABLE envelopes ADD COLUMN pid INTEGER;",
    // 4: what an operator sees and lifts from outside the running relay
    // (`super::operator`): source lockouts as the relay records them, the tokens
    // `pigeon serve token` issued, and the tokens revoked (by SHA-256 of the token).
    "CREATE TABLE lockouts (addr TEXT PRIMARY KEY, until INTEGER NOT NULL, count INTEGER NOT NULL)
         WITHOUT ROWID;
     CREATE TABLE tokens (id TEXT PRIMARY KEY, label TEXT NOT NULL, issued INTEGER NOT NULL,
         expires INTEGER NOT NULL, digest TEXT NOT NULL) WITHOUT ROWID;
     CREATE TABLE revoked (digest TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID;",
];

/// SQLite's page cache per connection, in KiB (negative `cache_size` means KiB).
const WRITER_CACHE_KIB: i64 = 8192;
const READER_CACHE_KIB: i64 = 1024;
/// WAL pages between checkpoints (SQLite's default is 1000). A checkpoint copies each page
/// once, however many commits rewrote it: the hot index pages (the end of each mailbox's
/// range) and the table's last page are rewritten by almost every commit, so a longer
/// interval copies far fewer pages per envelope. 16,000 pages of 4 KiB fit the
/// `journal_size_limit` below. Measured (docs/benchmarks.md): single posts +25%, batches
/// +55%, p99 of single posts 6 ms -> 1.5 ms.
const WAL_AUTOCHECKPOINT: i64 = 16_000;

/// Opens the database for writing, creating it and its folder if needed, and brings the
/// schema up to date. Used by the writer thread and by the admin commands.
pub fn open_rw(path: &Path) -> Result<Connection> {
    let conn = open_durable(path)?;
    migrate(&conn).with_context(|| format!("cannot set up {}", path.display()))?;
    Ok(conn)
}

/// Opens a database for writing with the durability and WAL settings below, creating it
/// (private) and its folder if needed; no schema. The tracker's file is opened so too.
pub fn open_durable(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::home::ensure_private_dir(dir)?;
    }
    // The file holds the token secret: create it private. SQLite gives its WAL and
    // shared-memory files the same mode.
    if !path.exists() {
        use std::os::unix::fs::OpenOptionsExt as _;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
    }
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open the database {}", path.display()))
        .hint("check that the folder exists and the relay's user may write there")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL + FULL: a commit is on disk before the 201 goes out, even across power loss.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    conn.pragma_update(None, "mmap_size", 0)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoint every ~16 MiB of WAL instead of SQLite's 4 MiB: an index page rewritten by
    // many commits is copied to the main file once, and checkpoints cost fewer fsyncs.
    conn.pragma_update(None, "wal_autocheckpoint", 4000)?;
    // Without a limit the WAL file keeps its largest size forever after a burst.
    conn.pragma_update(None, "journal_size_limit", 64i64 << 20)?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        anyhow::bail!(
            "the database has schema version {version}, newer than this pigeon knows ({})",
            MIGRATIONS.len()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        if i + 1 == 2 {
            fill_digests(&tx)?;
        }
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Gives every stored envelope its payload digest (migration to schema 2), a thousand rows
/// at a time so a large relay does not hold every payload in memory.
fn fill_digests(tx: &Connection) -> Result<()> {
    let mut after = i64::MIN;
    loop {
        let rows: Vec<(i64, Vec<u8>)> = tx
            .prepare("SELECT seq, payload FROM envelopes WHERE seq > ?1 ORDER BY seq LIMIT 1000")?
            .query_map(params![after], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let Some(&(last, _)) = rows.last() else {
            return Ok(());
        };
        let mut set = tx.prepare_cached("UPDATE envelopes SET digest = ?2 WHERE seq = ?1")?;
        for (seq, payload) in &rows {
            set.execute(params![seq, super::ops::payload_digest(payload).as_slice()])?;
        }
        after = last;
    }
}

fn open_ro(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("cannot open {} for reading", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
    conn.pragma_update(None, "mmap_size", 0)?;
    Ok(conn)
}

/// The relay's secret for tokens: 32 random bytes made on first use and kept in `meta`.
pub fn token_secret(conn: &Connection) -> Result<[u8; 32]> {
    use rand::RngCore as _;
    let mut fresh = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut fresh);
    // INSERT OR IGNORE first: two processes racing agree on whichever secret landed.
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('token_secret', ?1)",
        params![fresh.as_slice()],
    )?;
    let stored: Vec<u8> = conn.query_row(
        "SELECT value FROM meta WHERE key = 'token_secret'",
        [],
        |r| r.get(0),
    )?;
    stored
        .try_into()
        .map_err(|_| anyhow::anyhow!("the token secret in the database is damaged"))
}

/// The database's instance id: 16 random bytes (hex) made when it is first opened and
/// kept in `meta`. A recreated database has another one, which tells clients that seqs
/// started again (their cursors no longer apply).
pub fn instance_id(conn: &Connection) -> Result<String> {
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('instance', ?1)",
        params![hex::encode(rand::random::<[u8; 16]>())],
    )?;
    Ok(
        conn.query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| {
            r.get(0)
        })?,
    )
}

/// Addresses blocked until an operator lifts the block.
pub fn blocked(conn: &Connection) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = conn.prepare_cached("SELECT addr FROM blocks")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// Lifts a block; false when the address was not blocked.
pub fn unblock(conn: &Connection, addr: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM blocks WHERE addr = ?1", params![addr])? > 0)
}

/// One envelope as read back for its owner.
#[derive(Debug, Clone)]
pub struct Row {
    pub seq: u64,
    pub id: Vec<u8>,
    pub received: u64,
    pub expires: u64,
    pub payload: Vec<u8>,
}

/// Envelopes of mailbox `hash` after `after`, still alive at `now`, oldest first: at most
/// `limit` and, past the first, at most `max_bytes` of payload. The bool says whether more
/// wait after the page.
pub fn fetch(
    conn: &Connection,
    hash: &[u8; 32],
    after: u64,
    limit: u64,
    max_bytes: u64,
    now: u64,
) -> rusqlite::Result<(Vec<Row>, bool)> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.seq, e.id, e.received, e.expires, coalesce(p.payload, e.payload)
         FROM envelopes e LEFT JOIN payloads p ON p.id = e.pid
         WHERE e.mbox = (SELECT id FROM mailboxes WHERE hash = ?1)
           AND e.seq > ?2 AND e.expires > ?3
         ORDER BY e.seq LIMIT ?4",
    )?;
    let mut rows = stmt.query(params![
        hash.as_slice(),
        after as i64,
        now as i64,
        (limit + 1) as i64
    ])?;
    let mut out = Vec::new();
    let mut bytes = 0u64;
    while let Some(r) = rows.next()? {
        let payload: Vec<u8> = r.get(4)?;
        if out.len() as u64 == limit
            || (!out.is_empty() && bytes + payload.len() as u64 > max_bytes)
        {
            return Ok((out, true));
        }
        bytes += payload.len() as u64;
        out.push(Row {
            seq: r.get::<_, i64>(0)? as u64,
            id: r.get(1)?,
            received: r.get::<_, i64>(2)? as u64,
            expires: r.get::<_, i64>(3)? as u64,
            payload,
        });
    }
    Ok((out, false))
}

/// Totals for `/metrics`: mailboxes, envelopes and payload bytes stored.
pub fn totals(conn: &Connection) -> rusqlite::Result<(u64, u64, u64)> {
    conn.query_row(
        "SELECT count(*), coalesce(sum(count), 0), coalesce(sum(bytes), 0) FROM mailboxes",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        },
    )
}

/// A small fixed pool of read-only connections; each query runs on a blocking thread so
/// SQLite never stalls the async workers.
pub struct Readers {
    path: std::path::PathBuf,
    conns: Mutex<Vec<Connection>>,
    gate: Semaphore,
    /// One clone travels with each connection in use, so `close` can wait for them all
    /// (even one whose request was cancelled mid-query).
    live: Arc<()>,
}

impl Readers {
    pub fn open(path: &Path, n: usize) -> Result<Arc<Readers>> {
        let conns = (0..n).map(|_| open_ro(path)).collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Readers {
            path: path.to_path_buf(),
            conns: Mutex::new(conns),
            gate: Semaphore::new(n),
            live: Arc::new(()),
        }))
    }

    /// Runs `f` on a pooled connection.
    pub async fn run<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let _permit = self.gate.acquire().await.context("the relay is stopping")?;
        let conn = match self.conns.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            Some(c) => c,
            // Only after a panic lost one: replace it.
            None => open_ro(&self.path)?,
        };
        let token = Arc::clone(&self.live);
        let (conn, result, _token) = tokio::task::spawn_blocking(move || {
            let r = f(&conn);
            (conn, r, token)
        })
        .await
        .context("a database read failed")?;
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        Ok(result?)
    }

    /// Runs a short query (a point lookup by key, a few microseconds from the page cache)
    /// on this thread when a connection is free, without the hop to a blocking thread;
    /// else as [`Readers::run`].
    pub async fn run_short<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let conn = match self.gate.try_acquire() {
            Ok(permit) => self
                .conns
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop()
                .map(|c| (c, permit)),
            Err(_) => None,
        };
        let Some((conn, _permit)) = conn else {
            return self.run(f).await;
        };
        let _token = Arc::clone(&self.live);
        let result = f(&conn);
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        Ok(result?)
    }

    /// Closes every connection (at shutdown), after waiting a little for those in use: the
    /// writer's must be the last to close, for only it removes the WAL.
    pub async fn close(&self) {
        self.gate.close();
        self.conns.lock().unwrap_or_else(|e| e.into_inner()).clear();
        for _ in 0..250 {
            if Arc::strong_count(&self.live) == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.conns.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

pub use crate::wire::now;

/// Looks up one `meta` integer.
pub fn meta_u64(conn: &Connection, key: &str) -> rusqlite::Result<Option<u64>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
        r.get::<_, i64>(0)
    })
    .optional()
    .map(|v| v.map(|v| v as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_secret_is_stable() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/relay.sqlite");
        let c = open_rw(&p).unwrap();
        let v: usize = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len());
        let s1 = token_secret(&c).unwrap();
        drop(c);
        let c = open_rw(&p).unwrap();
        assert_eq!(token_secret(&c).unwrap(), s1);
        let mode: String = c
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        use std::os::unix::fs::PermissionsExt as _;
        let perm = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(perm, 0o600);
    }
}
