//! Groups (DESIGN §3): a random id, members with their cards, admins and banned keys, and a
//! version that grows by one with every membership change. There is no server side: every
//! member holds the state and applies signed `membership` messages to it, by the rules
//! here. This module is pure (no I/O); [`store`] keeps the state on disk.

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::crypto::StanzaOrder;
use crate::error::{Exit, fail};
use crate::wire::{self, GroupMember, Membership};

pub mod store;

pub use store::Groups;

/// A membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Left,
    Banned,
    Admin,
    Revoked,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Left => "left",
            Change::Banned => "banned",
            Change::Admin => "admin",
            Change::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Change> {
        Some(match s {
            "added" => Change::Added,
            "removed" => Change::Removed,
            "left" => Change::Left,
            "banned" => Change::Banned,
            "admin" => Change::Admin,
            "revoked" => Change::Revoked,
            _ => return None,
        })
    }
}

/// Where I stand in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Member,
    Removed,
    Banned,
    Left,
}

/// A group as one member holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub v: u32,
    pub id: String,
    /// My name for it (local: two groups may share one).
    pub name: String,
    pub version: u64,
    pub members: Vec<GroupMember>,
    pub admins: Vec<String>,
    #[serde(default)]
    pub banned: Vec<String>,
    pub status: Status,
    /// `sender:id` of the membership message that made this version, so the same
    /// message coming again (from a second relay, or after a crash) is no conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

/// What an incoming membership message does to the group I hold.
#[derive(Debug)]
pub enum Applied {
    /// The next state (save it).
    Next(Box<Group>),
    /// This very message made the version I hold: nothing to do.
    Again,
}

/// A fresh group id: 128 random bits, 32 hex digits (the shape of a message id).
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl Group {
    /// A new group of which `me` is the first member and admin; `members` are the others.
    pub fn create(name: &str, me: GroupMember, members: Vec<GroupMember>) -> Result<Group> {
        let admin = me.fingerprint.clone();
        let g = Group {
            v: wire::V,
            id: new_id(),
            name: name.into(),
            version: 0,
            members: vec![me],
            admins: vec![admin.clone()],
            banned: Vec::new(),
            status: Status::Member,
            last: None,
        };
        let subjects: Vec<String> = members.iter().map(|m| m.fingerprint.clone()).collect();
        g.next(Change::Added, &subjects, &admin, &members)
    }

    pub fn is_member(&self, fp: &str) -> bool {
        self.members.iter().any(|m| m.fingerprint == fp)
    }

    pub fn is_admin(&self, fp: &str) -> bool {
        self.admins.iter().any(|a| a == fp)
    }

    pub fn is_banned(&self, fp: &str) -> bool {
        self.banned.iter().any(|b| b == fp)
    }

    /// `admin`, `member`, or how I stopped being one.
    pub fn role(&self, me: &str) -> &'static str {
        match self.status {
            Status::Member if self.is_admin(me) => "admin",
            Status::Member => "member",
            Status::Removed => "removed",
            Status::Banned => "banned",
            Status::Left => "left",
        }
    }

    /// The state after `by` makes `change` about `subjects`; `joiners` carries the cards of
    /// members being added. Every rule a client enforces is here, so the state I propose
    /// and the state I accept from others follow the same rules.
    pub fn next(
        &self,
        change: Change,
        subjects: &[String],
        by: &str,
        joiners: &[GroupMember],
    ) -> Result<Group> {
        let refuse = |msg: String| Err(fail(Exit::Crypto, msg));
        if subjects.is_empty() {
            return refuse(format!("a change {:?} names nobody", change.as_str()));
        }
        let unique: BTreeSet<&String> = subjects.iter().collect();
        if unique.len() != subjects.len() {
            return refuse("a change names a member twice".into());
        }
        if change == Change::Left {
            if subjects != [by.to_string()] || !self.is_member(by) {
                return refuse("only a member can leave, and only themself".into());
            }
        } else if !self.is_admin(by) || !self.is_member(by) {
            return refuse(format!(
                "{by} is not an admin of the group (only admins change its members)"
            ));
        }
        let mut g = self.clone();
        g.version += 1;
        g.last = None;
        for s in subjects {
            let s = s.as_str();
            match change {
                Change::Added => {
                    if g.is_banned(s) {
                        return refuse(format!(
                            "{s} is banned from the group: nobody can add them"
                        ));
                    }
                    if g.is_member(s) {
                        return refuse(format!("{s} is already a member"));
                    }
                    let Some(card) = joiners.iter().find(|j| j.fingerprint == s) else {
                        bail!("no card for the new member {s}");
                    };
                    g.members.push(card.clone());
                }
                Change::Removed | Change::Left => {
                    if !g.is_member(s) {
                        return refuse(format!("{s} is not a member"));
                    }
                    if change == Change::Removed && s == by {
                        return refuse("an admin does not remove themself: use leave".into());
                    }
                    g.drop_member(s);
                }
                Change::Banned => {
                    if g.is_banned(s) {
                        return refuse(format!("{s} is already banned"));
                    }
                    if s == by {
                        return refuse("an admin does not ban themself: use leave".into());
                    }
                    g.drop_member(s);
                    g.banned.push(s.to_string());
                }
                Change::Admin => {
                    if !g.is_member(s) {
                        return refuse(format!("{s} is not a member"));
                    }
                    if g.is_admin(s) {
                        return refuse(format!("{s} is already an admin"));
                    }
                    g.admins.push(s.to_string());
                }
                Change::Revoked => {
                    if !g.is_admin(s) {
                        return refuse(format!("{s} is not an admin"));
                    }
                    g.admins.retain(|a| a != s);
                }
            }
        }
        Ok(g)
    }

    fn drop_member(&mut self, fp: &str) {
        self.members.retain(|m| m.fingerprint != fp);
        self.admins.retain(|a| a != fp);
    }

    /// The membership body that announces this state, made by `change` about `subjects`.
    pub fn announce(&self, change: Change, subjects: &[String]) -> Membership {
        Membership {
            type_: "membership".into(),
            v: wire::V,
            group: self.id.clone(),
            name: self.name.clone(),
            version: self.version,
            change: change.as_str().into(),
            subjects: subjects.to_vec(),
            members: self.members.clone(),
            admins: self.admins.clone(),
            banned: self.banned.clone(),
        }
    }

    /// Whether the announced lists are exactly mine.
    fn same_lists(&self, m: &Membership) -> bool {
        let set = |v: &mut dyn Iterator<Item = &String>| v.cloned().collect::<BTreeSet<_>>();
        set(&mut self.members.iter().map(|m| &m.fingerprint))
            == set(&mut m.members.iter().map(|m| &m.fingerprint))
            && m.members.len() == self.members.len()
            && set(&mut self.admins.iter()) == set(&mut m.admins.iter())
            && set(&mut self.banned.iter()) == set(&mut m.banned.iter())
    }
}

/// Why a group message (not a membership change) from `from` to group `gid` is refused, given
/// the state I hold of that group; `None` when it is accepted: I am a current member and so
/// is its sender. This is what makes a version-2 group message, whose `to` is empty, mine.
pub fn refuse_message(held: Option<&Group>, gid: &str, from: &str) -> Option<String> {
    // The id comes from the message: never echoed unless it is one.
    if !wire::is_message_id(gid) {
        return Some("the group id is malformed".into());
    }
    match held {
        None => Some(format!("a message to group {gid}, which I am not in")),
        Some(g) if g.status != Status::Member => Some(format!(
            "a message to group {}, which I am no longer in",
            crate::output::one_line(&g.name)
        )),
        Some(g) if !g.is_member(from) => Some(format!(
            "a message to group {} from {from}, who is not a member",
            crate::output::one_line(&g.name)
        )),
        Some(_) => None,
    }
}

/// Checks a membership message `m` signed by `from` (message `msg_id`) against the state I
/// hold (`None`: a group I have never been in) and returns what it does. `check_card`
/// verifies a joiner's card and returns its fingerprint. Every refusal is exit 4.
pub fn apply(
    held: Option<&Group>,
    me: &str,
    from: &str,
    msg_id: &str,
    m: &Membership,
    check_card: &dyn Fn(&serde_json::Value) -> Result<String>,
) -> Result<Applied> {
    let refuse = |msg: String| Err(fail(Exit::Crypto, msg));
    let Some(change) = Change::parse(&m.change) else {
        return refuse(format!(
            "unknown membership change {:?}",
            crate::output::one_line(&m.change)
        ));
    };
    let tag = format!("{from}:{msg_id}");
    for member in &m.members {
        if !is_fingerprint(&member.fingerprint) {
            return refuse("a member's fingerprint is malformed".into());
        }
    }
    let invited = change == Change::Added && m.subjects.iter().any(|s| s == me);
    let start_over = match held {
        None => true,
        // Added again after I was removed (or left): what happened since I cannot check.
        Some(g) => g.status != Status::Member && invited && m.version > g.version,
    };
    if start_over {
        if !invited {
            return refuse(match held {
                None => "a membership change of a group I am not in".into(),
                Some(_) => "a membership change of a group I am no longer in".into(),
            });
        }
        if !m.admins.iter().any(|a| a == from) || !m.members.iter().any(|x| x.fingerprint == from) {
            return refuse("the invitation is not from an admin of the group it lists".into());
        }
        for member in &m.members {
            if check_card(&member.card)? != member.fingerprint {
                return refuse("a member's card is not theirs".into());
            }
        }
        let g = Group {
            v: wire::V,
            id: m.group.clone(),
            name: held.map_or_else(|| m.name.clone(), |g| g.name.clone()),
            version: m.version,
            members: m.members.clone(),
            admins: m.admins.clone(),
            banned: m.banned.clone(),
            status: Status::Member,
            last: Some(tag),
        };
        if !g.same_lists(m) || m.admins.iter().any(|a| !g.is_member(a)) {
            return refuse(
                "the invitation lists a member twice or an admin who is no member".into(),
            );
        }
        return Ok(Applied::Next(Box::new(g)));
    }
    let g = held.expect("held unless starting over");
    if g.last.as_deref() == Some(tag.as_str()) {
        return Ok(Applied::Again);
    }
    if g.status != Status::Member {
        return refuse(format!("I am no longer a member of group {}", g.id));
    }
    if m.version <= g.version {
        return refuse(format!(
            "stale membership version {} (I hold version {})",
            m.version, g.version
        ));
    }
    if m.version != g.version + 1 {
        return refuse(format!(
            "membership version {} skips ahead of version {} (a change was missed)",
            m.version,
            g.version + 1
        ));
    }
    let mut joiners = Vec::new();
    if change == Change::Added {
        for s in &m.subjects {
            let Some(j) = m.members.iter().find(|x| &x.fingerprint == s) else {
                return refuse(format!("the new member {s} comes without a card"));
            };
            if check_card(&j.card)? != *s {
                return refuse(format!("the card of the new member {s} is not theirs"));
            }
            joiners.push(j.clone());
        }
    }
    let mut next = g.next(change, &m.subjects, from, &joiners)?;
    if !next.same_lists(m) {
        return refuse("the announced members do not follow from the change".into());
    }
    next.last = Some(tag);
    if !next.is_member(me) {
        next.status = match change {
            Change::Banned => Status::Banned,
            Change::Left => Status::Left,
            _ => Status::Removed,
        };
    }
    Ok(Applied::Next(Box::new(next)))
}

/// Where my stanza probably is in an age file that a member of my groups sealed to the
/// group: senders put the age recipients in fingerprint order (see `send --group`), every
/// age member the sender included, so in a group of A age members mine is at my rank r
/// among them. An age sender of an older pigeon left itself out (A - 1 stanzas): mine is
/// then at r or r - 1.
pub fn stanza_order<'a>(groups: impl IntoIterator<Item = &'a Group>, me: &str) -> StanzaOrder {
    let mut order = StanzaOrder::new();
    for g in groups {
        if g.status != Status::Member {
            continue;
        }
        let mut age: Vec<&str> = g
            .members
            .iter()
            .filter(|m| m.card["kind"] == "age")
            .map(|m| m.fingerprint.as_str())
            .collect();
        age.sort_unstable();
        let Ok(r) = age.binary_search(&me) else {
            continue;
        };
        let mut add = |n: usize, i: usize| {
            let at = order.entry(n).or_default();
            if i < n && !at.contains(&i) {
                at.push(i);
            }
        };
        add(age.len(), r);
        // An age sender leaves itself out: mine is at r when it ranks above me, at r - 1
        // when below. The likelier one first: the side more of the others are on.
        let above = age.len() - 1 - r;
        let (likely, other) = if above >= r {
            (Some(r), r.checked_sub(1))
        } else {
            (r.checked_sub(1), Some(r))
        };
        for i in [likely, other].into_iter().flatten() {
            add(age.len() - 1, i);
        }
    }
    order
}

/// A fingerprint as cards carry them: hex digits (40 for both kinds today).
fn is_fingerprint(s: &str) -> bool {
    (16..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests;
