//! Receiving: relay cursors, the archive rows not yet handed to the user, rejected ids.
//!
//! `recv` commits a page to the archive (undelivered) and the cursor in one transaction,
//! then prints, then marks the page delivered, and only then acknowledges to the relay. A
//! crash anywhere leaves either the envelope on the relay or an undelivered archive row,
//! which the next run prints: nothing is lost.

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

use super::{Archived, Store};

/// What names a message: its sender's fingerprint and its id.
pub type MessageKey = (String, String);

impl Store {
    pub fn cursor(&self, relay: &str, mailbox: &str) -> Result<u64> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq FROM cursors WHERE relay = ?1 AND mailbox = ?2",
                params![relay, mailbox],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .unwrap_or(0) as u64)
    }

    /// The relay instance a cursor was counted on, if the relay said.
    pub fn cursor_instance(&self, relay: &str, mailbox: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT instance FROM cursors WHERE relay = ?1 AND mailbox = ?2",
                params![relay, mailbox],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Records the relay instance a cursor counts on; when it differs from the one the
    /// cursor was counted on, the cursor starts again from 0. Returns whether it did.
    pub fn set_cursor_instance(&self, relay: &str, mailbox: &str, instance: &str) -> Result<bool> {
        let old = self.cursor_instance(relay, mailbox)?;
        if old.as_deref() == Some(instance) {
            return Ok(false);
        }
        let reset = old.is_some();
        self.conn.execute(
            "INSERT INTO cursors (relay, mailbox, seq, instance) VALUES (?1, ?2, 0, ?3)
             ON CONFLICT (relay, mailbox) DO UPDATE SET instance = excluded.instance,
                 seq = CASE WHEN ?4 THEN 0 ELSE seq END",
            params![relay, mailbox, instance, reset],
        )?;
        Ok(reset)
    }

    /// Archives received messages (undelivered) and moves the cursor, in one transaction.
    /// Returns the (sender, id) keys that were new (a message seen before, on any relay, is
    /// skipped).
    pub fn receive_page(
        &mut self,
        relay: &str,
        mailbox: &str,
        cursor: u64,
        messages: &[&Archived],
        rejected: &[(String, String)],
        now: u64,
    ) -> Result<Vec<MessageKey>> {
        let tx = self.conn.transaction()?;
        let mut fresh = Vec::new();
        {
            for m in messages {
                if super::insert_row(&tx, m, false)? {
                    fresh.push((m.sender.clone(), m.id.clone()));
                }
            }
            let mut rej = tx.prepare_cached(
                "INSERT OR IGNORE INTO rejected (relay, id, reason, received) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (id, reason) in rejected {
                rej.execute(params![relay, id, reason, now as i64])?;
            }
            tx.execute(
                "INSERT INTO cursors (relay, mailbox, seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT (relay, mailbox) DO UPDATE SET seq = max(seq, excluded.seq)",
                params![relay, mailbox, cursor as i64],
            )?;
        }
        tx.commit()?;
        Ok(fresh)
    }

    /// The senders of archived messages with this id (one, unless someone copied an id).
    /// Rejections do not count: a relay serving junk under a real id must not hide the
    /// genuine copy on another relay.
    pub fn senders_of(&self, id: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sender FROM messages WHERE id = ?1 ORDER BY sender")?;
        let rows = stmt.query_map([id], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Archived messages not yet handed to the user, oldest first.
    pub fn undelivered(&self) -> Result<Vec<Archived>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, direction, sender, recipients, grp, ts, received, kind, body, json
             FROM messages WHERE delivered = 0 ORDER BY received, rowid",
        )?;
        let rows = stmt.query_map([], super::row_to_archived)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Marks messages as handed to the user, in one transaction.
    pub fn mark_delivered(&mut self, keys: &[MessageKey]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE messages SET delivered = 1 WHERE sender = ?1 AND id = ?2",
            )?;
            for (sender, id) in keys {
                stmt.execute([sender, id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
