//! The OpenPGP side, all through sequoia-openpgp in a profile GnuPG 2.2 reads:
//! v4 keys, SEIPDv1 (MDC) messages, compressed like `gpg --encrypt`.

use std::io::Write;

use anyhow::{Context, Result, anyhow, bail};
use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::crypto::{KeyPair, Password, S2K};
use openpgp::packet::Packet;
use openpgp::packet::key::SecretKeyMaterial;
use openpgp::parse::Parse;
use openpgp::parse::stream::{
    DetachedVerifierBuilder, MessageLayer, MessageStructure, VerificationHelper,
};
use openpgp::policy::StandardPolicy;
use openpgp::serialize::SerializeInto;
use openpgp::serialize::stream::{Message, Signer};
use openpgp::types::{Features, KeyFlags};
use openpgp::{Cert, Profile};

pub(crate) use openpgp::Cert as PgpCert;

mod armor;
mod ecdh;
mod guard;
mod message;
pub(crate) mod verified;
// `decrypt` keeps its first signature for callers content with the default bound.
#[allow(unused_imports)]
pub(crate) use message::decrypt;
pub(crate) use message::{decrypt_limited, encrypt};

static POLICY: StandardPolicy<'static> = StandardPolicy::new();

const PASSPHRASE_HINT: &str = "set PIGEON_GPG_PASSPHRASE or pass --import-passphrase-file";

/// True if `data` looks like an OpenPGP message (armored, or a binary packet header).
pub(crate) fn looks_like_pgp(data: &[u8]) -> bool {
    // Binary OpenPGP: the first octet is a packet tag with bit 7 set.
    looks_armored(data) || data.first().is_some_and(|b| b & 0x80 != 0)
}

/// True if `data` is ASCII-armored (after leading white space).
pub(crate) fn looks_armored(data: &[u8]) -> bool {
    let start = data.iter().position(|b| !b.is_ascii_whitespace());
    start.is_some_and(|i| data[i..].starts_with(b"-----BEGIN PGP "))
}

/// Lowercase hex fingerprint of a cert (40 digits for v4).
pub(crate) fn fingerprint(cert: &Cert) -> String {
    cert.fingerprint().to_hex().to_lowercase()
}

/// Generates a v4 Cv25519 cert (certify-only primary, signing and encryption subkeys).
pub(crate) fn generate(name: &str) -> Result<Cert> {
    let (cert, _revocation) = CertBuilder::new()
        .set_cipher_suite(CipherSuite::Cv25519)
        .set_profile(Profile::RFC4880)?
        .set_features(Features::empty().set_seipdv1())?
        .add_userid(name)
        .add_signing_subkey()
        .add_subkey(
            KeyFlags::empty()
                .set_transport_encryption()
                .set_storage_encryption(),
            None,
            None,
        )
        .generate()
        .context("OpenPGP key generation failed")?;
    Ok(cert)
}

/// Parses a transferable secret key, decrypting protected secret key material.
pub(crate) fn import(tsk: &[u8], passphrase: Option<&str>) -> Result<Cert> {
    let cert = armor::cert_from_bytes(tsk)
        .context("not an OpenPGP secret key; export one with `gpg --armor --export-secret-keys`")?;
    if !cert.is_tsk() {
        bail!(
            "this OpenPGP key has no secret parts; export it with `gpg --armor --export-secret-keys`"
        );
    }
    let mut decrypted: Vec<Packet> = Vec::new();
    for ka in cert.keys().secret() {
        let key = ka.key();
        let SecretKeyMaterial::Encrypted(enc) = key.optional_secret().expect("secret() filter")
        else {
            continue;
        };
        // GnuPG stubs (e.g. keys on a smartcard) cannot be decrypted; skip them.
        if matches!(enc.s2k(), S2K::Private { .. } | S2K::Unknown { .. }) {
            continue;
        }
        let pw = passphrase.ok_or_else(|| {
            anyhow!("the OpenPGP secret key is passphrase-protected; {PASSPHRASE_HINT}")
        })?;
        let key = key
            .clone()
            .decrypt_secret(&Password::from(pw))
            .map_err(|_| {
                anyhow!(
                    "wrong passphrase for the OpenPGP secret key {}; {PASSPHRASE_HINT}",
                    key.fingerprint()
                )
            })?;
        decrypted.push(if ka.primary() {
            key.role_into_primary().into()
        } else {
            key.role_into_subordinate().into()
        });
    }
    let (cert, _) = cert
        .insert_packets(decrypted)
        .context("could not merge decrypted secret keys into the cert")?;
    check_usable_secret(&cert)?;
    check_writable(&cert)?;
    Ok(cert)
}

/// Parses pigeon's own `pgp.key` (secrets stored unencrypted, the file itself may be protected).
pub(crate) fn parse_tsk(data: &[u8]) -> Result<Cert> {
    let cert =
        armor::cert_from_bytes(data).context("pgp.key is not a readable OpenPGP secret key")?;
    check_usable_secret(&cert).context("pgp.key is not usable")?;
    Ok(cert)
}

/// Checks v4, valid under policy, with secret signing and encryption keys ready to use.
fn check_usable_secret(cert: &Cert) -> Result<()> {
    check_public(cert)?;
    signing_keypair(cert)?;
    let vc = cert.with_policy(&POLICY, None)?;
    if vc
        .keys()
        .supported()
        .unencrypted_secret()
        .for_transport_encryption()
        .for_storage_encryption()
        .next()
        .is_none()
    {
        bail!(
            "OpenPGP key {} has no usable secret encryption key; add one (gpg --quick-add-key FPR cv25519 encr)",
            fingerprint(cert)
        );
    }
    Ok(())
}

/// Checks a cert is v4 and valid under the standard policy.
pub(crate) fn check_public(cert: &Cert) -> Result<()> {
    if cert.primary_key().key().version() != 4 {
        bail!(
            "OpenPGP key {} is version {}; pigeon needs v4 keys (what GnuPG 2.2 reads)",
            cert.fingerprint(),
            cert.primary_key().key().version()
        );
    }
    cert.with_policy(&POLICY, None).with_context(|| {
        format!(
            "OpenPGP key {} is not valid (expired, revoked or using weak algorithms)",
            cert.fingerprint()
        )
    })?;
    Ok(())
}

/// A cert sequoia parses but cannot write back out (found by fuzzing: a subpacket naming an
/// unknown kind of fingerprint) would make `pigeon card` fail later; refuse it where a cert
/// comes from outside (an import, a card), not on every start with pigeon's own `pgp.key`.
// Packet by packet into a sink: writing the cert as a whole (armored) would first verify
// every signature sequoia left unchecked and base64 it, a third of a `send --group`'s
// instructions for its 24 pgp member cards (docs/benchmarks.md).
fn check_writable(cert: &Cert) -> Result<()> {
    use openpgp::serialize::Serialize as _;
    for p in cert.clone().into_packets() {
        p.serialize(&mut std::io::sink())
            .context("this OpenPGP certificate has a packet pigeon cannot write back out")?;
    }
    Ok(())
}

/// Parses an armored public cert (any secret parts are dropped).
pub(crate) fn parse_public(armored: &str) -> Result<Cert> {
    let cert = armor::cert_from_bytes(armored.as_bytes())
        .context("not a readable OpenPGP certificate")?
        .strip_secret_key_material();
    check_public(&cert)?;
    check_writable(&cert)?;
    Ok(cert)
}

/// The armored public cert.
pub(crate) fn public_armored(cert: &Cert) -> String {
    let bytes = cert
        .armored()
        .to_vec()
        .expect("serializing a parsed cert into memory cannot fail");
    String::from_utf8(bytes).expect("armor is ASCII")
}

/// The armored TSK with its (unencrypted) secrets.
pub(crate) fn tsk_armored(cert: &Cert) -> Vec<u8> {
    cert.as_tsk()
        .armored()
        .to_vec()
        .expect("serializing a parsed cert into memory cannot fail")
}

/// The name part of the primary user id.
pub(crate) fn user_name(cert: &Cert) -> Option<String> {
    let uid = match cert.with_policy(&POLICY, None) {
        Ok(vc) => vc.primary_userid().ok()?.userid().clone(),
        Err(_) => cert.userids().next()?.userid().clone(),
    };
    match uid.name() {
        Ok(Some(n)) if !n.trim().is_empty() => Some(n.trim().to_owned()),
        _ => None,
    }
}

fn signing_keypair(cert: &Cert) -> Result<KeyPair> {
    let vc = cert.with_policy(&POLICY, None)?;
    let ka = vc
        .keys()
        .supported()
        .alive()
        .revoked(false)
        .for_signing()
        .unencrypted_secret()
        .next()
        .ok_or_else(|| {
            anyhow!(
                "OpenPGP key {} has no usable secret signing key",
                fingerprint(cert)
            )
        })?;
    ka.key().clone().into_keypair()
}

/// A detached binary signature over `parts` concatenated.
pub(crate) fn sign_detached(cert: &Cert, parts: &[&[u8]]) -> Result<Vec<u8>> {
    let keypair = signing_keypair(cert)?;
    let mut sig = Vec::new();
    let mut w = Signer::new(Message::new(&mut sig), keypair)?
        .detached()
        .build()?;
    for p in parts {
        w.write_all(p)?;
    }
    w.finalize().context("OpenPGP signing failed")?;
    Ok(sig)
}

struct DetachedHelper<'a> {
    cert: &'a Cert,
}

impl VerificationHelper for DetachedHelper<'_> {
    fn get_certs(&mut self, _ids: &[openpgp::KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(vec![self.cert.clone()])
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        let mut good = false;
        for layer in structure {
            if let MessageLayer::SignatureGroup { results } = layer {
                for r in results {
                    match r {
                        Ok(_) => good = true,
                        Err(e) => bail!("{e}"),
                    }
                }
            }
        }
        if !good {
            bail!("no signature found");
        }
        Ok(())
    }
}

/// Verifies a detached signature made by [`sign_detached`] with `cert`.
pub(crate) fn verify_detached(cert: &Cert, parts: &[&[u8]], sig: &[u8]) -> Result<()> {
    let data = parts.concat();
    let mut v = DetachedVerifierBuilder::from_bytes(sig)
        .context("malformed OpenPGP signature")?
        .with_policy(&POLICY, None, DetachedHelper { cert })
        .context("OpenPGP signature does not verify")?;
    v.verify_bytes(&data)
        .with_context(|| format!("OpenPGP signature by {} does not verify", fingerprint(cert)))
}
