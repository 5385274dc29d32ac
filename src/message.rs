//! Messages: build the inner message, seal it for recipients, and open and check what
//! arrives (DESIGN §4). Uses `crypto` for the cryptography and `keys` for cards; knows
//! nothing of stdin/stdout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use rand::RngCore;

use crate::crypto::{self, MSG_DOMAIN, Opened, PublicIdentity, Sealed};
use crate::error::{Exit, Fail, fail};
use crate::keys::{Contact, Contacts, Identity, verify_card};
use crate::wire::{Card, Inner};

/// A new 128-bit id, 32 hex digits: 48 bits of Unix milliseconds, then 80 random bits
/// (the layout of a UUIDv7). Ids made later sort later, so a relay's `(mailbox, id)`
/// index and the archive's grow at their ends instead of at random places; 80 random
/// bits keep ids unique and unguessable. The time is what the relay sees anyway (when the
/// envelope arrives); a retry keeps its id, and so shows when it was first made.
pub fn new_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    rand::rngs::OsRng.fill_bytes(&mut b[6..]);
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_hex_and_sort_by_time() {
        let a = super::new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let ids: Vec<String> = (0..1000).map(|_| super::new_id()).collect();
        assert!(
            ids.iter()
                .all(|i| i.len() == 32 && i.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        assert!(ids.iter().all(|i| *i > a), "later ids sort later");
        let set: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(set.len(), ids.len());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let ms = u64::from_str_radix(&a[..12], 16).unwrap();
        assert!(ms <= now && now - ms < 60_000, "{a} starts with the time");
    }
}

/// Serialises `inner` and seals it to `recipients` (grouped by kind: one ciphertext each).
pub fn seal(
    me: &Identity,
    card_json: &[u8],
    recipients: &[&PublicIdentity],
    inner: &Inner,
    armor: bool,
) -> Result<Vec<Sealed>> {
    let bytes = serde_json::to_vec(inner)?;
    crypto::seal(&me.secret, recipients, &bytes, card_json, armor)
        .context("cannot seal the message")
}

/// What a ciphertext turned out to be, after every check.
pub enum Unsealed {
    /// A pigeon message whose card and signature verified and that is addressed to me.
    Pigeon(Box<Verified>),
    /// Plaintext from another tool (`age`, `gpg`); `signer` is a contact's fingerprint when
    /// an OpenPGP signature by that contact verified.
    Foreign {
        plaintext: Vec<u8>,
        signer: Option<String>,
    },
}

/// A message that passed every check, with the sender's card.
pub struct Verified {
    pub inner: Inner,
    pub card: Card,
    /// The card as it arrived (unknown fields kept), so it can be pinned as is.
    pub card_json: serde_json::Value,
}

/// Sender cards already checked in this run, by their exact bytes. Every message carries
/// its sender's card, and checking one (for `pgp`, parsing a certificate and verifying an
/// OpenPGP signature) costs more than the rest of opening the message; a batch of messages
/// from one sender needs it once. Only cards that passed every check are kept.
#[derive(Default)]
pub struct CardCache {
    map: Mutex<HashMap<Vec<u8>, Arc<CheckedCard>>>,
}

struct CheckedCard {
    card: Card,
    public: PublicIdentity,
    json: serde_json::Value,
}

/// Distinct cards kept at most; past it the cache starts over.
const CARD_CACHE_MAX: usize = 1024;

impl CardCache {
    fn check(&self, bytes: &[u8]) -> Result<Arc<CheckedCard>> {
        let lock = || self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = lock().get(bytes) {
            return Ok(c.clone());
        }
        let json: serde_json::Value = serde_json::from_slice(bytes)
            .context(Fail(Exit::Crypto, "the sender's card is malformed".into()))?;
        let (card, public) = verify_card(&json).context("the sender's card")?;
        let checked = Arc::new(CheckedCard { card, public, json });
        let mut map = lock();
        if map.len() >= CARD_CACHE_MAX {
            map.clear();
        }
        map.insert(bytes.to_vec(), checked.clone());
        Ok(checked)
    }
}

/// Decrypts and checks a ciphertext. Every failure is exit 4 and nothing of the message is
/// returned: a message that does not verify is never shown as if it were good.
pub fn unseal(me: &Identity, known_pgp: &[PublicIdentity], ciphertext: &[u8]) -> Result<Unsealed> {
    unseal_with(
        me,
        known_pgp,
        ciphertext,
        &CardCache::default(),
        crypto::MAX_PLAINTEXT,
    )
}

/// [`unseal`] with the cards checked earlier in this run, refusing a plaintext over
/// `max_plaintext` bytes (what one message may make `recv` hold).
pub fn unseal_with(
    me: &Identity,
    known_pgp: &[PublicIdentity],
    ciphertext: &[u8],
    cards: &CardCache,
    max_plaintext: usize,
) -> Result<Unsealed> {
    let first = crypto::StanzaOrder::default();
    unseal_ordered(me, known_pgp, ciphertext, cards, max_plaintext, &first)
}

/// [`unseal_with`], trying first the age stanzas where a group's sender put mine.
pub fn unseal_ordered(
    me: &Identity,
    known_pgp: &[PublicIdentity],
    ciphertext: &[u8],
    cards: &CardCache,
    max_plaintext: usize,
    first: &crypto::StanzaOrder,
) -> Result<Unsealed> {
    let opened = crypto::open_ordered(&me.secret, ciphertext, known_pgp, max_plaintext, first)
        .context(Fail(
            Exit::Crypto,
            "cannot decrypt: not for this identity, or damaged".into(),
        ))?;
    match opened {
        Opened::Foreign { plaintext, signer } => Ok(Unsealed::Foreign { plaintext, signer }),
        Opened::Pigeon { inner, card, sig } => {
            let checked = cards.check(&card)?;
            let (card, card_json) = (checked.card.clone(), checked.json.clone());
            checked
                .public
                .verify(MSG_DOMAIN, &inner, &sig)
                .context(Fail(Exit::Crypto, "bad message signature".into()))?;
            let inner: Inner = serde_json::from_slice(&inner)
                .context(Fail(Exit::Crypto, "the signed message is malformed".into()))?;
            if inner.from != card.fingerprint {
                return Err(fail(
                    Exit::Crypto,
                    "the message was signed by someone else than its sender",
                ));
            }
            if inner.v > crate::wire::GROUP_V {
                return Err(fail(
                    Exit::Crypto,
                    format!(
                        "the message is version {} (this pigeon reads up to {}); upgrade pigeon",
                        inner.v,
                        crate::wire::GROUP_V
                    ),
                ));
            }
            if !addressed_to(&inner, &me.meta.fingerprint) {
                return Err(fail(
                    Exit::Crypto,
                    "the message is addressed to someone else (it was forwarded to you)",
                ));
            }
            if !crate::wire::is_message_id(&inner.id) {
                return Err(fail(Exit::Crypto, "the message id is malformed"));
            }
            Ok(Unsealed::Pigeon(Box::new(Verified {
                inner,
                card,
                card_json,
            })))
        }
    }
}

/// Whether `inner` names `me` as a recipient. A group message of version 2 names none:
/// its recipients are the group's current members, which `recv`'s group rules check (a
/// copy forwarded to someone outside the group is refused there). A membership change
/// always lists its recipients, since a newcomer holds no group to check against.
fn addressed_to(inner: &Inner, me: &str) -> bool {
    let by_group = inner.v >= crate::wire::GROUP_V
        && inner.to.is_empty()
        && inner.group.is_some()
        && inner.kind != "membership";
    by_group || inner.to.iter().any(|f| f == me)
}

/// Who a sender is to me.
#[derive(Debug, Clone)]
pub struct Sender {
    pub name: String,
    pub fingerprint: String,
    /// A pinned contact with this key.
    pub known: bool,
    /// Whose fingerprint I checked out of band.
    pub verified: bool,
    /// A contact of this name is pinned to a *different* key.
    pub key_change: bool,
    pub contact: Option<Contact>,
}

/// Looks a sender up among my contacts.
pub fn classify(contacts: &Contacts, fingerprint: &str, claimed_name: &str) -> Result<Sender> {
    if let Some(c) = contacts.by_fingerprint(fingerprint)? {
        return Ok(Sender {
            name: c.name.clone(),
            fingerprint: fingerprint.into(),
            known: true,
            verified: c.verified,
            key_change: false,
            contact: Some(c),
        });
    }
    let key_change = contacts
        .find(claimed_name)?
        .is_some_and(|c| c.name == claimed_name && c.fingerprint != fingerprint);
    Ok(Sender {
        name: claimed_name.into(),
        fingerprint: fingerprint.into(),
        known: false,
        verified: false,
        key_change,
        contact: None,
    })
}

/// The public identities of my OpenPGP contacts (to check signatures of foreign messages).
pub fn pgp_contacts(contacts: &Contacts) -> Result<Vec<PublicIdentity>> {
    let mut out = Vec::new();
    for c in contacts.list()? {
        if c.kind == "pgp" {
            out.push(c.checked()?.1);
        }
    }
    Ok(out)
}
