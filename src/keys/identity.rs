//! Your identity on disk: `identity/identity.json` (public facts and card state) beside the
//! secret key files (0600, each wrapped with age's scrypt when a passphrase is set).

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::card::sign_card;
use crate::crypto::{self, Kind, SecretIdentity};
use crate::error::{Exit, WithHint, fail};
use crate::home::{Home, write_atomic};
use crate::wire::{self, Card};

const META_FILE: &str = "identity.json";
/// How long a card is valid after it is issued.
const CARD_LIFETIME_SECS: u64 = 2 * 365 * 24 * 3600;

/// The public facts of your identity, and the state of your card.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityMeta {
    pub v: u32,
    pub kind: String,
    pub name: String,
    pub fingerprint: String,
    pub mailbox: String,
    #[serde(default)]
    pub relays: Vec<String>,
    /// Relays I moved away from and still read until they are empty (the card's
    /// `draining`), with when each started draining (Unix seconds).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub draining: std::collections::BTreeMap<String, u64>,
    /// The card's seq: grows whenever the card changes.
    pub seq: u64,
    /// When the current card was issued.
    pub issued: u64,
    pub created: u64,
    #[serde(default)]
    pub protected: bool,
}

/// Your identity with its secret keys unlocked.
pub struct Identity {
    pub meta: IdentityMeta,
    pub secret: SecretIdentity,
}

impl IdentityMeta {
    pub fn kind(&self) -> Kind {
        Kind::parse(&self.kind).unwrap_or(Kind::Age)
    }

    /// Loads the public facts; exit 5 with a hint when there is no identity yet.
    pub fn load(home: &Home) -> Result<IdentityMeta> {
        let path = home.identity_dir().join(META_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(fail(
                    Exit::NotFound,
                    format!("no identity in {}", home.data.display()),
                ))
                .hint("create one with `pigeon keygen --name NAME` (or set PIGEON_HOME)");
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        serde_json::from_slice(&bytes).with_context(|| format!("{} is damaged", path.display()))
    }

    /// Saves the public facts atomically.
    pub fn save(&self, home: &Home) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        write_atomic(&home.identity_dir().join(META_FILE), &bytes, 0o600)
    }

    /// Marks the card changed: a higher seq and a new issue time.
    pub fn bump(&mut self) {
        self.seq += 1;
        self.issued = super::now().max(self.issued);
    }
}

impl Identity {
    pub fn exists(home: &Home) -> bool {
        home.identity_dir().join(META_FILE).exists()
    }

    /// Writes a new identity. Refuses to replace one unless `force`; the old one is then
    /// swapped out whole, so a crash never leaves half of each.
    pub fn create(
        home: &Home,
        secret: SecretIdentity,
        name: &str,
        passphrase: Option<&str>,
        force: bool,
    ) -> Result<Identity> {
        if Identity::exists(home) && !force {
            let old = IdentityMeta::load(home)?;
            return Err(fail(
                Exit::Failure,
                format!(
                    "an identity already exists here: {} ({})",
                    old.name, old.fingerprint
                ),
            ))
            .hint("use --force to replace it (its secret keys are lost), or another PIGEON_HOME");
        }
        home.ensure_data()?;
        let now = super::now();
        let public = secret.public();
        let meta = IdentityMeta {
            v: 1,
            kind: secret.kind().as_str().into(),
            name: name.into(),
            fingerprint: public.fingerprint(),
            mailbox: wire::mailbox_id(&public.mailbox_key()),
            relays: Vec::new(),
            draining: Default::default(),
            seq: 1,
            issued: now,
            created: now,
            protected: passphrase.is_some(),
        };
        let final_dir = home.identity_dir();
        let staging = home
            .data
            .join(format!(".identity.new.{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        for (file, bytes) in secret.to_secret_files() {
            let bytes = match passphrase {
                Some(p) => crypto::protect(&bytes, p)?,
                None => bytes,
            };
            write_atomic(&staging.join(file), &bytes, 0o600)?;
        }
        let mut bytes = serde_json::to_vec_pretty(&meta)?;
        bytes.push(b'\n');
        write_atomic(&staging.join(META_FILE), &bytes, 0o600)?;
        let retired: Option<PathBuf> = if final_dir.exists() {
            let r = home
                .data
                .join(format!(".identity.old.{}", std::process::id()));
            fs::rename(&final_dir, &r).context("cannot move the old identity aside")?;
            Some(r)
        } else {
            None
        };
        fs::rename(&staging, &final_dir).context("cannot install the new identity")?;
        if let Some(r) = retired {
            fs::remove_dir_all(&r).with_context(|| format!("cannot remove {}", r.display()))?;
        }
        Ok(Identity { meta, secret })
    }

    /// Loads and unlocks the identity. A protected one needs the passphrase.
    pub fn load(home: &Home, passphrase: Option<&str>) -> Result<Identity> {
        let meta = IdentityMeta::load(home)?;
        let dir = home.identity_dir();
        let failure = std::cell::RefCell::new(None);
        let read = |file: &str| -> Option<Vec<u8>> {
            let bytes = fs::read(dir.join(file)).ok()?;
            if !crypto::is_protected(&bytes) {
                return Some(bytes);
            }
            let Some(p) = passphrase else {
                *failure.borrow_mut() = Some(
                    fail(
                        Exit::Crypto,
                        "the secret keys are protected by a passphrase",
                    )
                    .context(crate::error::Hint(
                        "set PIGEON_PASSPHRASE or pass --passphrase-file FILE".into(),
                    )),
                );
                return None;
            };
            match crypto::unprotect(&bytes, p) {
                Ok(b) => Some(b),
                Err(e) => {
                    *failure.borrow_mut() = Some(e.context(crate::error::Fail(
                        Exit::Crypto,
                        "cannot unlock the secret keys (wrong passphrase?)".into(),
                    )));
                    None
                }
            }
        };
        let secret = SecretIdentity::from_secret_files(meta.kind(), &read);
        if let Some(err) = failure.into_inner() {
            return Err(err);
        }
        let secret =
            secret.with_context(|| format!("cannot load the keys in {}", dir.display()))?;
        if secret.fingerprint() != meta.fingerprint {
            anyhow::bail!(
                "{} does not match the secret keys beside it",
                dir.join(META_FILE).display()
            );
        }
        Ok(Identity { meta, secret })
    }

    /// Re-issues the card (a higher seq, a new issue time) once half its lifetime has
    /// passed, so the card in every message stays valid for a long while yet.
    pub fn refresh_card(&mut self, home: &Home) -> Result<()> {
        if self.meta.issued + CARD_LIFETIME_SECS / 2 < super::now() {
            self.meta.bump();
            self.meta.save(home)?;
        }
        Ok(())
    }

    /// Your current card, signed.
    pub fn card(&self) -> Result<Card> {
        let public = self.secret.public();
        let mut card = Card {
            type_: "card".into(),
            v: wire::V,
            name: self.meta.name.clone(),
            kind: self.meta.kind.clone(),
            fingerprint: self.meta.fingerprint.clone(),
            age: public.age_recipient(),
            pgp: public.pgp_armored(),
            mailbox_key: hex::encode(public.mailbox_key()),
            mailbox: self.meta.mailbox.clone(),
            relays: self.meta.relays.clone(),
            draining: self.meta.draining.keys().cloned().collect(),
            seq: self.meta.seq,
            issued: self.meta.issued,
            expires: Some(self.meta.issued + CARD_LIFETIME_SECS),
            sig: String::new(),
        };
        sign_card(&mut card, &self.secret)?;
        Ok(card)
    }
}
