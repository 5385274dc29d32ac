//! OpenPGP messages: encrypt (SEIPDv1, compressed, optionally signed) and decrypt+verify.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use sequoia_openpgp as openpgp;

use openpgp::Cert;
use openpgp::crypto::SessionKey;
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::pkesk::PKESK3;
use openpgp::packet::{Key, PKESK, Packet, SKESK};
use openpgp::parse::Parse;
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageLayer, MessageStructure, VerificationError,
    VerificationHelper,
};
use openpgp::serialize::Serialize as _;
use openpgp::serialize::stream::{Armorer, Compressor, Encryptor, LiteralWriter, Message, Signer};
use openpgp::types::SymmetricAlgorithm;

use super::{POLICY, ecdh, fingerprint, guard, signing_keypair};

/// Encrypts to every valid encryption subkey of `recipients` (forcing SEIPDv1 for GnuPG 2.2),
/// compressed, and signed inline by `signer` if given.
pub(crate) fn encrypt(
    recipients: &[&Cert],
    signer: Option<&Cert>,
    plaintext: &[u8],
    armor: bool,
) -> Result<Vec<u8>> {
    let mut keys = Vec::new();
    for cert in recipients {
        let vc = cert.with_policy(&POLICY, None)?;
        let before = keys.len();
        for ka in vc
            .keys()
            .supported()
            .alive()
            .revoked(false)
            .for_transport_encryption()
            .for_storage_encryption()
        {
            keys.push(ka.key());
        }
        if keys.len() == before {
            bail!(
                "OpenPGP key {} has no valid encryption key; ask its owner for a fresh card",
                fingerprint(cert)
            );
        }
    }
    let keypair = signer.map(signing_keypair).transpose()?;
    let mut out = Vec::with_capacity(plaintext.len() + 1024);
    {
        let mut sink = Message::new(&mut out);
        if armor {
            sink = Armorer::new(sink)
                .kind(openpgp::armor::Kind::Message)
                .build()?;
        }
        // The PKESKs sequoia would write (v3, one per key, in order, SEIPDv1 after them),
        // made here so a large group's run on several cores, and so Cv25519 ones skip the
        // nettle backend's per-call Yarrow seeding (see `ecdh`). The session key comes
        // from the OS generator for the same reason.
        let mut sk = vec![0u8; SymmetricAlgorithm::AES256.key_size()?];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut sk);
        let sk = SessionKey::from(sk);
        for pkesk in pkesks(&keys, &sk)? {
            Packet::from(pkesk).serialize(&mut sink)?;
        }
        let sink = Encryptor::with_session_key(sink, SymmetricAlgorithm::AES256, sk)?
            .build()
            .context("OpenPGP encryption failed")?;
        let mut sink = Compressor::new(sink).build()?;
        if let Some(kp) = keypair {
            sink = Signer::new(sink, kp)?.build()?;
        }
        let mut lit = LiteralWriter::new(sink).build()?;
        lit.write_all(plaintext)?;
        lit.finalize().context("OpenPGP encryption failed")?;
    }
    Ok(out)
}

/// One PKESK v3 per key, in the order of `keys`, on up to four threads.
fn pkesks(keys: &[&Key<PublicParts, UnspecifiedRole>], sk: &SessionKey) -> Result<Vec<PKESK3>> {
    // Both name the key they are for (its key id), as gpg expects.
    let one = |key: &&Key<PublicParts, UnspecifiedRole>| -> Result<PKESK3> {
        match super::ecdh::cv25519_pkesk(key, SymmetricAlgorithm::AES256, sk)? {
            Some(p) => Ok(p),
            None => PKESK3::for_recipient(SymmetricAlgorithm::AES256, sk, *key)
                .context("OpenPGP encryption failed"),
        }
    };
    crate::par::map(keys, 4, one).into_iter().collect()
}

struct DecryptHelper<'a> {
    me: &'a Cert,
    known: &'a [Cert],
    encrypted: bool,
    signer: Option<String>,
}

impl VerificationHelper for DecryptHelper<'_> {
    fn get_certs(&mut self, _ids: &[openpgp::KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.known.to_vec())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        for layer in structure {
            match layer {
                MessageLayer::Encryption { .. } => self.encrypted = true,
                MessageLayer::Compression { .. } => {}
                MessageLayer::SignatureGroup { results } => {
                    for r in results {
                        match r {
                            Ok(good) => {
                                if self.signer.is_none() {
                                    self.signer = Some(fingerprint(good.ka.cert()));
                                }
                            }
                            // A signature that is present and cryptographically wrong fails.
                            Err(e @ VerificationError::BadSignature { .. })
                            | Err(e @ VerificationError::MalformedSignature { .. }) => {
                                bail!(
                                    "BAD OpenPGP signature: {e}; the message was forged or tampered with"
                                )
                            }
                            // Unknown signer, or a key we cannot vouch for: not attributed.
                            Err(_) => {}
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl DecryptionHelper for DecryptHelper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        for pkesk in pkesks {
            for ka in self.me.keys().unencrypted_secret() {
                let key = ka.key();
                if pkesk
                    .recipient()
                    .is_some_and(|h| !h.aliases(key.key_handle()))
                {
                    continue;
                }
                if !ecdh::canonical_ephemeral(pkesk.esk()) {
                    bail!(
                        "this OpenPGP message's ephemeral key is not written as any \
                         implementation writes one: it was changed on the way; refused"
                    );
                }
                let Ok(mut keypair) = key.clone().into_keypair() else {
                    continue;
                };
                if pkesk
                    .decrypt(&mut keypair, sym_algo)
                    .is_some_and(|(algo, sk)| decrypt(algo, &sk))
                {
                    return Ok(Some(self.me.clone()));
                }
            }
        }
        bail!(
            "this OpenPGP message is not encrypted to this identity ({}); it was sent to someone else",
            fingerprint(self.me)
        )
    }
}

/// Decrypts an OpenPGP message (armored or binary) with `me`; checks signatures against `known`.
/// Returns the plaintext and the fingerprint of a cert whose signature verified.
// Kept with its first signature for callers content with the default bound.
#[allow(dead_code)]
pub(crate) fn decrypt(
    me: &Cert,
    ciphertext: &[u8],
    known: &[Cert],
) -> Result<(Vec<u8>, Option<String>)> {
    decrypt_limited(me, ciphertext, known, crate::crypto::MAX_PLAINTEXT)
}

/// [`decrypt`], refusing a plaintext over `limit` bytes after reading `limit + 1` of it.
pub(crate) fn decrypt_limited(
    me: &Cert,
    ciphertext: &[u8],
    known: &[Cert],
    limit: usize,
) -> Result<(Vec<u8>, Option<String>)> {
    let helper = DecryptHelper {
        me,
        known,
        encrypted: false,
        signer: None,
    };
    let binary = guard::dearmor(ciphertext)?;
    guard::refuse_truncated(&binary)?;
    let (plaintext, d) = guard::no_panic(|| -> Result<_> {
        // sequoia holds back up to `buffer_size` of plaintext until the signatures are
        // checked; everything is read to the end here before any of it is used (a bad
        // signature is an error at the end), so a small buffer keeps memory at one copy of
        // the plaintext.
        let mut d = DecryptorBuilder::from_bytes(&binary[..])
            .context("not a readable OpenPGP message")?
            .buffer_size(limit.min(1 << 20))
            .with_policy(&POLICY, None, helper)
            .context("OpenPGP decryption failed")?;
        let mut plaintext = Vec::new();
        // Compression makes the plaintext arbitrarily larger than the ciphertext, and all of
        // it is read before anything is verified: bound it.
        (&mut d)
            .take(limit as u64 + 1)
            .read_to_end(&mut plaintext)
            .context("OpenPGP decryption failed: the message is corrupted or was tampered with")?;
        Ok((plaintext, d))
    })?;
    if plaintext.len() > limit {
        bail!(
            "the OpenPGP message decompresses to more than {} bytes; refused",
            limit
        );
    }
    let helper = d.into_helper();
    if !helper.encrypted {
        bail!("this OpenPGP message is not encrypted; pigeon only accepts encrypted messages");
    }
    Ok((plaintext, helper.signer))
}

#[cfg(test)]
mod tests {
    use super::super::generate;
    use super::*;
    use openpgp::PacketPile;
    use openpgp::crypto::mpi::{Ciphertext, MPI};
    use openpgp::serialize::stream::Recipient;
    use openpgp::types::Features;

    /// Encrypts already-serialized packets to `rcpt` (no literal wrapping, no compression).
    fn encrypt_packets(rcpt: &Cert, packets: &[u8]) -> Vec<u8> {
        let vc = rcpt.with_policy(&POLICY, None).unwrap();
        let keys: Vec<Recipient> = vc
            .keys()
            .for_storage_encryption()
            .map(|ka| Recipient::new(Features::empty().set_seipdv1(), None, ka.key()))
            .collect();
        let mut out = Vec::new();
        let mut m = Encryptor::for_recipients(Message::new(&mut out), keys)
            .build()
            .unwrap();
        m.write_all(packets).unwrap();
        m.finalize().unwrap();
        out
    }

    #[test]
    fn bad_inline_signature_makes_decryption_fail() {
        let signer = generate("Signer").unwrap();
        let rcpt = generate("Rcpt").unwrap();
        let mut signed = Vec::new();
        {
            let kp = signing_keypair(&signer).unwrap();
            let m = Signer::new(Message::new(&mut signed), kp)
                .unwrap()
                .build()
                .unwrap();
            let mut lit = LiteralWriter::new(m).build().unwrap();
            lit.write_all(b"pay alice 10").unwrap();
            lit.finalize().unwrap();
        }
        let good = encrypt_packets(&rcpt, &signed);
        let (pt, who) = decrypt(&rcpt, &good, std::slice::from_ref(&signer)).unwrap();
        assert_eq!(pt, b"pay alice 10");
        assert_eq!(who, Some(fingerprint(&signer)));

        let pos = signed.windows(5).position(|w| w == b"alice").unwrap();
        signed[pos] = b'm';
        let bad = encrypt_packets(&rcpt, &signed);
        let err = decrypt(&rcpt, &bad, std::slice::from_ref(&signer)).unwrap_err();
        assert!(
            format!("{err:#}").contains("BAD OpenPGP signature"),
            "{err:#}"
        );
        // Without the signer's cert the signature cannot be checked: not attributed.
        let (_, who) = decrypt(&rcpt, &bad, &[]).unwrap();
        assert_eq!(who, None);
    }

    /// Enough recipients for the PKESKs to be made on several threads: each recipient opens
    /// the message, the PKESKs name the keys in the order given, and SEIPDv1 follows them.
    #[test]
    fn many_recipients_each_open_and_pkesks_keep_their_order() {
        let signer = generate("Signer").unwrap();
        let rcpts: Vec<Cert> = (0..10)
            .map(|i| generate(&format!("R{i}")).unwrap())
            .collect();
        let refs: Vec<&Cert> = rcpts.iter().collect();
        let ct = encrypt(&refs, Some(&signer), b"to ten", false).unwrap();
        for r in &rcpts {
            let (pt, who) = decrypt(r, &ct, std::slice::from_ref(&signer)).unwrap();
            assert_eq!(pt, b"to ten");
            assert_eq!(who, Some(fingerprint(&signer)));
        }
        let pile = PacketPile::from_bytes(&ct).unwrap();
        let named: Vec<_> = pile
            .children()
            .filter_map(|p| match p {
                Packet::PKESK(k) => Some(k.recipient()),
                _ => None,
            })
            .collect();
        let want: Vec<_> = rcpts
            .iter()
            .map(|c| {
                let vc = c.with_policy(&POLICY, None).unwrap();
                let ka = vc.keys().for_storage_encryption().next().unwrap();
                Some(openpgp::KeyHandle::from(ka.key().keyid()))
            })
            .collect();
        assert_eq!(named, want);
        assert!(
            pile.children()
                .any(|p| matches!(p, Packet::SEIP(s) if s.version() == 1))
        );
    }

    /// The throwaway keys of the fuzz targets, which the committed crash inputs are
    /// encrypted to (test vectors; they protect nothing).
    mod fuzz_keys {
        #![allow(dead_code)]
        include!("../../../fuzz/src/keys.rs");
    }
    use fuzz_keys::ME_PGP as FUZZ_ME_PGP;

    /// A byte that is not base64 just after the encrypted packet's header made sequoia's
    /// decryptor panic ("Consume the header. This shouldn't fail"); found by
    /// `prop_tests::any_single_byte_change_is_refused`, the input is a real sealed message with
    /// one byte changed. Now it is an error like any damaged message.
    #[test]
    fn a_damaged_armor_is_an_error_not_a_panic() {
        let me = super::super::parse_tsk(FUZZ_ME_PGP.as_bytes()).unwrap();
        let bad = include_bytes!(
            "../../../fuzz/regressions/open_pgp/armor-bad-char-after-seip-header.pgp"
        );
        let err = decrypt(&me, bad, &[]).unwrap_err();
        assert!(format!("{err:#}").contains("armor"), "{err:#}");
        // The same message undamaged still opens.
        let good = include_bytes!("../../../fuzz/corpus/open_pgp/sealed-armored.pgp");
        decrypt(&me, good, &[]).unwrap();
    }

    /// A truncated message (its encrypted packet cut short) made sequoia's decryptor panic;
    /// found by the `open_pgp` fuzz target, the input is
    /// `fuzz/regressions/open_pgp/truncated-seip.pgp`. Every truncation is now an error.
    #[test]
    fn a_truncated_message_is_an_error_not_a_panic() {
        let me = super::super::parse_tsk(FUZZ_ME_PGP.as_bytes()).unwrap();
        let bad = include_bytes!("../../../fuzz/regressions/open_pgp/truncated-seip.pgp");
        let err = decrypt(&me, bad, &[]).unwrap_err();
        assert!(format!("{err:#}").contains("truncated"), "{err:#}");
        let good = include_bytes!("../../../fuzz/corpus/open_pgp/sealed.pgp");
        decrypt(&me, good, &[]).unwrap();
        for n in 0..good.len() {
            assert!(decrypt(&me, &good[..n], &[]).is_err(), "cut at {n}");
        }
    }

    #[test]
    fn messages_are_seipdv1_compressed_and_gpg_shaped() {
        let rcpt = generate("Rcpt").unwrap();
        let plaintext = vec![b' '; 64 * 1024];
        let ct = encrypt(&[&rcpt], None, &plaintext, false).unwrap();
        // Compression is on: 64 KiB of spaces shrink to a small message.
        assert!(ct.len() < 2048, "{} bytes: not compressed", ct.len());
        let pile = PacketPile::from_bytes(&ct).unwrap();
        let mut seip = 0;
        for p in pile.children() {
            match p {
                Packet::PKESK(k) => assert_eq!(k.version(), 3),
                Packet::SEIP(s) => {
                    assert_eq!(s.version(), 1, "gpg 2.2 needs SEIPDv1");
                    seip += 1;
                }
                other => panic!("unexpected packet {other:?}"),
            }
        }
        assert_eq!(seip, 1);
        assert_eq!(decrypt(&rcpt, &ct, &[]).unwrap().0, plaintext);
        // Unencrypted (only signed) messages are refused.
        let mut signed = Vec::new();
        {
            let m = Signer::new(Message::new(&mut signed), signing_keypair(&rcpt).unwrap())
                .unwrap()
                .build()
                .unwrap();
            let mut lit = LiteralWriter::new(m).build().unwrap();
            lit.write_all(b"x").unwrap();
            lit.finalize().unwrap();
        }
        assert!(decrypt(&rcpt, &signed, std::slice::from_ref(&rcpt)).is_err());
    }

    /// X25519 ignores a point's top bit, so a message whose ephemeral key has it flipped
    /// would open to the same plaintext: it is refused instead (found by the single-byte
    /// property test in `crypto::prop_tests`). The untouched message still opens.
    #[test]
    fn an_ephemeral_key_with_its_ignored_bit_flipped_is_refused() {
        let rcpt = generate("Rcpt").unwrap();
        let ct = encrypt(&[&rcpt], None, b"once", false).unwrap();
        assert_eq!(decrypt(&rcpt, &ct, &[]).unwrap().0, b"once");
        let pile = PacketPile::from_bytes(&ct).unwrap();
        let mut packets: Vec<Packet> = pile.into_children().collect();
        let Packet::PKESK(PKESK::V3(p)) = &packets[0] else {
            panic!("a PKESK v3 first")
        };
        let Ciphertext::ECDH { e, key } = p.esk().clone() else {
            panic!("an ECDH ciphertext")
        };
        let mut point = e.value().to_vec();
        assert_eq!((point.len(), point[0], point[32] & 0x80), (33, 0x40, 0));
        point[32] |= 0x80;
        let esk = Ciphertext::ECDH {
            e: MPI::new(&point),
            key,
        };
        packets[0] = PKESK3::new(p.recipient().cloned(), p.pk_algo(), esk)
            .unwrap()
            .into();
        let mut bad = Vec::new();
        for p in &packets {
            p.serialize(&mut bad).unwrap();
        }
        let err = decrypt(&rcpt, &bad, &[]).unwrap_err();
        assert!(format!("{err:#}").contains("changed on the way"), "{err:#}");
    }

    /// The edges of a canonical X25519 point: p - 1 is one, p and anything with the top
    /// bit set are not; other curves' points are not judged.
    #[test]
    fn canonical_ephemeral_points_end_below_p() {
        let judge = |u: [u8; 32]| {
            let mut v = vec![0x40];
            v.extend_from_slice(&u);
            ecdh::canonical_ephemeral(&Ciphertext::ECDH {
                e: MPI::new(&v),
                key: vec![0; 40].into_boxed_slice(),
            })
        };
        let mut p_minus_1 = [0xff; 32];
        p_minus_1[0] = 0xec;
        p_minus_1[31] = 0x7f;
        let mut p = p_minus_1;
        p[0] = 0xed;
        let mut top = [0u8; 32];
        top[31] = 0x80;
        assert!(judge([9; 32]));
        assert!(judge(p_minus_1));
        assert!(!judge(p));
        assert!(!judge([0xff; 32]));
        assert!(!judge(top));
        let nist = Ciphertext::ECDH {
            e: MPI::new(&[4; 65]),
            key: vec![0; 40].into_boxed_slice(),
        };
        assert!(ecdh::canonical_ephemeral(&nist));
    }
}
