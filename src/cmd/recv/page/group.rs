//! Group rules in `recv`: a `membership` message is applied to the group I hold only when
//! `crate::group::apply` says it follows (from an admin, the next version, lists that follow
//! from the change); a group message must come from a current member of a group I am in.
//! Whatever fails is a rejected message, never shown as good.

use anyhow::Result;
use serde_json::{Value, json};

use super::{Accepted, Verdict};
use crate::card::verify_pinned_card_once;
use crate::cmd::recv::Receiver;
use crate::error::{Exit, fail};
use crate::group::{self, Applied, Change};
use crate::message::Verified;
use crate::output::one_line;
use crate::wire::{Membership, StoredEnvelope, is_message_id};

impl Receiver {
    /// Applies the group rules to a message that passed its own checks. Errors are local
    /// (the group files); a message that breaks a rule comes back `Refused`.
    pub(super) fn group_rules(&mut self, verdict: Verdict) -> Result<Verdict> {
        let Verdict::New(a) = verdict else {
            return Ok(verdict);
        };
        let refuse = |msg: String| Ok(Verdict::Refused(fail(Exit::Crypto, msg)));
        let inner = &a.v.inner;
        let Some(gid) = inner.group.clone() else {
            if inner.kind == "membership" {
                return refuse("a membership message names no group".into());
            }
            return Ok(Verdict::New(a));
        };
        if !is_message_id(&gid) {
            return refuse("the group id is malformed".into());
        }
        let held = self.groups.get_shared(&gid)?;
        if inner.kind != "membership" {
            return match group::refuse_message(held.as_deref(), &gid, &inner.from) {
                Some(why) => refuse(why),
                None => Ok(Verdict::New(a)),
            };
        }
        let m: Membership = match serde_json::from_str(&inner.body) {
            Ok(m) => m,
            Err(e) => return refuse(format!("the membership message is malformed: {e}")),
        };
        if m.group != gid {
            return refuse("the membership names another group than its message".into());
        }
        let me = self.id.meta.fingerprint.clone();
        // Joiners' cards verified here are remembered, so sending to them later does not
        // verify them again (`card::verify_pinned_card_once`).
        let known = self.store.checked_cards()?;
        let verified = std::cell::RefCell::new(Vec::new());
        let check = |card: &Value| -> Result<String> {
            let (card, _, digest) = verify_pinned_card_once(card, &known)?;
            verified.borrow_mut().extend(digest);
            Ok(card.fingerprint)
        };
        let applied = group::apply(held.as_deref(), &me, &inner.from, &inner.id, &m, &check);
        match applied {
            Ok(Applied::Again) => Ok(Verdict::New(a)),
            Ok(Applied::Next(g)) => {
                let verified = verified.into_inner();
                self.store.remember_checked_cards(&verified)?;
                self.groups.save(&g)?;
                self.warn_unknown_joiners(&a, &m, held.is_none(), &g.name)?;
                Ok(Verdict::New(a))
            }
            Err(e) => Ok(Verdict::Refused(e)),
        }
    }

    /// Everyone sees when someone they never pinned joins, so they can stop talking:
    /// said on stderr even under `--quiet` (the record says `"known":false` too).
    fn warn_unknown_joiners(
        &self,
        a: &Accepted,
        m: &Membership,
        new: bool,
        name: &str,
    ) -> Result<()> {
        if Change::parse(&m.change) != Some(Change::Added) {
            return Ok(());
        }
        let me = &self.id.meta.fingerprint;
        let who: Vec<&String> = if new {
            m.members.iter().map(|x| &x.fingerprint).collect()
        } else {
            m.subjects.iter().collect()
        };
        let mut unknown = Vec::new();
        for fp in who {
            if fp == me || *fp == a.v.inner.from || self.contacts.by_fingerprint(fp)?.is_some() {
                continue;
            }
            let claimed = m
                .members
                .iter()
                .find(|x| &x.fingerprint == fp)
                .and_then(|x| x.card["name"].as_str())
                .unwrap_or("?");
            unknown.push(format!("{:?} ({fp})", one_line(claimed)));
        }
        let Some(first) = unknown.first() else {
            return Ok(());
        };
        // A newcomer to a large group would get a line per member: one line says it all.
        let msg = match (new, unknown.len()) {
            (false, _) => unknown
                .iter()
                .map(|u| format!("the newcomer {u} has a key you have never pinned"))
                .collect::<Vec<_>>()
                .join("; "),
            (true, 1) => format!("the member {first} has a key you have never pinned"),
            (true, n) => format!(
                "{n} members have keys you have never pinned (`pigeon group show` lists \
                 them): {}{}",
                unknown[..n.min(3)].join(", "),
                if n > 3 { ", …" } else { "" }
            ),
        };
        self.warn(&format!("WARNING: group {}: {msg}", one_line(name)), false);
        Ok(())
    }

    /// Where my age stanza probably is in a group message (nothing known on an error: a
    /// guess only saves time).
    pub(super) fn stanza_order(&self) -> std::sync::Arc<crate::crypto::StanzaOrder> {
        self.groups
            .stanza_order(&self.id.meta.fingerprint)
            .unwrap_or_default()
    }

    /// How many of `envs` to open at once, up to `chunk`. An age file sealed to many
    /// recipients whose count no group of mine explains (an invitation to a group I am not
    /// in yet, or a message of it) is opened alone: when it makes me join, the messages
    /// after it are opened with the stanza guess of the new group instead of trying every
    /// stanza (about 37 X25519 agreements each in a group of 100).
    pub(super) fn chunk_len(&self, envs: &[StoredEnvelope], chunk: usize) -> usize {
        let most = envs.len().min(chunk);
        if self.id.secret.kind() != crate::crypto::Kind::Age {
            return most;
        }
        let order = self.stanza_order();
        let unknown = |e: &StoredEnvelope| {
            x25519_stanzas(&e.payload).is_some_and(|n| n >= MANY && !order.contains_key(&n))
        };
        match envs[..most].iter().position(unknown) {
            Some(0) => 1,
            Some(i) => i,
            None => most,
        }
    }

    /// The JSON shown for a group message: `group` (the id) and `group_name` (mine), and
    /// for a membership change the `{"type":"membership",…}` record instead of a message.
    pub(super) fn group_view(&self, v: &Verified, msg: Value) -> Result<Value> {
        let Some(gid) = &v.inner.group else {
            return Ok(msg);
        };
        let name = self
            .groups
            .get_shared(gid)?
            .map(|g| g.name.clone())
            .unwrap_or_default();
        if v.inner.kind != "membership" {
            let mut msg = msg;
            msg["group_name"] = json!(name);
            return Ok(msg);
        }
        let m: Membership = serde_json::from_str(&v.inner.body)?;
        let me = &self.id.meta.fingerprint;
        let mut view =
            crate::cmd::group::view::membership(&self.contacts, me, &m, &name, &v.inner.from)?;
        for k in ["id", "from", "to", "ts", "received", "kind", "card"] {
            if let Some(x) = msg.get(k) {
                view[k] = x.clone();
            }
        }
        Ok(view)
    }
}

/// Recipients from which a wrong stanza guess costs enough to open a message alone.
const MANY: usize = 8;

/// The X25519 stanzas in the header of a binary age file given in base64 (`None` when it
/// is not one). Only the header is decoded, a few KB at a time, and each line is looked at
/// once: this runs on the main thread for every envelope, before they are opened.
fn x25519_stanzas(payload: &str) -> Option<usize> {
    use base64::Engine;
    const STEP: usize = 4096;
    const MAGIC: &[u8] = b"age-encryption.org/v1\n";
    let b64 = payload.as_bytes();
    let mut header = Vec::new();
    let (mut at, mut line, mut n) = (0, 0, 0);
    loop {
        if at >= b64.len() || header.len() > 1 << 20 {
            return Some(n);
        }
        let next = (at + STEP).min(b64.len());
        base64::engine::general_purpose::STANDARD
            .decode_vec(&b64[at..next], &mut header)
            .ok()?;
        if at == 0 && !header.starts_with(MAGIC) {
            return None;
        }
        at = next;
        while let Some(end) = memchr::memchr(b'\n', &header[line..]) {
            let l = &header[line..line + end];
            if l.starts_with(b"---") {
                return Some(n);
            }
            n += usize::from(l.starts_with(b"-> X25519 "));
            line += end + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    #[test]
    fn stanzas_are_counted_from_the_header_alone() {
        let mut file = b"age-encryption.org/v1\n".to_vec();
        for _ in 0..120 {
            file.extend_from_slice(b"-> X25519 c29tZSBlcGhlbWVyYWwga2V5IGJ5dGVz\nYm9keSBieXRlcyBvZiB0aGUgc3RhbnphIGhlcmUgb2sK\n");
        }
        file.extend_from_slice(b"-> x-grease a b\n\n--- bWFj\n-> X25519 not in the header");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&file);
        assert!(b64.len() > 8192, "the header spans several steps");
        assert_eq!(super::x25519_stanzas(&b64), Some(120));
        let pgp = base64::engine::general_purpose::STANDARD.encode(b"\x85\x01 not age");
        assert_eq!(super::x25519_stanzas(&pgp), None);
        assert_eq!(super::x25519_stanzas("not base64!"), None);
    }
}
