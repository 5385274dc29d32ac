//! The local archive: one SQLite file with what you sent and received, the outbox and the
//! relay cursors. The schema grows by numbered migrations (`PRAGMA user_version`).

use std::path::Path;

use anyhow::{Context, Result};

mod cards;
pub mod history;
mod inbox;
mod outbox;

pub use inbox::MessageKey;
pub use outbox::{OutboxRow, QueuedEntry};
use rusqlite::{Connection, params};

/// Marks the file as pigeon's archive ("PGN1").
const APPLICATION_ID: i64 = 0x5047_4e31;

/// Migrations in order; entry N brings the schema from version N to N+1. Never edit one
/// that has shipped: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the archive of messages, sent and received.
    "CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        sender TEXT NOT NULL,
        recipients TEXT NOT NULL,
        grp TEXT,
        ts INTEGER NOT NULL,
        received INTEGER NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        json TEXT NOT NULL
    ) STRICT;
    CREATE INDEX messages_by_time ON messages (received);",
    // 2: delivery state for recv, the outbox for send, relay cursors, rejected envelopes.
    "ALTER TABLE messages ADD COLUMN delivered INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX messages_pending ON messages (delivered) WHERE delivered = 0;
    CREATE TABLE outbox (
        id TEXT NOT NULL,
        relay TEXT NOT NULL,
        mailbox TEXT NOT NULL,
        recipient TEXT NOT NULL,
        envelope TEXT NOT NULL,
        created INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        PRIMARY KEY (id, relay, mailbox)
    ) STRICT;
    CREATE TABLE cursors (
        relay TEXT NOT NULL,
        mailbox TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (relay, mailbox)
    ) STRICT;
    CREATE TABLE rejected (
        relay TEXT NOT NULL,
        id TEXT NOT NULL,
        reason TEXT NOT NULL,
        received INTEGER NOT NULL,
        PRIMARY KEY (relay, id)
    ) STRICT;",
    // 3: a message is (sender, id), not id alone: a stranger who copies a contact's id
    // gets a row of its own instead of hiding the contact's message.
    "CREATE TABLE messages_v3 (
        id TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        sender TEXT NOT NULL,
        recipients TEXT NOT NULL,
        grp TEXT,
        ts INTEGER NOT NULL,
        received INTEGER NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        json TEXT NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (sender, id)
    ) STRICT;
    INSERT INTO messages_v3
        SELECT id, direction, sender, recipients, grp, ts, received, kind, body, json, delivered
        FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_v3 RENAME TO messages;
    CREATE INDEX messages_by_time ON messages (received);
    CREATE INDEX messages_pending ON messages (delivered) WHERE delivered = 0;
    CREATE INDEX messages_by_id ON messages (id);",
    // 4: which database of a relay a cursor belongs to (its `instance` id).
    "ALTER TABLE cursors ADD COLUMN instance TEXT;",
    // 5: an envelope posted to many mailboxes (a group message) is kept once, in
    // `outbox_envelopes` by the SHA-256 of its JSON; outbox rows name it in `ekey` and keep
    // an empty `envelope`. Old rows keep theirs inline (ekey NULL).
    "CREATE TABLE outbox_envelopes (
        hash BLOB PRIMARY KEY,
        envelope TEXT NOT NULL
    ) STRICT;
    ALTER TABLE outbox ADD COLUMN ekey BLOB;
    CREATE INDEX outbox_by_envelope ON outbox (ekey) WHERE ekey IS NOT NULL;",
    // 6: the SHA-256 of each card whose signature verified (`store::cards`).
    "CREATE TABLE checked_cards (digest BLOB PRIMARY KEY) STRICT, WITHOUT ROWID;",
];

/// The open archive.
pub struct Store {
    pub(crate) conn: Connection,
}

/// One archived message.
#[derive(Debug, Clone, PartialEq)]
pub struct Archived {
    pub id: String,
    pub direction: String,
    pub sender: String,
    pub recipients: Vec<String>,
    pub group: Option<String>,
    pub ts: u64,
    pub received: u64,
    pub kind: String,
    pub body: String,
    /// The message as printed (JSON), for export and re-printing.
    pub json: String,
}

impl Store {
    /// Opens (creating if needed) and migrates the archive.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            crate::home::ensure_private_dir(dir)?;
        }
        crate::home::ensure_private_file(path)?;
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open the archive {}", path.display()))?;
        Store::init(conn).with_context(|| format!("cannot prepare the archive {}", path.display()))
    }

    /// An archive in memory (tests).
    pub fn in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// The schema version of this file.
    pub fn version(&self) -> Result<usize> {
        let v: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        Ok(v as usize)
    }

    fn migrate(&mut self) -> Result<()> {
        let app: i64 = self
            .conn
            .pragma_query_value(None, "application_id", |r| r.get(0))?;
        let version = self.version()?;
        if app != 0 && app != APPLICATION_ID {
            anyhow::bail!("this SQLite file is not a pigeon archive");
        }
        if version > MIGRATIONS.len() {
            anyhow::bail!(
                "the archive has schema version {version}, newer than this pigeon knows ({}); \
                 upgrade pigeon",
                MIGRATIONS.len()
            );
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)
                .with_context(|| format!("migration {} failed", i + 1))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Archives a message; returns false if one with this sender and id was already there.
    pub fn insert(&self, m: &Archived) -> Result<bool> {
        insert_row(&self.conn, m, true)
    }

    /// Every archived message, oldest first.
    pub fn all(&self) -> Result<Vec<Archived>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, direction, sender, recipients, grp, ts, received, kind, body, json
             FROM messages ORDER BY received, rowid",
        )?;
        let rows = stmt.query_map([], row_to_archived)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// Inserts a message unless its (sender, id) is there; `delivered` is false for a received message
/// not yet handed to the user. Returns whether it was new.
fn insert_row(conn: &Connection, m: &Archived, delivered: bool) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO messages
             (id, direction, sender, recipients, grp, ts, received, kind, body, json, delivered)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            m.id,
            m.direction,
            m.sender,
            serde_json::to_string(&m.recipients)?,
            m.group,
            m.ts as i64,
            m.received as i64,
            m.kind,
            m.body,
            m.json,
            delivered
        ])?;
    Ok(n == 1)
}

/// Reads the columns id, direction, sender, recipients, grp, ts, received, kind, body, json.
fn row_to_archived(r: &rusqlite::Row<'_>) -> rusqlite::Result<Archived> {
    let recipients: String = r.get(3)?;
    Ok(Archived {
        id: r.get(0)?,
        direction: r.get(1)?,
        sender: r.get(2)?,
        recipients: serde_json::from_str(&recipients).unwrap_or_default(),
        group: r.get(4)?,
        ts: r.get::<_, i64>(5)? as u64,
        received: r.get::<_, i64>(6)? as u64,
        kind: r.get(7)?,
        body: r.get(8)?,
        json: r.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str) -> Archived {
        Archived {
            id: id.into(),
            direction: "in".into(),
            sender: "fp".into(),
            recipients: vec!["me".into()],
            group: None,
            ts: 1,
            received: 2,
            kind: "text".into(),
            body: "hi".into(),
            json: "{}".into(),
        }
    }

    #[test]
    fn migrates_to_latest_and_dedupes() {
        let s = Store::in_memory().unwrap();
        assert_eq!(s.version().unwrap(), MIGRATIONS.len());
        assert!(s.insert(&msg("a")).unwrap());
        assert!(!s.insert(&msg("a")).unwrap());
        assert_eq!(s.senders_of("a").unwrap(), ["fp"]);
        assert_eq!(s.all().unwrap(), vec![msg("a")]);
        // The same id from another sender is another message.
        let other = Archived {
            sender: "fp2".into(),
            ..msg("a")
        };
        assert!(s.insert(&other).unwrap());
        assert_eq!(s.senders_of("a").unwrap(), ["fp", "fp2"]);
    }

    #[test]
    fn an_archive_of_schema_2_keeps_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.sqlite");
        let c = Connection::open(&p).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.execute_batch(MIGRATIONS[1]).unwrap();
        c.pragma_update(None, "user_version", 2).unwrap();
        c.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        c.execute(
            "INSERT INTO messages (id, direction, sender, recipients, grp, ts, received, kind,
             body, json, delivered) VALUES ('x', 'in', 'fp', '[\"me\"]', NULL, 1, 2, 'text',
             'hi', '{}', 0)",
            [],
        )
        .unwrap();
        drop(c);
        let s = Store::open(&p).unwrap();
        assert_eq!(s.version().unwrap(), MIGRATIONS.len());
        assert_eq!(s.undelivered().unwrap().len(), 1);
        assert_eq!(s.all().unwrap()[0].body, "hi");
        assert!(
            s.insert(&Archived {
                sender: "other".into(),
                ..msg("x")
            })
            .unwrap()
        );
    }

    #[test]
    fn reopening_keeps_data_and_refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.sqlite");
        Store::open(&p).unwrap().insert(&msg("x")).unwrap();
        let s = Store::open(&p).unwrap();
        assert_eq!(s.senders_of("x").unwrap(), ["fp"]);
        s.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        let err = Store::open(&p).err().unwrap();
        assert!(format!("{err:#}").contains("upgrade pigeon"), "{err:#}");
    }

    #[test]
    fn a_new_relay_instance_resets_the_cursor() {
        let mut s = Store::in_memory().unwrap();
        assert!(
            !s.set_cursor_instance("r", "m", "one").unwrap(),
            "first seen"
        );
        s.receive_page("r", "m", 40, &[], &[], 1).unwrap();
        assert!(!s.set_cursor_instance("r", "m", "one").unwrap());
        assert_eq!(s.cursor("r", "m").unwrap(), 40);
        assert!(s.set_cursor_instance("r", "m", "two").unwrap());
        assert_eq!(s.cursor("r", "m").unwrap(), 0);
        assert_eq!(s.cursor_instance("r", "m").unwrap().as_deref(), Some("two"));
    }

    #[test]
    fn refuses_foreign_sqlite_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("other.sqlite");
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "application_id", 42).unwrap();
        drop(c);
        assert!(Store::open(&p).is_err());
    }
}
