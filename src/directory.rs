//! Finding cards on trackers: ask every configured tracker at once, verify every card it
//! serves, keep the highest valid `seq`. A tracker can withhold a card or serve an old one,
//! but nothing it forges is believed, and one that is down does not fail a lookup that
//! another tracker answered. Knows nothing of stdin/stdout.

use anyhow::Result;
use serde_json::Value;

use crate::client::{Client, RelayError};
use crate::error::{Exit, WithHint, fail};
use crate::keys::{Contact, Contacts, normalize_fingerprint, now, verify_card};
use crate::wire::Card;

/// What is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Name(String),
    Fingerprint(String),
}

impl Query {
    /// A fingerprint when it is one (40 or 64 hex digits, spaces and colons allowed), else
    /// a name.
    pub fn parse(text: &str) -> Query {
        let fp = normalize_fingerprint(text);
        if matches!(fp.len(), 40 | 64) && fp.bytes().all(|b| b.is_ascii_hexdigit()) {
            Query::Fingerprint(fp)
        } else {
            Query::Name(text.to_string())
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Query::Name(s) | Query::Fingerprint(s) => s,
        }
    }
}

/// A card that verified and matches the query.
#[derive(Debug, Clone)]
pub struct Found {
    pub card: Card,
    /// The card as served (unknown fields kept, so its signature still checks).
    pub value: Value,
    /// Its exact bytes.
    pub bytes: Vec<u8>,
    pub tracker: String,
}

/// What one tracker answered.
#[derive(Debug, Clone)]
pub enum Answer {
    Card(Box<Found>),
    NotFound,
    /// It served something that is not a valid card for the query: forged, expired,
    /// malformed, or someone else's.
    Refused(String),
    /// No usable answer: unreachable, busy, an error.
    Failed(String),
}

/// Something for people to read about a lookup.
#[derive(Debug, Clone)]
pub struct Note {
    /// A card was refused (forged, expired, stale, someone else's): said even under
    /// `--quiet`. Otherwise a tracker was only unreachable or failing.
    pub security: bool,
    pub text: String,
}

impl Note {
    fn security(text: String) -> Note {
        Note {
            security: true,
            text,
        }
    }
}

/// Every tracker's answer, and the best card among them.
#[derive(Debug)]
pub struct Lookup {
    pub query: Query,
    pub answers: Vec<(String, Answer)>,
}

impl Lookup {
    /// Every valid card served, one per tracker that served one, in tracker order.
    pub fn cards(&self) -> impl Iterator<Item = &Found> {
        self.answers.iter().filter_map(|(_, a)| match a {
            Answer::Card(f) => Some(&**f),
            _ => None,
        })
    }

    /// The valid cards when they are of more than one key: for a name, a conflict that no
    /// `seq` settles (a `seq` means nothing between two identities). Ordered by
    /// fingerprint, then tracker, so the answer does not depend on the order of the
    /// trackers.
    pub fn conflict(&self) -> Option<Vec<&Found>> {
        let mut cards: Vec<&Found> = self.cards().collect();
        let first = cards.first()?.card.fingerprint.clone();
        if cards.iter().all(|f| f.card.fingerprint == first) {
            return None;
        }
        cards.sort_by(|a, b| {
            (&a.card.fingerprint, &a.tracker).cmp(&(&b.card.fingerprint, &b.tracker))
        });
        Some(cards)
    }

    /// The best card of one key: the highest valid seq, and on a tie the smallest bytes
    /// (never the order of the trackers). `None` when no card came back, or when cards of
    /// several keys did ([`Lookup::conflict`]).
    pub fn best(&self) -> Option<&Found> {
        if self.conflict().is_some() {
            return None;
        }
        self.cards()
            .max_by(|a, b| a.card.seq.cmp(&b.card.seq).then(b.bytes.cmp(&a.bytes)))
    }

    /// Only the cards of the key `fingerprint` (the user's choice in a conflict); the other
    /// keys' cards count as not found.
    pub fn only(mut self, fingerprint: &str) -> Lookup {
        for (_, a) in &mut self.answers {
            if let Answer::Card(f) = a
                && f.card.fingerprint != fingerprint
            {
                *a = Answer::NotFound;
            }
        }
        self
    }

    /// One note for people per tracker that did not give a good card.
    pub fn problems(&self) -> Vec<Note> {
        let mut out = Vec::new();
        for (tracker, a) in &self.answers {
            match a {
                Answer::Refused(why) => out.push(Note::security(format!(
                    "tracker {tracker}: REFUSED the card it served for {}: {why}",
                    self.query.text()
                ))),
                Answer::Failed(why) => out.push(Note {
                    security: false,
                    text: format!("tracker {tracker}: {why}"),
                }),
                Answer::Card(_) | Answer::NotFound => {}
            }
        }
        for f in self.conflict().unwrap_or_default() {
            out.push(Note::security(format!(
                "CONFLICT: tracker {} holds {} for key {} (seq {})",
                f.tracker,
                self.query.text(),
                f.card.fingerprint,
                f.card.seq
            )));
        }
        out
    }

    /// At least one tracker answered (a card or "not found").
    pub fn answered(&self) -> bool {
        self.answers
            .iter()
            .any(|(_, a)| matches!(a, Answer::Card(_) | Answer::NotFound))
    }

    /// The best card, or why there is none: exit 4 when only refused cards came back,
    /// 5 when a tracker said it has none, 3 when no tracker answered.
    pub fn into_found(self) -> Result<Found> {
        if let Some(f) = self.best() {
            return Ok(f.clone());
        }
        let what = crate::output::sanitize(self.query.text());
        if let Some(c) = self.conflict() {
            let mut keys: Vec<&str> = c.iter().map(|f| f.card.fingerprint.as_str()).collect();
            keys.dedup();
            return Err(fail(
                Exit::Crypto,
                format!(
                    "the trackers disagree on who {what} is: {} keys claim the name; refused, \
                     nothing was pinned",
                    keys.len()
                ),
            ))
            .hint(format!(
                "ask {what} for their fingerprint, then choose it: `pigeon tracker lookup \
                 {what} --fingerprint FP --add` (or send to FP@tracker)"
            ));
        }
        let any = |p: fn(&Answer) -> bool| self.answers.iter().any(|(_, a)| p(a));
        if any(|a| matches!(a, Answer::Refused(_))) {
            Err(fail(
                Exit::Crypto,
                format!("no tracker served a valid card for {what}: every card was refused"),
            ))
            .hint("a tracker may be hostile or out of date; nothing was pinned or changed")
        } else if any(|a| matches!(a, Answer::NotFound)) {
            Err(fail(Exit::NotFound, format!("no tracker knows {what}")))
                .hint("ask them to run `pigeon tracker announce`, or for their card file")
        } else {
            Err(fail(
                Exit::Network,
                format!("no tracker could be reached to look up {what}"),
            ))
            .hint("check the URLs given with --tracker, PIGEON_TRACKER or [tracker] urls")
        }
    }
}

/// Asks every tracker at once and checks what each serves.
pub fn lookup(client: &Client, trackers: &[String], query: &Query) -> Lookup {
    let answers = std::thread::scope(|s| {
        let handles: Vec<_> = trackers
            .iter()
            .map(|t| s.spawn(move || (t.clone(), ask(client, t, query))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("lookup thread"))
            .collect()
    });
    Lookup {
        query: query.clone(),
        answers,
    }
}

fn ask(client: &Client, tracker: &str, query: &Query) -> Answer {
    let got = match query {
        Query::Name(n) => client.card_by_name(tracker, n),
        Query::Fingerprint(f) => client.card_by_fingerprint(tracker, f),
    };
    let bytes = match got {
        Ok(b) => b,
        Err(RelayError::Status { status: 404, .. }) => return Answer::NotFound,
        Err(e) => return Answer::Failed(e.to_string()),
    };
    match check(&bytes, query) {
        Ok((card, value)) => Answer::Card(Box::new(Found {
            card,
            value,
            bytes,
            tracker: tracker.to_string(),
        })),
        Err(e) => Answer::Refused(crate::output::one_line(&format!("{e:#}"))),
    }
}

/// A served card must verify fully (signature, keys, expiry) and be the one asked for.
fn check(bytes: &[u8], query: &Query) -> Result<(Card, Value)> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| anyhow::anyhow!("not a card (bad JSON: {e})"))?;
    let (card, _) = verify_card(&value)?;
    match query {
        Query::Fingerprint(fp) if card.fingerprint != *fp => {
            anyhow::bail!("it is the card of {}, not of {fp}", card.fingerprint)
        }
        // Trackers hold names case-folded (`Alice` and `alice` are one name).
        Query::Name(n) if card.name.to_lowercase() != n.to_lowercase() => {
            anyhow::bail!("it is the card of {:?}, not of {n:?}", card.name)
        }
        _ => Ok((card, value)),
    }
}

/// What refreshing a contact's card did.
#[derive(Debug)]
pub enum Refreshed {
    /// A newer card with the same key was pinned.
    Updated(Box<Contact>),
    /// The trackers have nothing newer (or none could tell).
    Unchanged,
    /// A card was refused: older than the pinned one, or it would not pin.
    Refused,
}

/// Fetches a contact's card by fingerprint from the trackers and pins it when it is newer
/// (the same key, by construction: the fingerprint names the key). An older card than the
/// pinned one is refused and changes nothing. Records when the trackers were last asked,
/// once any answered. Returns what happened and notes for people (trackers that failed or
/// served something refused).
pub fn refresh(
    client: &Client,
    trackers: &[String],
    contacts: &Contacts,
    contact: &Contact,
) -> Result<(Refreshed, Vec<Note>)> {
    let found = lookup(
        client,
        trackers,
        &Query::Fingerprint(contact.fingerprint.clone()),
    );
    let mut notes = found.problems();
    let pinned = contact.card.get("seq").and_then(Value::as_u64).unwrap_or(0);
    let outcome = match found.best() {
        Some(f) if f.card.seq > pinned => {
            match contacts.add(&f.value, Some(&contact.name), false) {
                Ok((c, _)) => Refreshed::Updated(Box::new(c)),
                Err(e) => {
                    notes.push(Note::security(format!(
                        "cannot pin {}'s new card: {e:#}",
                        contact.name
                    )));
                    Refreshed::Refused
                }
            }
        }
        Some(f) if f.card.seq < pinned => {
            notes.push(Note::security(format!(
                "tracker {} serves an older card of {} (seq {}) than the pinned one \
                 (seq {pinned}): refused",
                f.tracker, contact.name, f.card.seq
            )));
            Refreshed::Refused
        }
        _ => Refreshed::Unchanged,
    };
    if found.answered()
        && let Some(mut c) = contacts.by_fingerprint(&contact.fingerprint)?
    {
        c.refreshed = Some(now());
        contacts.save(&c)?;
    }
    Ok((outcome, notes))
}

/// Whether a contact's card is due for a refresh: fetched (or pinned) longer ago than
/// `refresh_after` seconds.
pub fn due(contact: &Contact, refresh_after: u64) -> bool {
    let last = contact.refreshed.unwrap_or(contact.updated);
    last.saturating_add(refresh_after) <= now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        let fp = "ab".repeat(32);
        assert_eq!(Query::parse(&fp), Query::Fingerprint(fp.clone()));
        assert_eq!(
            Query::parse(&"AB".repeat(20)),
            Query::Fingerprint("ab".repeat(20))
        );
        assert_eq!(Query::parse("bob"), Query::Name("bob".into()));
        assert_eq!(Query::parse("cafe"), Query::Name("cafe".into()));
    }

    fn found(fp: &str, seq: u64, bytes: &[u8], tracker: &str) -> Answer {
        let card = Card {
            type_: "card".into(),
            v: 1,
            name: "alice".into(),
            kind: "age".into(),
            fingerprint: fp.into(),
            age: None,
            pgp: None,
            mailbox_key: String::new(),
            mailbox: String::new(),
            relays: Vec::new(),
            draining: Vec::new(),
            seq,
            issued: 0,
            expires: None,
            sig: String::new(),
        };
        Answer::Card(Box::new(Found {
            card,
            value: Value::Null,
            bytes: bytes.to_vec(),
            tracker: tracker.into(),
        }))
    }

    fn name_lookup(answers: Vec<Answer>) -> Lookup {
        Lookup {
            query: Query::Name("alice".into()),
            answers: answers
                .into_iter()
                .enumerate()
                .map(|(i, a)| (format!("http://t{i}"), a))
                .collect(),
        }
    }

    /// Neither a tie of one key nor a conflict of two depends on the trackers' order.
    #[test]
    fn the_answer_does_not_depend_on_the_order_of_the_trackers() {
        let tie = || vec![found("aa", 3, b"x2", "t1"), found("aa", 3, b"x1", "t2")];
        let mut rev = tie();
        rev.reverse();
        assert_eq!(name_lookup(tie()).best().unwrap().bytes, b"x1");
        assert_eq!(name_lookup(rev).best().unwrap().bytes, b"x1");
        let two = || vec![found("bb", 9, b"m", "t2"), found("aa", 1, b"a", "t1")];
        let mut rev = two();
        rev.reverse();
        for l in [name_lookup(two()), name_lookup(rev)] {
            assert!(
                l.best().is_none(),
                "a higher seq of another key does not win"
            );
            let c: Vec<_> = l
                .conflict()
                .unwrap()
                .iter()
                .map(|f| f.card.fingerprint.clone())
                .collect();
            assert_eq!(c, ["aa", "bb"]);
            assert_eq!(
                crate::error::exit_code(&l.into_found().unwrap_err()),
                Exit::Crypto
            );
        }
        // The user's choice of a key leaves its cards only.
        let chosen = name_lookup(two()).only("aa");
        assert_eq!(chosen.best().unwrap().card.fingerprint, "aa");
    }

    #[test]
    fn no_card_says_why_with_its_exit_code() {
        let code = |answers: Vec<Answer>| {
            let l = Lookup {
                query: Query::Name("bob".into()),
                answers: answers
                    .into_iter()
                    .map(|a| ("http://t".into(), a))
                    .collect(),
            };
            crate::error::exit_code(&l.into_found().unwrap_err())
        };
        let down = || Answer::Failed("unreachable".into());
        assert_eq!(code(vec![down(), down()]), Exit::Network);
        assert_eq!(code(vec![down(), Answer::NotFound]), Exit::NotFound);
        // A refused card is the loudest: someone served a card that does not verify.
        assert_eq!(
            code(vec![
                Answer::NotFound,
                Answer::Refused("bad signature".into())
            ]),
            Exit::Crypto
        );
        assert_eq!(code(vec![]), Exit::Network);
    }
}
