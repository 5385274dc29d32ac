//! age and OpenPGP behind one interface: bytes in, bytes out. No I/O.
//!
//! - kind `age`: an X25519 age identity plus an Ed25519 key that signs and names the mailbox.
//! - kind `pgp`: a v4 OpenPGP cert (GnuPG 2.2 compatible) plus an Ed25519 mailbox key.

mod age_header;
mod age_kind;
mod ephemeral;
mod pgp_kind;
mod seal;

#[cfg(test)]
mod interop_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod seal_tests;

use anyhow::{Context, Result, anyhow, bail};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use pgp_kind::PgpCert;

pub use seal::{Opened, Sealed, open, open_limited, open_ordered, seal};

/// For an age file of N recipient stanzas (the key), the stanza indexes to try first.
pub type StanzaOrder = std::collections::HashMap<usize, Vec<usize>>;

/// Domain-separation prefix for card signatures.
pub const CARD_DOMAIN: &[u8] = b"pigeon-card-v1\n";
/// Domain-separation prefix for message signatures.
pub const MSG_DOMAIN: &[u8] = b"pigeon-msg-v1\n";

/// The largest plaintext `open` accepts (a compressed OpenPGP message could expand
/// without bound).
pub const MAX_PLAINTEXT: usize = 64 << 20;

/// The two kinds of identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Age,
    Pgp,
}

impl Kind {
    /// `"age"` or `"pgp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Age => "age",
            Kind::Pgp => "pgp",
        }
    }

    /// The inverse of [`Kind::as_str`].
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "age" => Some(Kind::Age),
            "pgp" => Some(Kind::Pgp),
            _ => None,
        }
    }
}

enum SecretKeys {
    Age(age::x25519::Identity),
    Pgp(Box<PgpCert>),
}

/// Your keys: the secret half of an identity.
pub struct SecretIdentity {
    keys: SecretKeys,
    mailbox: SigningKey,
}

impl SecretIdentity {
    /// Generates a fresh identity of `kind`; `name` becomes the OpenPGP user id for `pgp`.
    pub fn generate(kind: Kind, name: &str) -> Result<SecretIdentity> {
        let keys = match kind {
            Kind::Age => SecretKeys::Age(age::x25519::Identity::generate()),
            Kind::Pgp => SecretKeys::Pgp(Box::new(pgp_kind::generate(name)?)),
        };
        Ok(SecretIdentity {
            keys,
            mailbox: SigningKey::generate(&mut rand::rngs::OsRng),
        })
    }

    /// Imports an OpenPGP transferable secret key (armored or binary), decrypting protected
    /// secrets with `passphrase`. A fresh Ed25519 mailbox key is generated.
    pub fn import_pgp(tsk: &[u8], passphrase: Option<&str>) -> Result<SecretIdentity> {
        let cert = pgp_kind::import(tsk, passphrase)?;
        Ok(SecretIdentity {
            keys: SecretKeys::Pgp(Box::new(cert)),
            mailbox: SigningKey::generate(&mut rand::rngs::OsRng),
        })
    }

    pub fn kind(&self) -> Kind {
        match self.keys {
            SecretKeys::Age(_) => Kind::Age,
            SecretKeys::Pgp(_) => Kind::Pgp,
        }
    }

    /// The public half.
    pub fn public(&self) -> PublicIdentity {
        let keys = match &self.keys {
            SecretKeys::Age(id) => {
                PublicKeys::Age(age_kind::AgeRecipient::from_key(id.to_public()))
            }
            SecretKeys::Pgp(cert) => {
                PublicKeys::Pgp(Box::new((**cert).clone().strip_secret_key_material()))
            }
        };
        PublicIdentity {
            keys,
            mailbox: self.mailbox.verifying_key(),
        }
    }

    /// Same as `public().fingerprint()`.
    pub fn fingerprint(&self) -> String {
        match &self.keys {
            SecretKeys::Age(id) => {
                age_kind::fingerprint(&id.to_public(), self.mailbox.verifying_key().as_bytes())
            }
            SecretKeys::Pgp(cert) => pgp_kind::fingerprint(cert),
        }
    }

    pub fn mailbox_signing_key(&self) -> &SigningKey {
        &self.mailbox
    }

    /// Name part of the primary OpenPGP user id (`None` for age identities).
    pub fn pgp_user_name(&self) -> Option<String> {
        match &self.keys {
            SecretKeys::Age(_) => None,
            SecretKeys::Pgp(cert) => pgp_kind::user_name(cert),
        }
    }

    /// Secret material as named files (see the module docs of `keys` for where they go).
    pub fn to_secret_files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut seed_hex = Zeroizing::new(hex::encode(self.mailbox.to_bytes()));
        seed_hex.push('\n');
        let main = match &self.keys {
            SecretKeys::Age(id) => ("age.key", age_kind::identity_file(id).to_vec()),
            SecretKeys::Pgp(cert) => ("pgp.key", pgp_kind::tsk_armored(cert)),
        };
        vec![main, ("mailbox.key", seed_hex.as_bytes().to_vec())]
    }

    /// Rebuilds an identity from the files [`SecretIdentity::to_secret_files`] made.
    pub fn from_secret_files(
        kind: Kind,
        get: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) -> Result<SecretIdentity> {
        let need = |name: &str| {
            get(name).map(Zeroizing::new).ok_or_else(|| {
                anyhow!("secret key file {name} is missing; restore it from a backup")
            })
        };
        let keys = match kind {
            Kind::Age => SecretKeys::Age(age_kind::parse_identity_file(&need("age.key")?)?),
            Kind::Pgp => SecretKeys::Pgp(Box::new(pgp_kind::parse_tsk(&need("pgp.key")?)?)),
        };
        let mailbox = parse_mailbox_key(&need("mailbox.key")?)?;
        Ok(SecretIdentity { keys, mailbox })
    }

    /// Signs `domain || msg`: Ed25519 (64 bytes) for age, an OpenPGP detached signature for pgp.
    pub fn sign(&self, domain: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
        match &self.keys {
            SecretKeys::Age(_) => {
                let data = Zeroizing::new([domain, msg].concat());
                Ok(self.mailbox.sign(&data).to_bytes().to_vec())
            }
            SecretKeys::Pgp(cert) => pgp_kind::sign_detached(cert, &[domain, msg]),
        }
    }

    pub(crate) fn age_identity(&self) -> Option<&age::x25519::Identity> {
        match &self.keys {
            SecretKeys::Age(id) => Some(id),
            SecretKeys::Pgp(_) => None,
        }
    }

    pub(crate) fn pgp_cert(&self) -> Option<&PgpCert> {
        match &self.keys {
            SecretKeys::Age(_) => None,
            SecretKeys::Pgp(cert) => Some(cert),
        }
    }
}

/// Shows kind and fingerprint only, never secret material.
impl std::fmt::Debug for SecretIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SecretIdentity({} {})",
            self.kind().as_str(),
            self.fingerprint()
        )
    }
}

fn parse_mailbox_key(data: &[u8]) -> Result<SigningKey> {
    let text = std::str::from_utf8(data).context("mailbox.key is not text")?;
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), seed.as_mut_slice()).map_err(|_| {
        anyhow!("mailbox.key must hold 64 hex digits (an Ed25519 seed); restore it from a backup")
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

#[derive(Clone)]
enum PublicKeys {
    Age(age_kind::AgeRecipient),
    Pgp(Box<PgpCert>),
}

/// The public half of an identity, as carried by a card.
#[derive(Clone)]
pub struct PublicIdentity {
    keys: PublicKeys,
    mailbox: VerifyingKey,
}

impl PublicIdentity {
    /// Builds a public identity from card fields. The field of the other kind must be `None`.
    pub fn from_parts(
        kind: Kind,
        age_recipient: Option<&str>,
        pgp_armored: Option<&str>,
        mailbox_key: &[u8; 32],
    ) -> Result<PublicIdentity> {
        let mailbox = VerifyingKey::from_bytes(mailbox_key)
            .map_err(|_| anyhow!("mailbox key is not a valid Ed25519 public key"))?;
        let keys = match (kind, age_recipient, pgp_armored) {
            (Kind::Age, Some(r), None) => PublicKeys::Age(age_kind::parse_recipient(r)?),
            (Kind::Pgp, None, Some(a)) => PublicKeys::Pgp(Box::new(pgp_kind::parse_public(a)?)),
            (Kind::Age, _, _) => {
                bail!("an age identity needs an age recipient and no OpenPGP certificate")
            }
            (Kind::Pgp, _, _) => {
                bail!("a pgp identity needs an OpenPGP certificate and no age recipient")
            }
        };
        Ok(PublicIdentity { keys, mailbox })
    }

    pub fn kind(&self) -> Kind {
        match self.keys {
            PublicKeys::Age(_) => Kind::Age,
            PublicKeys::Pgp(_) => Kind::Pgp,
        }
    }

    /// age: 40 hex digits of SHA-256 over recipient and mailbox key; pgp: the v4 fingerprint.
    pub fn fingerprint(&self) -> String {
        match &self.keys {
            PublicKeys::Age(r) => age_kind::fingerprint(&r.key, self.mailbox.as_bytes()),
            PublicKeys::Pgp(cert) => pgp_kind::fingerprint(cert),
        }
    }

    pub fn mailbox_key(&self) -> [u8; 32] {
        self.mailbox.to_bytes()
    }

    /// `"age1…"` for age identities.
    pub fn age_recipient(&self) -> Option<String> {
        match &self.keys {
            PublicKeys::Age(r) => Some(r.key.to_string()),
            PublicKeys::Pgp(_) => None,
        }
    }

    /// The armored public cert (no secrets) for pgp identities.
    pub fn pgp_armored(&self) -> Option<String> {
        match &self.keys {
            PublicKeys::Age(_) => None,
            PublicKeys::Pgp(cert) => Some(pgp_kind::public_armored(cert)),
        }
    }

    /// Checks a signature made by [`SecretIdentity::sign`] over `domain || msg`.
    pub fn verify(&self, domain: &[u8], msg: &[u8], sig: &[u8]) -> Result<()> {
        match &self.keys {
            PublicKeys::Age(_) => {
                let sig = Signature::from_slice(sig)
                    .map_err(|_| anyhow!("signature is not a 64-byte Ed25519 signature"))?;
                self.mailbox
                    .verify_strict(&[domain, msg].concat(), &sig)
                    .map_err(|_| {
                        anyhow!(
                            "Ed25519 signature by {} does not verify: forged or altered",
                            self.fingerprint()
                        )
                    })
            }
            PublicKeys::Pgp(cert) => pgp_kind::verify_detached(cert, &[domain, msg], sig),
        }
    }

    pub(crate) fn age_recipient_key(&self) -> Option<&age_kind::AgeRecipient> {
        match &self.keys {
            PublicKeys::Age(r) => Some(r),
            PublicKeys::Pgp(_) => None,
        }
    }

    pub(crate) fn pgp_cert(&self) -> Option<&PgpCert> {
        match &self.keys {
            PublicKeys::Age(_) => None,
            PublicKeys::Pgp(cert) => Some(cert),
        }
    }
}

impl std::fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PublicIdentity({} {})",
            self.kind().as_str(),
            self.fingerprint()
        )
    }
}

/// Takes back OpenPGP signatures verified by an earlier process (what
/// [`verified_signatures`] gave), so certs seen before are not verified again.
pub fn restore_verified_signatures(bytes: &[u8]) {
    pgp_kind::verified::restore(bytes)
}

/// The OpenPGP signatures verified so far, to keep for the next process; `None` when this
/// one verified nothing new.
pub fn verified_signatures() -> Option<Vec<u8>> {
    pgp_kind::verified::to_save()
}

/// Protects secret bytes with a passphrase: an ASCII-armored age scrypt file (`age -d` opens it).
pub fn protect(secret: &[u8], passphrase: &str) -> Result<Vec<u8>> {
    age_kind::protect(secret, passphrase)
}

/// Opens what [`protect`] made. A wrong passphrase gives a clear error.
pub fn unprotect(data: &[u8], passphrase: &str) -> Result<Vec<u8>> {
    age_kind::unprotect(data, passphrase)
}

/// True if `data` is a passphrase-protected (age scrypt) file.
pub fn is_protected(data: &[u8]) -> bool {
    age_kind::is_protected(data)
}

#[cfg(test)]
mod tests;
