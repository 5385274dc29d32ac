//! `send --group`: a group's current members as recipients (sealed once per key kind, like
//! any message to many), and the announcements `pigeon group` sends when members change.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use super::{Ctx, Plan, Recipient, Sender};
use crate::card::{CardDigest, verify_pinned_card_once};
use crate::error::{Exit, WithHint, fail};
use crate::group::{Group, Groups, Status};
use crate::home::Home;
use crate::keys::contacts::Contacts;
use crate::wire::{GroupMember, Membership};

/// Groups resolved in this run: a `send --json` of many lines to one group reads its
/// file and checks its members' cards once.
pub(super) struct Cache {
    groups: Groups,
    by_key: HashMap<String, (String, Arc<Vec<Recipient>>)>,
}

impl Cache {
    pub(super) fn open(home: &Home) -> Cache {
        Cache {
            groups: Groups::open(home),
            by_key: HashMap::new(),
        }
    }
}

impl Sender {
    /// A message to every current member of the group `key` (name or id) but me.
    pub(super) fn plan_group(
        &mut self,
        key: &str,
        body: String,
        files: &[PathBuf],
        reply_to: Option<String>,
        ttl: Option<u64>,
    ) -> Result<Plan> {
        let (id, recipients) = match self.groups.by_key.get(key) {
            Some(hit) => hit.clone(),
            None => {
                let g = self.groups.groups.find(key)?;
                if g.status != Status::Member {
                    return Err(fail(
                        Exit::NotFound,
                        format!("you are no longer a member of group {} ({})", g.name, g.id),
                    ));
                }
                let me = self.id.meta.fingerprint.clone();
                let members: Vec<&GroupMember> =
                    g.members.iter().filter(|m| m.fingerprint != me).collect();
                let r = Arc::new(self.recipients_of(&members)?);
                self.groups
                    .by_key
                    .insert(key.to_string(), (g.id.clone(), r.clone()));
                (g.id, r)
            }
        };
        if recipients.is_empty() {
            return Err(fail(Exit::NotFound, "the group has no other member"))
                .hint("add one with `pigeon group add GROUP CONTACT`");
        }
        self.build(recipients, Some(id), body, files, reply_to, ttl)
    }

    /// Members as recipients: under the card I pinned when they are my contact (it may be
    /// newer, with other relays), else under the card the group carries.
    /// In fingerprint order: each member can then guess where their age stanza is
    /// (`group::stanza_order`).
    fn recipients_of(&mut self, members: &[&GroupMember]) -> Result<Vec<Recipient>> {
        let mut members = members.to_vec();
        members.sort_unstable_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        // Each card check is a certificate parse (and for a card not seen before a
        // signature verification): a hundred of them run on several cores.
        let (contacts, checked) = (&self.contacts, &self.store.checked_cards()?);
        let out = crate::par::map(&members, 16, |m| recipient_of(contacts, checked, m))
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        let verified: Vec<_> = out.iter().filter_map(|(_, d)| *d).collect();
        self.store.remember_checked_cards(&verified)?;
        Ok(out.into_iter().map(|(r, _)| r).collect())
    }
}

/// One member as a recipient, their card checked (its signature only if `checked` does not
/// hold it already), with the digest to remember when it was verified now.
fn recipient_of(
    contacts: &Contacts,
    checked: &HashSet<CardDigest>,
    m: &GroupMember,
) -> Result<(Recipient, Option<CardDigest>)> {
    let contact = contacts.by_fingerprint(&m.fingerprint)?;
    let card = contact.as_ref().map_or(&m.card, |c| &c.card);
    let (card, public, digest) = verify_pinned_card_once(card, checked)
        .with_context(|| format!("the card of group member {}", m.fingerprint))?;
    if card.fingerprint != m.fingerprint {
        return Err(fail(
            Exit::Crypto,
            format!("the card of group member {} is not theirs", m.fingerprint),
        ));
    }
    let name = contact.map_or_else(|| card.name.clone(), |c| c.name);
    Ok((Recipient::from_card(name, public, card), digest))
}

/// What `pigeon group` needs to announce a change: my keys and a sender.
pub(crate) struct Announcer(Sender);

impl Announcer {
    pub(crate) fn open(
        ctx: &Ctx,
        passphrase_file: Option<&Path>,
        ttl: Option<&str>,
    ) -> Result<Self> {
        Ok(Announcer(Sender::open(
            ctx,
            passphrase_file,
            ttl,
            &Default::default(),
        )?))
    }

    /// My fingerprint and card, as a group member.
    pub(crate) fn me(&self) -> Result<GroupMember> {
        Ok(GroupMember {
            fingerprint: self.0.id.meta.fingerprint.clone(),
            card: serde_json::from_slice(&self.0.card_json)?,
        })
    }

    /// Sends `m` (the new state `g`, after a change) to `to` (members old and new) but me,
    /// as a signed `membership` message; prints its `sent` line.
    pub(crate) fn send(mut self, g: &Group, to: &[GroupMember], m: &Membership) -> Result<Exit> {
        let me = self.0.id.meta.fingerprint.clone();
        let mut seen = std::collections::HashSet::new();
        let members: Vec<&GroupMember> = to
            .iter()
            .filter(|x| x.fingerprint != me && seen.insert(x.fingerprint.clone()))
            .collect();
        if members.is_empty() {
            return Ok(Exit::Ok);
        }
        let recipients = self.0.recipients_of(&members)?;
        let ttl = self.0.default_ttl;
        let body = serde_json::to_string(m)?;
        // A membership change lists its recipients (a newcomer holds no group yet), so it
        // is built as a message to them, then marked with the group.
        let mut plan = self
            .0
            .build(Arc::new(recipients), None, body, &[], None, ttl)?;
        plan.inner.group = Some(g.id.clone());
        plan.inner.kind = "membership".into();
        let mut batch = vec![self.0.prepare(plan)?];
        self.0.flush(&mut batch)?;
        Ok(self.0.exit())
    }
}
