//! What the fuzz targets share: fixed test identities (so committed seed ciphertexts stay
//! decryptable across runs) and small helpers. The keys in `keys.rs` are throwaway test
//! vectors made by `pigeon keygen` for fuzzing only; they protect nothing.

use std::collections::HashMap;
use std::sync::OnceLock;

use pigeon::crypto::{Kind, PublicIdentity, SecretIdentity};
use pigeon::keys::{Identity, IdentityMeta};

mod keys;

/// The identities every target uses: `me_*` receive, `sender_*` send.
pub struct Fixture {
    pub me_age: Identity,
    pub me_pgp: Identity,
    pub sender_age: Identity,
    pub sender_pgp: Identity,
    /// The senders' signed cards, as JSON bytes (what a message carries).
    pub sender_age_card: Vec<u8>,
    pub sender_pgp_card: Vec<u8>,
}

impl Fixture {
    /// The public identities of the pgp senders, as `recv` passes its pgp contacts.
    pub fn known_pgp(&self) -> Vec<PublicIdentity> {
        vec![self.sender_pgp.secret.public(), self.me_pgp.secret.public()]
    }
}

/// When the fixed cards were issued: their two-year lifetime runs into 2028.
const ISSUED: u64 = 1_790_000_000;

fn identity(kind: Kind, name: &str, files: &[(&str, &str)]) -> Identity {
    let files: HashMap<&str, &str> = files.iter().copied().collect();
    let secret =
        SecretIdentity::from_secret_files(kind, &|n| files.get(n).map(|s| s.as_bytes().to_vec()))
            .expect("the fixed fuzz identities load");
    let public = secret.public();
    let meta = IdentityMeta {
        v: 1,
        kind: kind.as_str().into(),
        name: name.into(),
        fingerprint: public.fingerprint(),
        mailbox: pigeon::wire::mailbox_id(&public.mailbox_key()),
        relays: vec!["http://127.0.0.1:7447".into()],
        seq: 1,
        issued: ISSUED,
        created: ISSUED,
        protected: false,
    };
    Identity { meta, secret }
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let me_age = identity(
            Kind::Age,
            "me-age",
            &[
                ("age.key", keys::ME_AGE),
                ("mailbox.key", keys::ME_AGE_MAILBOX),
            ],
        );
        let me_pgp = identity(
            Kind::Pgp,
            "me-pgp",
            &[
                ("pgp.key", keys::ME_PGP),
                ("mailbox.key", keys::ME_PGP_MAILBOX),
            ],
        );
        let sender_age = identity(
            Kind::Age,
            "sender-age",
            &[
                ("age.key", keys::SENDER_AGE),
                ("mailbox.key", keys::SENDER_AGE_MAILBOX),
            ],
        );
        let sender_pgp = identity(
            Kind::Pgp,
            "sender-pgp",
            &[
                ("pgp.key", keys::SENDER_PGP),
                ("mailbox.key", keys::SENDER_PGP_MAILBOX),
            ],
        );
        let card = |id: &Identity| serde_json::to_vec(&id.card().expect("card")).unwrap();
        Fixture {
            sender_age_card: card(&sender_age),
            sender_pgp_card: card(&sender_pgp),
            me_age,
            me_pgp,
            sender_age,
            sender_pgp,
        }
    })
}

/// Parses `data` as `T`; when it parses, serialising and parsing again gives the same value.
pub fn round_trip<T>(data: &[u8]) -> Option<T>
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    let v: T = serde_json::from_slice(data).ok()?;
    let bytes = serde_json::to_vec(&v).expect("a parsed wire value serialises");
    let back: T = serde_json::from_slice(&bytes).expect("what we serialise parses back");
    assert_eq!(v, back, "parse -> serialise -> parse changed the value");
    Some(v)
}

/// Splits the first byte off as a mode selector.
pub fn mode(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((m, rest)) => (*m, rest),
        None => (0, data),
    }
}
