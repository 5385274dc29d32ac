//! The outbox: every delivery of a sent message waits here until a relay accepted it, so
//! `send --retry` (and every later send) can finish it with the same envelope id.

use anyhow::Result;
use rusqlite::params;

use super::Store;
use crate::wire::Envelope;

/// One pending delivery: an envelope for one mailbox on one relay.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: String,
    pub relay: String,
    pub mailbox: String,
    /// Who it is for (contact name or fingerprint), for reports.
    pub recipient: String,
    pub envelope: Envelope,
    pub attempts: u32,
}

impl Store {
    /// Queues deliveries, all or none.
    pub fn outbox_add(&mut self, rows: &[OutboxRow], now: u64) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO outbox (id, relay, mailbox, recipient, envelope, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for r in rows {
                stmt.execute(params![
                    r.id,
                    r.relay,
                    r.mailbox,
                    r.recipient,
                    serde_json::to_string(&r.envelope)?,
                    now as i64
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every delivery still waiting, oldest first.
    pub fn outbox_pending(&self) -> Result<Vec<OutboxRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, relay, mailbox, recipient, envelope, attempts FROM outbox
             ORDER BY created, rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, relay, mailbox, recipient, env, attempts) = row?;
            out.push(OutboxRow {
                id,
                relay,
                mailbox,
                recipient,
                envelope: serde_json::from_str(&env)?,
                attempts: attempts as u32,
            });
        }
        Ok(out)
    }

    /// Records the outcomes of delivery attempts in one transaction: rows with no error
    /// (delivered, or refused for good) leave the outbox; the others count an attempt.
    pub fn outbox_results(&mut self, outcomes: &[(&OutboxRow, Option<String>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut done = tx.prepare_cached(
                "DELETE FROM outbox WHERE id = ?1 AND relay = ?2 AND mailbox = ?3",
            )?;
            let mut again = tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?4
                 WHERE id = ?1 AND relay = ?2 AND mailbox = ?3",
            )?;
            for (row, error) in outcomes {
                match error {
                    None => done.execute(params![row.id, row.relay, row.mailbox])?,
                    Some(e) => again.execute(params![row.id, row.relay, row.mailbox, e])?,
                };
            }
        }
        tx.commit()?;
        Ok(())
    }
}
