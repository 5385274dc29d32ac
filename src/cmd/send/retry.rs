//! What earlier sends left in the outbox: given up once its time to live ran out, else
//! posted again. A `send` of a new message does this after the new message is delivered,
//! under a short deadline, so a relay that never answers (or asks to wait minutes) holds
//! up neither the new message nor the run; `send --retry` waits as long as a post does.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use anyhow::Result;
use serde_json::{Value, json};

use super::{OUTBOX_DEFAULT_TTL, Sender, delivery_report};
use crate::keys::now;
use crate::store::OutboxRow;

/// Where the outcome of retried deliveries goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Report {
    /// `retried` and `expired` JSON lines on stdout (`send --retry`, `--report-retries`),
    /// besides the stderr line of each delivery that failed.
    Stdout,
    /// Only stderr: one line per delivery, so stdout holds the new message's `sent` line.
    Stderr,
}

impl Sender {
    /// Gives up on deliveries whose time to live ran out, then posts the others (all at
    /// once: every relay in parallel, one batch request per relay), leaving out those of
    /// messages sent in this run. With a `deadline`, no post waits past it.
    pub(super) fn retry_outbox(&mut self, out: Report, deadline: Option<Instant>) -> Result<()> {
        for (id, rows) in by_id(self.store.outbox_due(now(), OUTBOX_DEFAULT_TTL)?) {
            self.failed += rows.len();
            let report: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let ttl = r.envelope.ttl.unwrap_or(OUTBOX_DEFAULT_TTL);
                    let why = format!("not delivered within its time to live ({ttl} s); given up");
                    delivery_report(r, false, Some(&why), false)
                })
                .collect();
            let outcomes: Vec<_> = rows.iter().map(|r| (r, None)).collect();
            self.record(&[(id.as_str(), &report[..])], &outcomes)?;
            self.tell(out, "expired", &id, &report)?;
        }
        let sent_now: &HashSet<String> = &self.sent_now;
        let rows: Vec<OutboxRow> = (self.store.outbox_pending()?.into_iter())
            .filter(|r| !sent_now.contains(&r.id))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let client = match deadline {
            Some(d) => self.client.until(d),
            None => self.client.clone(),
        };
        let (mut report, mut outcomes) = self.post(&client, &rows);
        // Past the deadline, a recipient who moved is followed by the next run instead.
        let extra = match deadline {
            Some(d) if Instant::now() >= d => Vec::new(),
            _ => self.follow_moves(&rows, &mut report, &mut outcomes)?,
        };
        let (extra_report, extra_outcomes) = self.post(&client, &extra);
        outcomes.extend(extra_outcomes);
        let mut by_msg: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for (row, r) in rows
            .iter()
            .chain(&extra)
            .zip(report.into_iter().chain(extra_report))
        {
            by_msg.entry(row.id.as_str()).or_default().push(r);
        }
        let reports: Vec<(&str, &[Value])> = by_msg.iter().map(|(id, r)| (*id, &r[..])).collect();
        self.record(&reports, &outcomes)?;
        for (id, report) in &reports {
            self.tell(out, "retried", id, report)?;
        }
        Ok(())
    }

    /// Records retried messages' outcomes, and patches their archived `sent` lines so the
    /// history shows what became of each delivery (by recipient and relay).
    pub(super) fn record(
        &mut self,
        reports: &[(&str, &[Value])],
        outcomes: &[(&OutboxRow, Option<String>)],
    ) -> Result<()> {
        let mut lines = Vec::new();
        for (id, report) in reports {
            if let Some(text) = self.store.sent_line(id)? {
                let mut line: Value = serde_json::from_str(&text)?;
                patch_deliveries(&mut line, report);
                lines.push((*id, line.to_string()));
            }
        }
        self.store.outbox_results(outcomes, &lines)
    }

    /// A retried message's outcome: its JSON line on stdout when asked for, and a line on
    /// stderr per delivery that failed (or, unless `--quiet`, that got through).
    fn tell(&self, out: Report, kind: &str, id: &str, report: &[Value]) -> Result<()> {
        if out == Report::Stdout {
            super::super::emit(&json!({"type": kind, "id": id, "deliveries": report}))?;
        }
        for d in report {
            if d["ok"] == true {
                if !self.trackers.quiet {
                    eprintln!(
                        "pigeon: queued message {id} delivered to {} at {}",
                        text(&d["recipient"]),
                        text(&d["relay"])
                    );
                }
            } else {
                self.say_undelivered(Some(id), d);
            }
        }
        Ok(())
    }

    /// One line on stderr for a delivery that did not get through (`d`: its report). A
    /// delivery left queued is not said under `--quiet`; one given up always is.
    pub(super) fn say_undelivered(&self, queued_id: Option<&str>, d: &Value) {
        if d["ok"] == true || d["moved"] == true {
            return;
        }
        let queued = d["queued"] == true;
        if queued && self.trackers.quiet {
            return;
        }
        let what = match queued_id {
            Some(id) => format!("queued message {id}"),
            None => "message".into(),
        };
        let at = match d["relay"].as_str() {
            Some(r) => format!(" at {r}"),
            None => String::new(),
        };
        let then = if queued {
            "left queued: the next send or `pigeon send --retry` tries again \
             (`pigeon outbox list` shows it)"
        } else {
            "given up"
        };
        let line = format!(
            "{what} not delivered to {}{at}: {}; {then}",
            text(&d["recipient"]),
            text(&d["error"]),
        );
        eprintln!("pigeon: {}", crate::output::one_line(&line));
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

/// Replaces (or adds) the deliveries of `line` that `report` tells of, by recipient and
/// relay.
pub(crate) fn patch_deliveries(line: &mut Value, report: &[Value]) {
    if let Some(deliveries) = line["deliveries"].as_array_mut() {
        for new in report {
            let same =
                |d: &&mut Value| d["recipient"] == new["recipient"] && d["relay"] == new["relay"];
            match deliveries.iter_mut().find(same) {
                Some(d) => *d = new.clone(),
                None => deliveries.push(new.clone()),
            }
        }
    }
}

/// Outbox rows grouped by message id, in id order.
fn by_id(rows: Vec<OutboxRow>) -> BTreeMap<String, Vec<OutboxRow>> {
    let mut out: BTreeMap<String, Vec<OutboxRow>> = BTreeMap::new();
    for row in rows {
        out.entry(row.id.clone()).or_default().push(row);
    }
    out
}
