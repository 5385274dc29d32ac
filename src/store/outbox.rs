//! The outbox: every delivery of a sent message waits here until a relay accepted it, so
//! `send --retry` (and every later send) can finish it with the same envelope id.

use std::borrow::Cow;
use std::collections::HashMap;

use anyhow::Result;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest as _, Sha256};

use super::{Archived, Store};
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
    /// When it was queued (Unix seconds).
    pub created: u64,
}

impl OutboxRow {
    /// The envelope as it should be posted now: its time to live counts from when it was
    /// queued, so a retry a day later asks the relay for a day less.
    /// (Borrowed when nothing changes: payloads can be large.)
    pub fn envelope_now(&self, now: u64) -> Cow<'_, Envelope> {
        let left = |ttl: u64| self.created.saturating_add(ttl).saturating_sub(now).max(1);
        match self.envelope.ttl {
            Some(ttl) if left(ttl) != ttl => {
                let mut e = self.envelope.clone();
                e.ttl = Some(left(ttl));
                Cow::Owned(e)
            }
            _ => Cow::Borrowed(&self.envelope),
        }
    }
}

/// A waiting delivery as `pigeon outbox list` shows it.
#[derive(Debug, Clone)]
pub struct QueuedEntry {
    pub id: String,
    pub recipient: String,
    pub relay: String,
    pub attempts: u32,
    /// Why the last attempt failed (none before the first).
    pub last_error: Option<String>,
    pub created: u64,
}

/// An envelope already written in this call, and its key in `outbox_envelopes`.
type Keyed<'a> = (&'a Envelope, [u8; 32]);

impl Store {
    /// Queues deliveries and archives the messages they carry, all or none: a message
    /// is in the history from the moment it may reach anyone.
    pub fn outbox_add(&mut self, sent: &[Archived], rows: &[OutboxRow]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for m in sent {
            super::insert_row(&tx, m, true)?;
        }
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO outbox (id, relay, mailbox, recipient, envelope, created, ekey)
                 VALUES (?1, ?2, ?3, ?4, '', ?5, ?6)",
            )?;
            let mut body = tx.prepare_cached(
                "INSERT OR IGNORE INTO outbox_envelopes (hash, envelope) VALUES (?1, ?2)",
            )?;
            // Each distinct envelope is serialised and written once, however many mailboxes
            // it goes to: a group message's deliveries share one or two.
            let mut keys: HashMap<(&str, usize), Vec<Keyed<'_>>> = HashMap::new();
            for r in rows {
                let e = &r.envelope;
                let same = keys.entry((e.id.as_str(), e.payload.len())).or_default();
                let key = match same.iter().find(|(o, _)| *o == e) {
                    Some((_, k)) => *k,
                    None => {
                        let json = serde_json::to_string(e)?;
                        let k: [u8; 32] = Sha256::digest(json.as_bytes()).into();
                        body.execute(params![k.as_slice(), json])?;
                        same.push((e, k));
                        k
                    }
                };
                stmt.execute(params![
                    r.id,
                    r.relay,
                    r.mailbox,
                    r.recipient,
                    r.created as i64,
                    key.as_slice()
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The deliveries whose time to live ran out while they waited (the envelope's `ttl`,
    /// else `default_ttl`, counted from when it was queued), oldest first. Giving up on
    /// them is the sender's policy: the message was meant to be gone by now.
    pub fn outbox_due(&self, now: u64, default_ttl: u64) -> Result<Vec<OutboxRow>> {
        select_rows(
            &self.conn,
            &format!("created + coalesce(json_extract({ENVELOPE}, '$.ttl'), ?2) <= ?1"),
            params![now as i64, default_ttl as i64],
        )
    }

    /// The archived `sent` line of a message I sent.
    pub fn sent_line(&self, id: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT json FROM messages WHERE id = ?1 AND direction = 'out'",
                params![id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every delivery still waiting, oldest first.
    pub fn outbox_pending(&self) -> Result<Vec<OutboxRow>> {
        select_rows(&self.conn, "1", [])
    }

    /// What `pigeon outbox list` shows of every waiting delivery, oldest first (without
    /// the envelopes: they can be large).
    pub fn outbox_entries(&self) -> Result<Vec<QueuedEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, recipient, relay, attempts, last_error, created FROM outbox
             ORDER BY created, rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(QueuedEntry {
                id: r.get(0)?,
                recipient: r.get(1)?,
                relay: r.get(2)?,
                attempts: r.get::<_, i64>(3)? as u32,
                last_error: r.get(4)?,
                created: r.get::<_, i64>(5)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records delivery outcomes (none: done or given up, the row goes; an error: tried
    /// again later), and replaces the archived `sent` lines of these messages (id, JSON)
    /// with the ones that report them, in the same transaction.
    pub fn outbox_results(
        &mut self,
        outcomes: &[(&OutboxRow, Option<String>)],
        sent_lines: &[(&str, String)],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut line = tx.prepare_cached(
                "UPDATE messages SET json = ?2 WHERE id = ?1 AND direction = 'out'",
            )?;
            for (id, json) in sent_lines {
                line.execute(params![id, json])?;
            }
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
            // An envelope goes with its last delivery. The table holds only what is still
            // pending, so the scan is short.
            tx.prepare_cached(
                "DELETE FROM outbox_envelopes WHERE NOT EXISTS
                 (SELECT 1 FROM outbox WHERE outbox.ekey = outbox_envelopes.hash)",
            )?
            .execute([])?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// A row's envelope JSON in SQL, shared or inline.
const ENVELOPE: &str = "coalesce((SELECT e.envelope FROM outbox_envelopes e
     WHERE e.hash = outbox.ekey), outbox.envelope)";

fn select_rows(
    conn: &rusqlite::Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<OutboxRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, relay, mailbox, recipient, {ENVELOPE}, attempts, created FROM outbox
         WHERE {filter} ORDER BY created, rowid"
    ))?;
    let rows = stmt.query_map(params, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, i64>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    // Parsed once per distinct envelope: the rows of one group message share it.
    let mut parsed: Option<(String, Envelope)> = None;
    for row in rows {
        let (id, relay, mailbox, recipient, env, attempts, created) = row?;
        let envelope = match &parsed {
            Some((json, e)) if *json == env => e.clone(),
            _ => {
                let e: Envelope = serde_json::from_str(&env)?;
                parsed = Some((env, e.clone()));
                e
            }
        };
        out.push(OutboxRow {
            id,
            relay,
            mailbox,
            recipient,
            envelope,
            attempts: attempts as u32,
            created: created as u64,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_asks_for_what_is_left_of_the_ttl() {
        let row = |ttl| OutboxRow {
            id: "a".into(),
            relay: "r".into(),
            mailbox: "m".into(),
            recipient: "bob".into(),
            envelope: Envelope {
                v: 1,
                id: "a".into(),
                payload: String::new(),
                ttl,
            },
            attempts: 0,
            created: 1000,
        };
        assert_eq!(row(Some(3600)).envelope_now(1000).ttl, Some(3600));
        assert_eq!(row(Some(3600)).envelope_now(1600).ttl, Some(3000));
        assert_eq!(row(Some(3600)).envelope_now(9999).ttl, Some(1));
        assert_eq!(row(None).envelope_now(9999).ttl, None);
    }

    fn row(id: &str, mailbox: &str, payload: &str) -> OutboxRow {
        OutboxRow {
            id: id.into(),
            relay: "http://r".into(),
            mailbox: mailbox.into(),
            recipient: mailbox.into(),
            envelope: Envelope {
                v: 1,
                id: id.into(),
                payload: payload.into(),
                ttl: Some(3600),
            },
            attempts: 0,
            created: 1000,
        }
    }

    fn count(s: &Store, sql: &str) -> i64 {
        s.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn an_envelope_for_many_mailboxes_is_kept_once_until_its_last_delivery() {
        let mut s = Store::in_memory().unwrap();
        let big = "A".repeat(20_000);
        // One message, two key kinds: two envelopes under one id, five deliveries.
        let rows = vec![
            row("m1", "a", &big),
            row("m1", "b", &big),
            row("m1", "c", &big),
            row("m1", "d", "pgp"),
            row("m1", "e", "pgp"),
        ];
        s.outbox_add(&[], &rows).unwrap();
        assert_eq!(count(&s, "SELECT count(*) FROM outbox_envelopes"), 2);
        assert!(count(&s, "SELECT sum(length(envelope)) FROM outbox") == 0);
        let pending = s.outbox_pending().unwrap();
        assert_eq!(pending.len(), 5);
        for (p, r) in pending.iter().zip(&rows) {
            assert_eq!((&p.mailbox, &p.envelope), (&r.mailbox, &r.envelope));
        }
        assert_eq!(s.outbox_due(1000 + 3600, 60).unwrap().len(), 5);
        assert!(s.outbox_due(1000 + 3599, 60).unwrap().is_empty());
        let done: Vec<(&OutboxRow, Option<String>)> = vec![
            (&pending[0], None),
            (&pending[1], None),
            (&pending[3], None),
            (&pending[4], Some("later".into())),
        ];
        s.outbox_results(&done, &[]).unwrap();
        assert_eq!(count(&s, "SELECT count(*) FROM outbox_envelopes"), 2);
        let left = s.outbox_pending().unwrap();
        assert_eq!(left.len(), 2);
        assert_eq!(left[0].envelope.payload, big);
        assert_eq!(left[1].attempts, 1);
        let done: Vec<_> = left.iter().map(|r| (r, None)).collect();
        s.outbox_results(&done, &[]).unwrap();
        assert_eq!(count(&s, "SELECT count(*) FROM outbox_envelopes"), 0);
    }

    #[test]
    fn an_archive_of_schema_4_keeps_its_queued_envelopes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.sqlite");
        let c = rusqlite::Connection::open(&p).unwrap();
        for m in &super::super::MIGRATIONS[..4] {
            c.execute_batch(m).unwrap();
        }
        c.pragma_update(None, "user_version", 4).unwrap();
        c.pragma_update(None, "application_id", super::super::APPLICATION_ID)
            .unwrap();
        let old = row("old", "a", "aGk=");
        c.execute(
            "INSERT INTO outbox (id, relay, mailbox, recipient, envelope, created)
             VALUES ('old', 'http://r', 'a', 'a', ?1, 1000)",
            params![serde_json::to_string(&old.envelope).unwrap()],
        )
        .unwrap();
        drop(c);
        let mut s = Store::open(&p).unwrap();
        assert_eq!(s.version().unwrap(), super::super::MIGRATIONS.len());
        s.outbox_add(&[], &[row("new", "a", "bmV3"), row("new", "b", "bmV3")])
            .unwrap();
        let pending = s.outbox_pending().unwrap();
        let got: Vec<(&str, &str)> = pending
            .iter()
            .map(|r| (r.id.as_str(), r.envelope.payload.as_str()))
            .collect();
        assert_eq!(got, [("old", "aGk="), ("new", "bmV3"), ("new", "bmV3")]);
        assert_eq!(s.outbox_due(1000 + 3600, 60).unwrap().len(), 3);
        let done: Vec<_> = pending.iter().map(|r| (r, None)).collect();
        s.outbox_results(&done, &[]).unwrap();
        assert!(s.outbox_pending().unwrap().is_empty());
        assert_eq!(count(&s, "SELECT count(*) FROM outbox_envelopes"), 0);
    }
}
