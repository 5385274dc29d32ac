//! `send` and the trackers: a recipient named `NAME@tracker` is looked up and pinned when
//! unknown; a contact's card older than `refresh_after` is fetched again before sending;
//! and when every relay of a recipient fails, their card is fetched at once and the
//! message goes to the relays of the newer card in the same run.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use anyhow::Result;
use serde_json::{Value, json};

use super::Sender;
use crate::directory::{self, Query, Refreshed};
use crate::error::{Exit, fail};
use crate::keys::Contact;
use crate::store::OutboxRow;

/// What `send` knows of the trackers.
pub(super) struct Trackers {
    pub urls: Vec<String>,
    /// Tracker calls wait less than relay posts: a refresh is an extra, and a tracker that
    /// does not answer must not hold up every send (the pinned card is used meanwhile).
    pub client: crate::client::Client,
    pub refresh_after: u64,
    pub quiet: bool,
    /// Fingerprints whose card was fetched in this run: once is enough.
    pub asked: RefCell<HashSet<String>>,
}

/// Where a recipient's newer card says to deliver: its relays, and its draining relays.
type Moved = (Vec<String>, Vec<String>);

/// Longest wait for a tracker during a send, in seconds.
pub(super) const TRACKER_TIMEOUT: u64 = 5;

/// The suffix that asks for a tracker lookup of an unknown recipient.
const AT_TRACKER: &str = "@tracker";

impl Trackers {
    fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("pigeon: {}", crate::output::one_line(msg));
        }
    }

    /// Said even under `--quiet`: a tracker served something that did not verify.
    fn warn(&self, msg: &str) {
        eprintln!("pigeon: {}", crate::output::one_line(msg));
    }

    fn say_all(&self, notes: &[directory::Note]) {
        for n in notes {
            if n.security {
                self.warn(&n.text);
            } else {
                self.note(&n.text);
            }
        }
    }
}

impl Sender {
    /// The contact a recipient names: a pinned one (its card refreshed first when due), or
    /// for `NAME@tracker` an unknown one looked up on the trackers and pinned (trust on
    /// first use). Only `@tracker` asks a tracker about a name: a typo never leaves the
    /// machine, and the trackers learn only whom you asked them for.
    pub(super) fn resolve(&self, name: &str) -> Result<Contact> {
        if let Some(c) = self.contacts.find(name)? {
            return self.refresh_if_due(c);
        }
        let Some(who) = name.strip_suffix(AT_TRACKER).filter(|w| !w.is_empty()) else {
            return self.contacts.get(name);
        };
        if let Some(c) = self.contacts.find(who)? {
            return self.refresh_if_due(c);
        }
        if self.trackers.urls.is_empty() {
            return crate::cmd::tracker_client::no_tracker(format!(
                "no tracker configured to look up {:?} on (it is no contact)",
                crate::output::sanitize(who)
            ));
        }
        let query = Query::parse(who);
        let lookup = directory::lookup(&self.trackers.client, &self.trackers.urls, &query);
        self.trackers.say_all(&lookup.problems());
        let found = lookup.into_found()?;
        if found.card.fingerprint == self.id.meta.fingerprint {
            return Err(fail(Exit::Usage, "that is your own card"));
        }
        let as_name = match query {
            Query::Name(_) => Some(who),
            Query::Fingerprint(_) => None,
        };
        let (c, status) = self.contacts.add(&found.value, as_name, false)?;
        self.trackers
            .asked
            .borrow_mut()
            .insert(c.fingerprint.clone());
        self.trackers.note(&format!(
            "{} {} ({}) from {}",
            status.as_str(),
            c.name,
            c.fingerprint,
            found.tracker
        ));
        Ok(c)
    }

    /// Fetches the contact's card again when it is older than `refresh_after`, or lists
    /// no relay to post to (every one draining). Trouble with the trackers is said and
    /// the pinned card is used.
    fn refresh_if_due(&self, c: Contact) -> Result<Contact> {
        let due = directory::due(&c, self.trackers.refresh_after) || !has_relay(&c.card);
        if !due {
            return Ok(c);
        }
        Ok(self.refresh(&c)?.unwrap_or(c))
    }

    /// Asks the trackers for a newer card of `c` (once per run); the new contact when one
    /// was pinned.
    fn refresh(&self, c: &Contact) -> Result<Option<Contact>> {
        if self.trackers.urls.is_empty()
            || !self
                .trackers
                .asked
                .borrow_mut()
                .insert(c.fingerprint.clone())
        {
            return Ok(None);
        }
        let (outcome, notes) = directory::refresh(
            &self.trackers.client,
            &self.trackers.urls,
            &self.contacts,
            c,
        )?;
        self.trackers.say_all(&notes);
        Ok(match outcome {
            Refreshed::Updated(new) => {
                let seq = new.card.get("seq").cloned().unwrap_or(Value::Null);
                self.trackers
                    .note(&format!("{}'s card was refreshed (seq {seq})", new.name));
                Some(*new)
            }
            Refreshed::Unchanged | Refreshed::Refused => None,
        })
    }

    /// After posting `rows`: each recipient (mailbox) of a message whose every delivery
    /// failed has its card fetched at once (once per run). When the newer card lists other relays, the
    /// failed deliveries to relays it no longer lists leave the outbox (reported
    /// `"moved":true`) and the rows returned (already queued) go to its new relays.
    pub(super) fn follow_moves<'r>(
        &mut self,
        rows: &'r [OutboxRow],
        report: &mut [Value],
        outcomes: &mut [(&'r OutboxRow, Option<String>)],
    ) -> Result<Vec<OutboxRow>> {
        // (message id, mailbox) -> the indexes of its rows, and whether any succeeded.
        let mut groups: BTreeMap<(&str, &str), (Vec<usize>, bool)> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            let g = groups.entry((&r.id, &r.mailbox)).or_default();
            g.0.push(i);
            g.1 |= report[i]["ok"] == Value::Bool(true);
        }
        let mut cards: BTreeMap<String, Option<Moved>> = BTreeMap::new();
        let mut extra = Vec::new();
        for (_, (idx, any_ok)) in groups {
            if any_ok {
                continue;
            }
            let first = &rows[idx[0]];
            let relays = match cards.get(&first.mailbox) {
                Some(known) => known.clone(),
                None => {
                    let new = self.moved_card(first)?;
                    cards.insert(first.mailbox.clone(), new.clone());
                    new
                }
            };
            let Some((relays, draining)) = relays else {
                continue;
            };
            let tried: Vec<&str> = idx.iter().map(|&i| rows[i].relay.as_str()).collect();
            for &i in &idx {
                let gone = !relays.contains(&rows[i].relay) || draining.contains(&rows[i].relay);
                if gone {
                    outcomes[i].1 = None;
                    report[i]["queued"] = json!(false);
                    report[i]["moved"] = json!(true);
                    self.failed = self.failed.saturating_sub(1);
                }
            }
            // Never a relay the card also lists as draining, as for a first delivery.
            for relay in relays
                .iter()
                .filter(|r| !tried.contains(&r.as_str()) && !draining.contains(r))
            {
                let mut row = first.clone();
                row.relay = relay.clone();
                row.attempts = 0;
                extra.push(row);
            }
        }
        if !extra.is_empty() {
            self.store.outbox_add(&[], &extra)?;
        }
        Ok(extra)
    }

    /// The relays (and draining relays) of a recipient's card when it no longer matches
    /// the failed delivery: a newer card fetched now, or one pinned since the delivery was
    /// queued (a retry). `None` when the card still lists the relay and nothing is newer.
    fn moved_card(&self, row: &OutboxRow) -> Result<Option<Moved>> {
        let Some(c) = self.contacts.find(&row.recipient)? else {
            return Ok(None);
        };
        if c.card.get("mailbox").and_then(Value::as_str) != Some(&row.mailbox) {
            return Ok(None);
        }
        let (c, fetched) = match self.refresh(&c)? {
            Some(new) => (new, true),
            None => (c, false),
        };
        let (card, _) = c.checked()?;
        let listed = card.relays.contains(&row.relay) && !card.draining.contains(&row.relay);
        if listed && !fetched {
            return Ok(None);
        }
        self.trackers.note(&format!(
            "{} moved: delivering to {}",
            c.name,
            card.relays.join(", ")
        ));
        Ok(Some((card.relays, card.draining)))
    }
}

/// Whether a card names a relay senders may post to.
fn has_relay(card: &Value) -> bool {
    let list = |k: &str| {
        card.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let draining = list("draining");
    list("relays").iter().any(|r| !draining.contains(r))
}

/// Appends the reports of `extra` rows to the `sent` lines of their messages.
pub(super) fn merge_reports(lines: &mut [(&str, Value)], extra: &[OutboxRow], report: Vec<Value>) {
    for (row, r) in extra.iter().zip(report) {
        if let Some((_, line)) = lines.iter_mut().find(|(id, _)| *id == row.id)
            && let Some(d) = line["deliveries"].as_array_mut()
        {
            d.push(r);
        }
    }
}
