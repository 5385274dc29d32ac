//! Contacts: cards you accepted, pinned by fingerprint (trust on first use), one JSON file
//! each under `contacts/`.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{normalize_fingerprint, verify_card};
use crate::crypto::PublicIdentity;
use crate::error::{Exit, WithHint, fail};
use crate::home::{Home, write_atomic};
use crate::wire::Card;

/// A pinned contact.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Contact {
    pub v: u32,
    pub name: String,
    pub fingerprint: String,
    pub kind: String,
    /// The card as received (unknown fields included, so its signature still checks).
    pub card: Value,
    pub added: u64,
    pub updated: u64,
    #[serde(default)]
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<u64>,
    /// When the trackers were last asked for a newer card (Unix seconds); until then the
    /// card is as fresh as `updated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed: Option<u64>,
}

impl Contact {
    /// The card, parsed and checked again (files on disk can be edited).
    pub fn checked(&self) -> Result<(Card, PublicIdentity)> {
        super::card::verify_pinned_card(&self.card)
            .with_context(|| format!("the stored card of {}", self.name))
    }
}

/// What `add` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddStatus {
    Added,
    Updated,
    Unchanged,
    /// A new key for a known name, accepted on purpose.
    KeyChanged,
}

impl AddStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AddStatus::Added => "added",
            AddStatus::Updated => "updated",
            AddStatus::Unchanged => "unchanged",
            AddStatus::KeyChanged => "key_changed",
        }
    }
}

/// The contacts folder.
pub struct Contacts {
    dir: PathBuf,
}

impl Contacts {
    pub fn open(home: &Home) -> Contacts {
        Contacts {
            dir: home.contacts_dir(),
        }
    }

    /// Every contact, sorted by name.
    pub fn list(&self) -> Result<Vec<Contact>> {
        let mut out = Vec::new();
        for path in crate::home::json_files(&self.dir)? {
            let bytes =
                fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let c: Contact = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is damaged", path.display()))?;
            out.push(c);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A contact by name (exact, else the one equal but for case), else by fingerprint (or
    /// a unique prefix of 8+ digits).
    pub fn find(&self, key: &str) -> Result<Option<Contact>> {
        let all = self.list()?;
        if let Some(c) = by_name(&all, key) {
            return Ok(Some(c.clone()));
        }
        let fp = normalize_fingerprint(key);
        if fp.len() < 8 {
            return Ok(None);
        }
        let mut hits = all.into_iter().filter(|c| c.fingerprint.starts_with(&fp));
        match (hits.next(), hits.next()) {
            (Some(c), None) => Ok(Some(c)),
            _ => Ok(None),
        }
    }

    /// Like [`find`](Self::find), but a missing contact is an error (exit 5) with a hint.
    pub fn get(&self, key: &str) -> Result<Contact> {
        self.find(key)?
            .ok_or_else(|| {
                fail(
                    Exit::NotFound,
                    format!("no contact {:?}", crate::output::sanitize(key)),
                )
            })
            .hint("list them with `pigeon contact list`; add one with `pigeon contact add < their.card`")
    }

    pub fn by_fingerprint(&self, fp: &str) -> Result<Option<Contact>> {
        let path = self.path(fp);
        match fs::read(&path) {
            Ok(b) => {
                Ok(Some(serde_json::from_slice(&b).with_context(|| {
                    format!("{} is damaged", path.display())
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn path(&self, fp: &str) -> PathBuf {
        self.dir.join(format!("{fp}.json"))
    }

    pub fn save(&self, c: &Contact) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(c)?;
        bytes.push(b'\n');
        write_atomic(&self.path(&c.fingerprint), &bytes, 0o600)
    }

    /// Pins a card. A known name with a different key is refused (exit 4) unless
    /// `accept_new_key`; an older card for a known key is refused too.
    pub fn add(
        &self,
        card_value: &Value,
        as_name: Option<&str>,
        accept_new_key: bool,
    ) -> Result<(Contact, AddStatus)> {
        let (card, _public) = verify_card(card_value)?;
        let name = as_name.unwrap_or(&card.name).to_string();
        super::validate_name(&name)?;
        let now = super::now();
        let mut status = AddStatus::Added;
        if let Some(old) = self.find_by_name(&name)?
            && old.fingerprint != card.fingerprint
        {
            if !accept_new_key {
                return Err(fail(
                    Exit::Crypto,
                    format!(
                        "KEY CHANGE: {name} is pinned to {} but this card has key {}",
                        old.fingerprint, card.fingerprint
                    ),
                ))
                .hint(format!(
                    "check the new fingerprint with {name} out of band, then run \
                     `pigeon contact add --accept-new-key` with this card"
                ));
            }
            fs::remove_file(self.path(&old.fingerprint))
                .with_context(|| format!("cannot remove the old card of {name}"))?;
            status = AddStatus::KeyChanged;
        }
        let contact = match self.by_fingerprint(&card.fingerprint)? {
            Some(mut old) => {
                let old_seq = old.card.get("seq").and_then(Value::as_u64).unwrap_or(0);
                if card.seq < old_seq {
                    return Err(fail(
                        Exit::Crypto,
                        format!(
                            "this card of {} is older (seq {}) than the pinned one (seq {old_seq})",
                            old.name, card.seq
                        ),
                    ));
                }
                let renamed = as_name.is_some() && old.name != name;
                if card.seq == old_seq && !renamed {
                    return Ok((old, AddStatus::Unchanged));
                }
                if card.seq > old_seq {
                    old.card = card_value.clone();
                }
                old.name = name;
                old.updated = now;
                if status == AddStatus::Added {
                    status = AddStatus::Updated;
                }
                old
            }
            None => Contact {
                v: 1,
                name,
                fingerprint: card.fingerprint.clone(),
                kind: card.kind.clone(),
                card: card_value.clone(),
                added: now,
                updated: now,
                verified: false,
                verified_at: None,
                refreshed: None,
            },
        };
        self.save(&contact)?;
        Ok((contact, status))
    }

    fn find_by_name(&self, name: &str) -> Result<Option<Contact>> {
        Ok(by_name(&self.list()?, name).cloned())
    }

    pub fn remove(&self, key: &str) -> Result<Contact> {
        let c = self.get(key)?;
        fs::remove_file(self.path(&c.fingerprint))
            .with_context(|| format!("cannot remove contact {}", c.name))?;
        Ok(c)
    }

    /// Records an out-of-band fingerprint check; a mismatch is exit 4 and changes nothing.
    pub fn verify(&self, key: &str, told: &str) -> Result<Contact> {
        let mut c = self.get(key)?;
        if normalize_fingerprint(told) != c.fingerprint {
            return Err(fail(
                Exit::Crypto,
                format!(
                    "fingerprint mismatch for {}: pinned {}, you were told {}",
                    c.name,
                    c.fingerprint,
                    normalize_fingerprint(told)
                ),
            ))
            .hint("do not trust this contact until you know why; nothing was recorded");
        }
        c.verified = true;
        c.verified_at = Some(super::now());
        self.save(&c)?;
        Ok(c)
    }
}

/// The contact called `name`: exactly, else equal but for case. Trackers hold names
/// case-folded, so `Alice` from a tracker is the `alice` pinned here, and a card for it
/// with another key is a key change, not a second contact pinned silently.
fn by_name<'a>(all: &'a [Contact], name: &str) -> Option<&'a Contact> {
    all.iter().find(|c| c.name == name).or_else(|| {
        let folded = name.to_lowercase();
        all.iter().find(|c| c.name.to_lowercase() == folded)
    })
}
