//! One exported message, the same for every format: the archive row with names looked up
//! and attachments located. Its JSON is the `jsonl` format (`{"type":"message","v":1,…}`,
//! documented in docs/export.md); change it only by adding fields, or raise `v`.

use std::collections::HashMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::keys::Contacts;
use crate::store::Archived;

/// The version of the exported message schema.
pub const V: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Record {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub v: u32,
    pub id: String,
    /// `sent` or `received`.
    pub direction: &'static str,
    pub from: Party,
    pub to: Vec<Party>,
    pub group: Option<String>,
    /// The sender's clock (claimed by the sender).
    pub ts: u64,
    /// When it entered this archive (our clock): the time it is ordered and filtered by.
    pub received: u64,
    pub kind: String,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub files: Vec<FileRef>,
    /// My name for the group, when I hold it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// A membership change in one sentence (`body` keeps the signed record itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// What became of a sent message: `delivered`, `partly delivered` (some deliveries
    /// failed for good), `queued` (some still wait in the outbox) or `not delivered`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<&'static str>,
    /// A received group message names no recipients: the group's members now, for people.
    #[serde(skip)]
    pub members_now: Vec<Party>,
}

/// A sender or recipient.
#[derive(Debug, Serialize)]
pub struct Party {
    pub fingerprint: String,
    /// The contact's name now (or mine); null for someone who is not a contact.
    pub name: Option<String>,
    /// Whether they are a contact (or me).
    pub known: bool,
    /// The name a stranger's card claimed: theirs to choose, never shown as a name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_name: Option<String>,
}

/// An attachment: as the message named it, and where its bytes are.
#[derive(Debug, Serialize)]
pub struct FileRef {
    pub name: String,
    pub size: u64,
    pub media_type: String,
    /// The copy under `--files-dir`, else where `recv` saved it; null when neither exists.
    pub path: Option<String>,
    /// Whether `path` is safe for a page to link to: not [`super::files::is_active`], or a
    /// copy made inert (`.txt` added).
    #[serde(skip)]
    pub linkable: bool,
}

/// The part of an archived JSON line that the columns do not hold.
#[derive(Debug, Default, Deserialize)]
struct Extra {
    #[serde(default)]
    from: ExtraFrom,
    #[serde(default)]
    files: Vec<ExtraFile>,
    #[serde(default)]
    reply_to: Option<String>,
    /// A sent message's deliveries, as `send` and `send --retry` recorded them.
    #[serde(default)]
    deliveries: Option<Vec<ExtraDelivery>>,
}

#[derive(Debug, Default, Deserialize)]
struct ExtraDelivery {
    #[serde(default)]
    ok: bool,
    #[serde(default)]
    queued: bool,
}

#[derive(Debug, Default, Deserialize)]
struct ExtraFrom {
    #[serde(default)]
    claimed_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ExtraFile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    path: Option<String>,
}

/// Names by fingerprint, and groups by id, looked up once per export.
pub struct Names {
    me: Option<(String, String)>,
    contacts: Contacts,
    cache: HashMap<String, Option<String>>,
    groups: super::groups::GroupNames,
}

impl Names {
    /// `me` is my (fingerprint, name), when there is an identity.
    pub fn new(
        contacts: Contacts,
        me: Option<(String, String)>,
        groups: super::groups::GroupNames,
    ) -> Names {
        Names {
            me,
            contacts,
            cache: HashMap::new(),
            groups,
        }
    }

    fn party(&mut self, fp: &str) -> Result<Party> {
        if let Some((my_fp, my_name)) = &self.me
            && my_fp == fp
        {
            return Ok(Party {
                fingerprint: fp.to_string(),
                name: Some(my_name.clone()),
                known: true,
                claimed_name: None,
            });
        }
        let name = match self.cache.get(fp) {
            Some(n) => n.clone(),
            None => {
                // `to` is whatever the sender wrote: only a fingerprint-shaped string may
                // become a file name to look up, and a contact file that cannot be read
                // costs the name, not the export.
                let hex = !fp.is_empty() && fp.bytes().all(|b| b.is_ascii_hexdigit());
                let n = hex
                    .then(|| self.contacts.by_fingerprint(fp).ok().flatten())
                    .flatten()
                    .map(|c| c.name);
                self.cache.insert(fp.to_string(), n.clone());
                n
            }
        };
        Ok(Party {
            fingerprint: fp.to_string(),
            known: name.is_some(),
            name,
            claimed_name: None,
        })
    }

    /// The export record of an archived message.
    pub fn record(&mut self, m: Archived) -> Result<Record> {
        // A damaged line loses only what the columns do not hold.
        let extra: Extra = serde_json::from_str(&m.json).unwrap_or_default();
        let mut from = self.party(&m.sender)?;
        if !from.known {
            from.claimed_name = extra.from.claimed_name;
        }
        let mut to = Vec::with_capacity(m.recipients.len());
        for fp in &m.recipients {
            to.push(self.party(fp)?);
        }
        let received = m.direction == "in";
        let held = match &m.group {
            Some(g) => self.groups.get(g),
            None => None,
        };
        let group_name = held.as_ref().map(|g| g.name.clone());
        let mut members_now = Vec::new();
        if let Some(g) = &held
            && to.is_empty()
        {
            for fp in g.members.iter().filter(|fp| **fp != m.sender) {
                members_now.push(self.party(fp)?);
            }
        }
        let summary = (m.kind == "membership")
            .then(|| self.membership_sentence(&m.body, group_name.as_deref(), &m.sender))
            .flatten();
        let delivery = (!received).then(|| delivery(extra.deliveries.as_deref()));
        Ok(Record {
            type_: "message",
            v: V,
            id: m.id,
            direction: if received { "received" } else { "sent" },
            from,
            to,
            group: m.group,
            ts: m.ts,
            received: m.received,
            kind: m.kind,
            body: m.body,
            reply_to: extra.reply_to,
            files: extra
                .files
                .into_iter()
                .map(|f| FileRef {
                    linkable: !super::files::is_active(&f.name, &f.media_type),
                    name: f.name,
                    size: f.size,
                    media_type: f.media_type,
                    path: f.path,
                })
                .collect(),
            group_name,
            summary,
            delivery,
            members_now,
        })
    }

    /// The sentence `recv` prints for a membership change; `None` for a body that is not
    /// one (it is shown as it is).
    fn membership_sentence(&self, body: &str, name: Option<&str>, by: &str) -> Option<String> {
        let m: crate::wire::Membership = serde_json::from_str(body).ok()?;
        let me = self.me.as_ref().map_or("", |(fp, _)| fp.as_str());
        let name = name.unwrap_or(&m.name).to_string();
        let view = crate::cmd::group::view::membership(&self.contacts, me, &m, &name, by).ok()?;
        view["body"].as_str().map(str::to_string)
    }
}

/// What became of a sent message, from its recorded deliveries.
fn delivery(deliveries: Option<&[ExtraDelivery]>) -> &'static str {
    let Some(ds) = deliveries else {
        // Archived before deliveries were recorded: sent, as far as anyone knows.
        return "delivered";
    };
    let ok = ds.iter().filter(|d| d.ok).count();
    if ok == ds.len() && ok > 0 {
        "delivered"
    } else if ds.iter().any(|d| !d.ok && d.queued) {
        "queued"
    } else if ok > 0 {
        "partly delivered"
    } else {
        "not delivered"
    }
}

impl Party {
    /// How a person reads this party: the contact's name, else the claimed name marked as
    /// such, else the start of the fingerprint. (Not escaped: each format does that.)
    pub fn label(&self) -> String {
        let short = &self.fingerprint[..self.fingerprint.len().min(16)];
        match (&self.name, &self.claimed_name) {
            (Some(n), _) => n.clone(),
            (None, Some(c)) => format!("{c}? (stranger {short})"),
            (None, None) => format!("stranger {short}"),
        }
    }
}

impl Record {
    /// The recipients, for a header line: for a received group message (which names
    /// none), the group's members now, said as such.
    pub fn to_label(&self) -> String {
        if self.to.is_empty() && !self.members_now.is_empty() {
            let names: Vec<String> = self.members_now.iter().map(Party::label).collect();
            return format!("{} (the group's members now)", names.join(", "));
        }
        let names: Vec<String> = self.to.iter().map(Party::label).collect();
        names.join(", ")
    }

    /// The group as people read it: my name for it, else its id.
    pub fn group_label(&self) -> Option<&str> {
        self.group_name.as_deref().or(self.group.as_deref())
    }

    /// What to show as the message: a membership change's sentence, else the body.
    pub fn shown_body(&self) -> &str {
        self.summary.as_deref().unwrap_or(&self.body)
    }

    /// A mark for a sent message that did not reach everyone (nothing when it did).
    pub fn delivery_mark(&self) -> Option<&'static str> {
        self.delivery.filter(|d| *d != "delivered")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::Home;

    #[test]
    fn a_recipient_list_cannot_name_files_to_read() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::at(d.path());
        std::fs::create_dir_all(d.path().join("contacts")).unwrap();
        std::fs::write(d.path().join("secret.json"), b"not a contact").unwrap();
        std::fs::write(d.path().join("contacts/abcd.json"), b"damaged").unwrap();
        let mut names = Names::new(
            Contacts::open(&home),
            Some(("ff".into(), "me".into())),
            super::super::groups::GroupNames::new(crate::group::Groups::open(&home)),
        );
        let m = Archived {
            id: "i".into(),
            direction: "in".into(),
            sender: "abcd".into(),
            recipients: vec!["../secret".into(), "ff".into()],
            group: None,
            ts: 1,
            received: 2,
            kind: "text".into(),
            body: "b".into(),
            json: "not json".into(),
        };
        let r = names.record(m).unwrap();
        assert_eq!(
            r.from.name, None,
            "a damaged contact file costs the name only"
        );
        assert_eq!(r.to[0].name, None);
        assert_eq!(r.to[1].name.as_deref(), Some("me"));
        assert_eq!(r.direction, "received");
    }
}
