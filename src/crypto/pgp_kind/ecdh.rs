//! The session key wrapped for a Cv25519 ECDH subkey (RFC 6637, as sequoia and GnuPG
//! write it), with the ephemeral X25519 key and agreement from `ring` (`crypto::ephemeral`).
//!
//! Why not `PKESK3::for_recipient` for these keys: sequoia's Nettle backend seeds a fresh
//! Yarrow generator (1,500 SHA-256 rounds) for every ephemeral key, which was two thirds
//! of a 100-member group message (docs/benchmarks.md, "Groups"). The primitives stay
//! library ones: X25519 from `ring` (as age stanzas get it), the KDF's SHA-2 from
//! `sha2`, AES key wrap from sequoia; only the packet layout of RFC 6637 §7–8 is spelt out
//! here, and a test opens the result with sequoia's own decryption. Other key kinds (RSA,
//! NIST curves, X25519 v6) return `None` and go through sequoia.

use anyhow::{Result, bail};
use sequoia_openpgp as openpgp;

use openpgp::crypto::SessionKey;
use openpgp::crypto::ecdh::aes_key_wrap;
use openpgp::crypto::mem::Protected;
use openpgp::crypto::mpi::{Ciphertext, MPI, PublicKey};
use openpgp::packet::Key;
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::pkesk::PKESK3;
use openpgp::types::{Curve, HashAlgorithm, PublicKeyAlgorithm, SymmetricAlgorithm};

/// The PKESK v3 carrying `sk` (for `algo`) to `key`, if it is a Cv25519 ECDH key whose KDF
/// hash is SHA-256/384/512; `None` for any other key.
pub(super) fn cv25519_pkesk(
    key: &Key<PublicParts, UnspecifiedRole>,
    algo: SymmetricAlgorithm,
    sk: &SessionKey,
) -> Result<Option<PKESK3>> {
    let PublicKey::ECDH {
        curve: curve @ Curve::Cv25519,
        q,
        hash,
        sym,
    } = key.mpis()
    else {
        return Ok(None);
    };
    let Some(digest) = kdf_hash(*hash) else {
        return Ok(None);
    };
    let theirs: [u8; 32] = match <[u8; 32]>::try_from(q.decode_point(curve)?.0) {
        Ok(r) => r,
        Err(_) => bail!("the Cv25519 key {} is not 32 bytes", key.keyid()),
    };
    // A low-order point gives everyone the same secret: refused as sequoia would.
    let Some((vb, shared)) = crate::crypto::ephemeral::agree(&theirs) else {
        bail!("the Cv25519 key {} is not a valid public key", key.keyid());
    };

    // m = sym_alg_ID || session key || checksum, PKCS#5-padded to 40 bytes (RFC 6637 §8).
    let checksum = sk
        .iter()
        .map(|b| u16::from(*b))
        .fold(0u16, u16::wrapping_add);
    let mut m: Vec<u8> = Vec::with_capacity(40);
    m.push(algo.into());
    m.extend_from_slice(sk);
    m.extend_from_slice(&checksum.to_be_bytes());
    let pad = 40usize
        .checked_sub(m.len())
        .filter(|p| *p > 0)
        .ok_or_else(|| anyhow::anyhow!("a {algo} session key does not fit an ECDH wrap"))?;
    m.resize(40, pad as u8);
    let m = Protected::from(m);

    // Param = OID length || OID || ECDH || 03 01 hash sym || "Anonymous Sender    " || fp
    // (RFC 6637 §8), then Z = Hash(00 00 00 01 || S || Param), cut to the wrap key size.
    let mut param = Vec::with_capacity(80);
    param.push(curve.oid().len() as u8);
    param.extend_from_slice(curve.oid());
    param.push(PublicKeyAlgorithm::ECDH.into());
    param.extend_from_slice(&[3, 1, (*hash).into(), (*sym).into()]);
    param.extend_from_slice(b"Anonymous Sender    ");
    param.extend_from_slice(key.fingerprint().as_bytes());
    let mut z = digest(&[&[0, 0, 0, 1], &shared[..], &param]);
    let size = sym.key_size()?;
    if size > z.len() {
        bail!(
            "the Cv25519 key {} asks for a wrap key longer than its hash",
            key.keyid()
        );
    }
    z.truncate(size);
    let wrapped = aes_key_wrap(*sym, &Protected::from(z), &m)?;

    let esk = Ciphertext::ECDH {
        e: MPI::new_compressed_point(&vb),
        key: wrapped.into_boxed_slice(),
    };
    Ok(Some(PKESK3::new(
        Some(key.keyid()),
        PublicKeyAlgorithm::ECDH,
        esk,
    )?))
}

/// Whether the ephemeral key of an ECDH PKESK is fine to unwrap: `false` only for a
/// Cv25519 point not written the one way an X25519 key comes out (below 2^255 - 19).
///
/// X25519 ignores the top bit of the point (RFC 7748 §5), and RFC 6637 binds nothing
/// of the PKESK into the wrap, so a point with that bit flipped opens the same session
/// key: someone on the way could change the message and it would still open. No
/// implementation writes such a point, so refusing it costs nothing.
pub(super) fn canonical_ephemeral(esk: &Ciphertext) -> bool {
    let Ciphertext::ECDH { e, .. } = esk else {
        return true;
    };
    let v = e.value();
    // Cv25519 points are 0x40 || 32 bytes little-endian; other curves are left alone.
    if v.len() != 33 || v[0] != 0x40 {
        return true;
    }
    let u = &v[1..];
    let at_least_p = u[31] == 0x7f && u[1..31].iter().all(|b| *b == 0xff) && u[0] >= 0xed;
    u[31] & 0x80 == 0 && !at_least_p
}

type Kdf = fn(&[&[u8]]) -> Vec<u8>;

fn kdf_hash(hash: HashAlgorithm) -> Option<Kdf> {
    fn with<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut d = D::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().to_vec()
    }
    match hash {
        HashAlgorithm::SHA256 => Some(with::<sha2::Sha256>),
        HashAlgorithm::SHA384 => Some(with::<sha2::Sha384>),
        HashAlgorithm::SHA512 => Some(with::<sha2::Sha512>),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{POLICY, generate};
    use super::*;
    use openpgp::packet::PKESK;

    /// Sequoia's own decryption opens what this writes, for every session key size, and
    /// a changed byte of the wrapped key is refused.
    #[test]
    fn sequoia_unwraps_it_and_a_changed_byte_is_refused() {
        let cert = generate("Rcpt").unwrap();
        let vc = cert.with_policy(&POLICY, None).unwrap();
        let ka = vc.keys().for_storage_encryption().secret().next().unwrap();
        let mut pair = ka.key().clone().into_keypair().unwrap();
        for algo in [SymmetricAlgorithm::AES128, SymmetricAlgorithm::AES256] {
            let sk = SessionKey::new(algo.key_size().unwrap()).unwrap();
            let pkesk = cv25519_pkesk(ka.key().parts_as_public().role_as_unspecified(), algo, &sk)
                .unwrap()
                .expect("a Cv25519 key");
            assert_eq!(pkesk.recipient(), Some(&ka.key().keyid()));
            let got = PKESK::from(pkesk.clone()).decrypt(&mut pair, None);
            assert_eq!(got, Some((Some(algo), sk.clone())));

            let Ciphertext::ECDH { e, key } = pkesk.esk().clone() else {
                panic!("ECDH ciphertext")
            };
            let mut key = key.to_vec();
            key[3] ^= 1;
            let bad = PKESK3::new(
                pkesk.recipient().cloned(),
                PublicKeyAlgorithm::ECDH,
                Ciphertext::ECDH {
                    e,
                    key: key.into_boxed_slice(),
                },
            )
            .unwrap();
            assert_eq!(PKESK::from(bad).decrypt(&mut pair, None), None);
        }
    }

    /// Two wraps of the same key differ (a fresh ephemeral key each time).
    #[test]
    fn each_wrap_has_its_own_ephemeral_key() {
        let cert = generate("Rcpt").unwrap();
        let vc = cert.with_policy(&POLICY, None).unwrap();
        let ka = vc.keys().for_storage_encryption().next().unwrap();
        let key = ka.key().role_as_unspecified();
        let sk = SessionKey::new(32).unwrap();
        let a = cv25519_pkesk(key, SymmetricAlgorithm::AES256, &sk)
            .unwrap()
            .unwrap();
        let b = cv25519_pkesk(key, SymmetricAlgorithm::AES256, &sk)
            .unwrap()
            .unwrap();
        assert_ne!(a.esk(), b.esk());
    }
}
