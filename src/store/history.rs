//! Reading the history back: archived messages in time order with the filters done by
//! SQLite, handed over one row at a time (memory stays flat however big the archive), and
//! pruning old history in bounded batches.
//!
//! "Time" is `received`: when the message entered this archive (for a sent one, when it
//! was sent), a clock of ours. The sender's `ts` is exported too, but a sender can claim
//! any `ts`, so it must not decide where a message sorts or which filter it passes.

use anyhow::Result;
use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;

use super::{Archived, Store};

/// Which archived messages to read; every field set narrows (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Fingerprints of a correspondent: messages they sent or that were addressed to them.
    pub with: Option<String>,
    /// The group id the message carries.
    pub group: Option<String>,
    /// `received >= since` (Unix seconds).
    pub since: Option<u64>,
    /// `received < until` (Unix seconds).
    pub until: Option<u64>,
    /// `in` (received) or `out` (sent).
    pub direction: Option<String>,
    /// Any of these kinds (`text`, `file`, …); empty is every kind.
    pub kinds: Vec<String>,
    /// At most this many messages (the oldest that match).
    pub limit: Option<u64>,
}

impl HistoryFilter {
    /// The WHERE clause and its parameters.
    fn sql(&self) -> (String, Vec<SqlValue>) {
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<SqlValue> = Vec::new();
        if let Some(fp) = &self.with {
            args.push(SqlValue::Text(fp.clone()));
            let n = args.len();
            clauses.push(format!(
                "(sender = ?{n} OR EXISTS (SELECT 1 FROM json_each(messages.recipients) \
                 WHERE json_each.value = ?{n}))"
            ));
        }
        if let Some(g) = &self.group {
            args.push(SqlValue::Text(g.clone()));
            clauses.push(format!("grp = ?{}", args.len()));
        }
        if let Some(t) = self.since {
            args.push(SqlValue::Integer(clamp(t)));
            clauses.push(format!("received >= ?{}", args.len()));
        }
        if let Some(t) = self.until {
            args.push(SqlValue::Integer(clamp(t)));
            clauses.push(format!("received < ?{}", args.len()));
        }
        if let Some(d) = &self.direction {
            args.push(SqlValue::Text(d.clone()));
            clauses.push(format!("direction = ?{}", args.len()));
        }
        if !self.kinds.is_empty() {
            let mut marks = Vec::new();
            for k in &self.kinds {
                args.push(SqlValue::Text(k.clone()));
                marks.push(format!("?{}", args.len()));
            }
            clauses.push(format!("kind IN ({})", marks.join(", ")));
        }
        let filter = if clauses.is_empty() {
            "1".to_string()
        } else {
            clauses.join(" AND ")
        };
        (filter, args)
    }
}

fn clamp(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// One message of a prune batch: what to delete, and where its files are said to be.
#[derive(Debug, Clone)]
pub struct PruneRow {
    pub rowid: i64,
    pub id: String,
    /// The archived JSON line (a received message lists its saved files there).
    pub json: String,
}

impl Store {
    /// Calls `each` with every archived message that passes `filter`, ordered by time,
    /// then id (then sender: ids are unique per sender). Rows are read one at a time from
    /// SQLite; the first error from `each` stops the walk. Returns how many were handed.
    pub fn history(
        &self,
        filter: &HistoryFilter,
        mut each: impl FnMut(Archived) -> Result<()>,
    ) -> Result<u64> {
        let (clause, mut args) = filter.sql();
        let mut sql = format!(
            "SELECT id, direction, sender, recipients, grp, ts, received, kind, body, json
             FROM messages WHERE {clause} ORDER BY received, id, sender"
        );
        if let Some(n) = filter.limit {
            args.push(SqlValue::Integer(clamp(n)));
            sql.push_str(&format!(" LIMIT ?{}", args.len()));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            each(super::row_to_archived(row)?)?;
            n += 1;
        }
        Ok(n)
    }

    /// How many messages `history` would hand over (for a progress bar).
    pub fn history_count(&self, filter: &HistoryFilter) -> Result<u64> {
        let (clause, args) = filter.sql();
        let n: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM messages WHERE {clause}"),
            params_from_iter(args),
            |r| r.get(0),
        )?;
        let n = n as u64;
        Ok(filter.limit.map_or(n, |l| n.min(l)))
    }

    /// Up to `batch` messages received before `before`, after `after_rowid`, in rowid
    /// order. Never one that is not yet handed to the user (`recv` would lose it) nor a
    /// sent one whose deliveries still wait in the outbox (`send --retry` patches it).
    pub fn prune_batch(&self, before: u64, after_rowid: i64, batch: u32) -> Result<Vec<PruneRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rowid, id, json FROM messages
             WHERE received < ?1 AND rowid > ?2 AND delivered = 1
               AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.id = messages.id)
             ORDER BY rowid LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            rusqlite::params![clamp(before), after_rowid, i64::from(batch)],
            |r| {
                Ok(PruneRow {
                    rowid: r.get(0)?,
                    id: r.get(1)?,
                    json: r.get(2)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Deletes archived messages by rowid, in one transaction, overwriting the freed
    /// pages (`secure_delete`): pruned history should not linger in the file.
    pub fn delete_rows(&mut self, rowids: &[i64]) -> Result<()> {
        self.conn.pragma_update(None, "secure_delete", true)?;
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM messages WHERE rowid = ?1")?;
            for r in rowids {
                stmt.execute([r])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, direction: &str, sender: &str, to: &[&str], received: u64) -> Archived {
        Archived {
            id: id.into(),
            direction: direction.into(),
            sender: sender.into(),
            recipients: to.iter().map(|s| s.to_string()).collect(),
            group: None,
            ts: 1,
            received,
            kind: "text".into(),
            body: format!("body {id}"),
            json: "{}".into(),
        }
    }

    fn ids(s: &Store, f: &HistoryFilter) -> Vec<String> {
        let mut out = Vec::new();
        let n = s
            .history(f, |m| {
                out.push(m.id);
                Ok(())
            })
            .unwrap();
        assert_eq!(n as usize, out.len());
        assert_eq!(s.history_count(f).unwrap(), n);
        out
    }

    #[test]
    fn filters_combine_and_order_is_time_then_id() {
        let s = Store::in_memory().unwrap();
        s.insert(&msg("b", "in", "bob", &["me"], 20)).unwrap();
        s.insert(&msg("a", "in", "bob", &["me"], 20)).unwrap();
        s.insert(&msg("c", "out", "me", &["bob", "carol"], 10))
            .unwrap();
        s.insert(&msg("d", "in", "carol", &["me"], 30)).unwrap();
        let mut g = msg("e", "in", "carol", &["me", "bob"], 40);
        g.group = Some("ops".into());
        g.kind = "file".into();
        s.insert(&g).unwrap();

        let all = HistoryFilter::default();
        assert_eq!(ids(&s, &all), ["c", "a", "b", "d", "e"]);
        let with_bob = HistoryFilter {
            with: Some("bob".into()),
            ..all.clone()
        };
        assert_eq!(ids(&s, &with_bob), ["c", "a", "b", "e"]);
        let f = HistoryFilter {
            direction: Some("in".into()),
            since: Some(20),
            until: Some(40),
            ..with_bob.clone()
        };
        assert_eq!(ids(&s, &f), ["a", "b"]);
        let f = HistoryFilter {
            limit: Some(1),
            ..f
        };
        assert_eq!(ids(&s, &f), ["a"]);
        let f = HistoryFilter {
            group: Some("ops".into()),
            ..all.clone()
        };
        assert_eq!(ids(&s, &f), ["e"]);
        let f = HistoryFilter {
            kinds: vec!["file".into(), "membership".into()],
            ..all.clone()
        };
        assert_eq!(ids(&s, &f), ["e"]);
        let f = HistoryFilter {
            group: Some("dev".into()),
            ..all
        };
        assert!(ids(&s, &f).is_empty());
    }

    #[test]
    fn prune_skips_undelivered_and_queued_messages() {
        let mut s = Store::in_memory().unwrap();
        s.insert(&msg("old", "in", "bob", &["me"], 5)).unwrap();
        s.insert(&msg("new", "in", "bob", &["me"], 50)).unwrap();
        s.insert(&msg("pending", "in", "bob", &["me"], 5)).unwrap();
        s.conn
            .execute("UPDATE messages SET delivered = 0 WHERE id = 'pending'", [])
            .unwrap();
        s.conn
            .execute(
                "INSERT INTO outbox (id, relay, mailbox, recipient, envelope, created)
                 VALUES ('queued', 'r', 'm', 'bob', '{}', 1)",
                [],
            )
            .unwrap();
        s.insert(&msg("queued", "out", "me", &["bob"], 5)).unwrap();
        let batch = s.prune_batch(10, 0, 100).unwrap();
        let got: Vec<&str> = batch.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(got, ["old"]);
        s.delete_rows(&[batch[0].rowid]).unwrap();
        let left = ids(&s, &HistoryFilter::default());
        assert_eq!(left, ["pending", "queued", "new"]);
    }
}
