//! Sealing planned messages, several at once: a `send --json` of group messages spends
//! nearly all its time in key agreements (one per member and message), and one message's
//! seal only keeps both cores busy while its age and OpenPGP halves last.

use anyhow::Result;

use super::Plan;
use crate::crypto::{Kind, PublicIdentity, Sealed};
use crate::keys::Identity;
use crate::message;

/// One message sealed to its recipients (one ciphertext per key kind).
pub(super) fn seal_one(id: &Identity, card_json: &[u8], plan: &Plan) -> Result<Vec<Sealed>> {
    seal_with(id, &self_stanza(id), card_json, plan)
}

/// Every plan sealed, in order, several at once.
pub(super) fn seal_all(
    id: &Identity,
    card_json: &[u8],
    plans: &[Plan],
) -> Vec<Result<Vec<Sealed>>> {
    let me = self_stanza(id);
    crate::par::map(plans, 1, |p| seal_with(id, &me, card_json, p))
}

/// My own age key, when I am an age identity: a group message is sealed to me too.
fn self_stanza(id: &Identity) -> Option<PublicIdentity> {
    (id.secret.kind() == Kind::Age).then(|| id.secret.public())
}

/// A group message from an age sender is sealed to the sender as well, in its fingerprint
/// rank among the members, so that every age member finds their stanza at exactly their
/// rank among all the group's age members (`group::stanza_order`): without it a member
/// cannot tell whether the sender ranks above them, and half of them try a wrong stanza
/// (one wasted X25519 agreement) on every message. The sender is no delivery: the index
/// is taken out of what the seal returns.
fn seal_with(
    id: &Identity,
    me: &Option<PublicIdentity>,
    card_json: &[u8],
    plan: &Plan,
) -> Result<Vec<Sealed>> {
    let mut publics: Vec<&PublicIdentity> = plan.recipients.iter().map(|r| &r.public).collect();
    let age_members = plan.recipients.iter().any(|r| r.public.kind() == Kind::Age);
    let mine = match (me, &plan.inner.group) {
        (Some(me), Some(_)) if age_members => {
            let fp = &id.meta.fingerprint;
            let at = plan
                .recipients
                .iter()
                .position(|r| r.fingerprint > *fp)
                .unwrap_or(publics.len());
            publics.insert(at, me);
            Some(at)
        }
        _ => None,
    };
    let mut sealed = message::seal(id, card_json, &publics, &plan.inner, false)?;
    if let Some(at) = mine {
        for s in &mut sealed {
            s.recipients.retain(|&i| i != at);
            for i in &mut s.recipients {
                if *i > at {
                    *i -= 1;
                }
            }
        }
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::Arc;

    use super::*;
    use crate::cmd::send::Recipient;
    use crate::crypto::SecretIdentity;
    use crate::keys::IdentityMeta;
    use crate::wire::{GROUP_V, Inner};

    /// Tries only the stanza at `.1`: a member whose stanza is elsewhere opens nothing.
    struct Only<'a>(&'a age::x25519::Identity, usize);

    impl age::Identity for Only<'_> {
        fn unwrap_stanza(
            &self,
            _: &age_core::format::Stanza,
        ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
            None
        }
        fn unwrap_stanzas(
            &self,
            s: &[age_core::format::Stanza],
        ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
            self.0.unwrap_stanza(s.get(self.1)?)
        }
    }

    fn identity(secret: SecretIdentity) -> Identity {
        let meta = IdentityMeta {
            v: 1,
            kind: secret.kind().as_str().into(),
            name: "me".into(),
            fingerprint: secret.fingerprint(),
            mailbox: "mb".into(),
            relays: vec![],
            draining: Default::default(),
            seq: 1,
            issued: 0,
            created: 0,
            protected: false,
        };
        Identity { meta, secret }
    }

    fn recipient(s: &SecretIdentity) -> Recipient {
        Recipient {
            name: "m".into(),
            public: s.public(),
            fingerprint: s.fingerprint(),
            mailbox: "mb".into(),
            relays: vec![],
        }
    }

    #[test]
    fn every_age_member_finds_their_stanza_at_their_rank() {
        let mut members: Vec<SecretIdentity> = (0..6)
            .map(|i| SecretIdentity::generate(Kind::Age, &format!("m{i}")).unwrap())
            .collect();
        members.push(SecretIdentity::generate(Kind::Pgp, "p").unwrap());
        members.sort_by_key(|m| m.fingerprint());
        let age_rank = |fp: &str| {
            let mut age: Vec<String> = members
                .iter()
                .filter(|m| m.kind() == Kind::Age)
                .map(|m| m.fingerprint())
                .collect();
            age.sort();
            age.iter().position(|f| f == fp).unwrap()
        };
        // Senders at every rank, the first and the last included.
        for sender in members.iter().filter(|m| m.kind() == Kind::Age) {
            let files = sender.to_secret_files();
            let get = |n: &str| files.iter().find(|(f, _)| *f == n).map(|(_, b)| b.clone());
            let me = identity(SecretIdentity::from_secret_files(Kind::Age, &get).unwrap());
            let others: Vec<&SecretIdentity> = members
                .iter()
                .filter(|m| m.fingerprint() != me.meta.fingerprint)
                .collect();
            let plan = Plan {
                recipients: Arc::new(others.iter().map(|m| recipient(m)).collect()),
                inner: Inner {
                    v: GROUP_V,
                    id: crate::message::new_id(),
                    from: me.meta.fingerprint.clone(),
                    to: vec![],
                    group: Some(crate::message::new_id()),
                    ts: 0,
                    kind: "text".into(),
                    body: "hi".into(),
                    files: vec![],
                    reply_to: None,
                },
                ttl: None,
            };
            let sealed = seal_one(&me, b"{}", &plan).unwrap();
            let age = sealed.iter().find(|s| s.kind == Kind::Age).unwrap();
            let want: Vec<usize> = (0..others.len())
                .filter(|&i| others[i].kind() == Kind::Age)
                .collect();
            assert_eq!(age.recipients, want, "deliveries leave the sender out");
            for m in members.iter().filter(|m| m.kind() == Kind::Age) {
                let only = Only(m.age_identity().unwrap(), age_rank(&m.fingerprint()));
                let d = age::Decryptor::new(&age.ciphertext[..]).unwrap();
                let mut out = Vec::new();
                d.decrypt(std::iter::once(&only as &dyn age::Identity))
                    .expect("the stanza at the member's rank is theirs")
                    .read_to_end(&mut out)
                    .unwrap();
            }
            let pgp = sealed.iter().find(|s| s.kind == Kind::Pgp).unwrap();
            assert_eq!(pgp.recipients.len(), 1);
        }
    }
}
