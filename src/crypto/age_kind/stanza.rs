//! The age X25519 recipient stanza (age v1: "X25519 recipient stanza"), with the key
//! agreement done by `ring` (`crypto::ephemeral`, why there) instead of `x25519-dalek`:
//! a message to a group is one stanza per age member. Everything else is the `age`
//! crate's own: `age_core`'s HKDF and ChaCha20-Poly1305, its bech32 decoding of the
//! recipient, its stanza type; only the layout of the stanza, a few lines of the age
//! spec, is written out here. The `age` crate and the real `age` program open what this
//! makes (the tests below, and the interop tests).

use age_core::format::{FileKey, Stanza};
use age_core::primitives::{aead_encrypt, bech32_decode, hkdf};
use age_core::secrecy::ExposeSecret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;

const TAG: &str = "X25519";
const LABEL: &[u8] = b"age-encryption.org/v1/X25519";

/// The 32 bytes of an age X25519 recipient (`age1…`).
pub(super) fn recipient_bytes(r: &str) -> Option<[u8; 32]> {
    bech32_decode(
        r,
        |_| (),
        |hrp| (hrp.as_str() == "age").then_some(()).ok_or(()),
        |_, bytes| bytes.collect::<Vec<u8>>().try_into().map_err(|_| ()),
    )
    .ok()
}

/// `file_key` wrapped for the X25519 public key `to`, as an age stanza.
pub(super) fn wrap(to: &[u8; 32], file_key: &FileKey) -> Result<Stanza, age::EncryptError> {
    let fail = || {
        age::EncryptError::Io(std::io::Error::other(
            "the X25519 key agreement failed (a bad recipient key, or no randomness)",
        ))
    };
    let (epk, shared) = crate::crypto::ephemeral::agree(to).ok_or_else(fail)?;
    let mut salt = [0; 64];
    salt[..32].copy_from_slice(&epk);
    salt[32..].copy_from_slice(to);
    let key = zeroize::Zeroizing::new(hkdf(&salt, LABEL, &shared[..]));
    Ok(Stanza {
        tag: TAG.to_owned(),
        args: vec![STANDARD_NO_PAD.encode(epk)],
        body: aead_encrypt(&key, file_key.expose_secret()),
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// One recipient standing for the stanza made here.
    struct Ring([u8; 32]);

    impl age::Recipient for Ring {
        fn wrap_file_key(
            &self,
            file_key: &FileKey,
        ) -> Result<(Vec<Stanza>, std::collections::HashSet<String>), age::EncryptError> {
            Ok((vec![wrap(&self.0, file_key)?], Default::default()))
        }
    }

    #[test]
    fn the_age_crate_opens_it_and_another_key_does_not() {
        let me = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let bytes = recipient_bytes(&me.to_public().to_string()).unwrap();
        let r = Ring(bytes);
        let enc =
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
        let mut ct = Vec::new();
        let mut w = enc.wrap_output(&mut ct).unwrap();
        w.write_all(b"hello").unwrap();
        w.finish().unwrap();
        let open = |ct: &[u8], id: &age::x25519::Identity| -> Option<Vec<u8>> {
            let d = age::Decryptor::new(ct).ok()?;
            let mut r = d.decrypt(std::iter::once(id as &dyn age::Identity)).ok()?;
            let mut out = Vec::new();
            r.read_to_end(&mut out).ok()?;
            Some(out)
        };
        assert_eq!(open(&ct, &me).as_deref(), Some(&b"hello"[..]));
        assert_eq!(open(&ct, &other), None);
        // A changed byte of the wrapped key opens nothing.
        let at = ct.windows(3).position(|w| w == b"\n--").unwrap() - 2;
        ct[at] ^= 1;
        assert_eq!(open(&ct, &me), None);
    }

    #[test]
    fn a_low_order_key_is_refused() {
        let fk = FileKey::new(Box::new([7; 16]));
        assert!(wrap(&[0; 32], &fk).is_err());
    }
}
