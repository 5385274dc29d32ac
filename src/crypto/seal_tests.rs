//! seal/open tests across kinds.

use super::seal::{bucket, decrypt_raw};
use super::*;

const INNER: &[u8] = br#"{"v":1,"id":"00ff","body":"hi \"there\" \u00e9"}"#;
const CARD: &[u8] = br#"{"v":1,"name":"sender"}"#;

fn ids() -> (
    SecretIdentity,
    SecretIdentity,
    SecretIdentity,
    SecretIdentity,
) {
    (
        SecretIdentity::generate(Kind::Age, "a1").unwrap(),
        SecretIdentity::generate(Kind::Age, "a2").unwrap(),
        SecretIdentity::generate(Kind::Pgp, "P1").unwrap(),
        SecretIdentity::generate(Kind::Pgp, "P2").unwrap(),
    )
}

/// Opens `ct` as `to` and checks it is the pigeon frame from `from`, with a valid signature.
fn expect_frame(to: &SecretIdentity, from: &SecretIdentity, ct: &[u8], inner: &[u8]) {
    match open(to, ct, &[from.public()]).unwrap() {
        Opened::Pigeon {
            inner: i,
            card,
            sig,
        } => {
            assert_eq!(i, inner);
            assert_eq!(card, CARD);
            from.public().verify(MSG_DOMAIN, &i, &sig).unwrap();
        }
        other => panic!("expected a pigeon frame, got {other:?}"),
    }
    let (frame, _) = decrypt_raw(to, ct, &[]).unwrap();
    assert_eq!(
        frame.len(),
        bucket(frame.len()),
        "frame is not a size bucket"
    );
    assert!(frame.len() >= 512);
}

fn seal_one(from: &SecretIdentity, to: &SecretIdentity, armor: bool) -> Vec<u8> {
    let sealed = seal(from, &[&to.public()], INNER, CARD, armor).unwrap();
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].kind, to.kind());
    assert_eq!(sealed[0].recipients, vec![0]);
    sealed.into_iter().next().unwrap().ciphertext
}

#[test]
fn round_trips_all_kind_pairs_armored_and_binary() {
    let (a1, a2, p1, p2) = ids();
    for armor in [false, true] {
        for (from, to) in [(&a1, &a2), (&p1, &p2), (&a1, &p1), (&p1, &a1)] {
            let ct = seal_one(from, to, armor);
            let armored = ct.starts_with(b"-----BEGIN ");
            assert_eq!(armored, armor, "{:?}->{:?}", from.kind(), to.kind());
            if to.kind() == Kind::Age && !armor {
                assert!(ct.starts_with(b"age-encryption.org/v1\n"));
            }
            if to.kind() == Kind::Pgp && armor {
                assert!(ct.starts_with(b"-----BEGIN PGP MESSAGE-----"));
            }
            expect_frame(to, from, &ct, INNER);
            // Nobody else can open it.
            for third in [&a1, &a2, &p1, &p2] {
                if third.fingerprint() != to.fingerprint() {
                    assert!(open(third, &ct, &[]).is_err());
                }
            }
        }
    }
}

#[test]
fn pgp_sender_signs_the_openpgp_message_and_age_sender_does_not() {
    let (a1, _, p1, p2) = ids();
    let ct = seal_one(&p1, &p2, true);
    let (_, signer) = decrypt_raw(&p2, &ct, &[p1.public()]).unwrap();
    assert_eq!(signer, Some(p1.fingerprint()));
    let (_, signer) = decrypt_raw(&p2, &ct, &[]).unwrap();
    assert_eq!(signer, None);
    let ct = seal_one(&a1, &p2, true);
    let (_, signer) = decrypt_raw(&p2, &ct, &[p1.public()]).unwrap();
    assert_eq!(signer, None);
}

#[test]
fn mixed_recipients_make_one_ciphertext_per_kind() {
    let (a1, a2, p1, p2) = ids();
    let a3 = SecretIdentity::generate(Kind::Age, "a3").unwrap();
    let recipients = [a2.public(), p2.public(), a3.public(), p1.public()];
    let refs: Vec<&PublicIdentity> = recipients.iter().collect();
    let sealed = seal(&a1, &refs, INNER, CARD, false).unwrap();
    assert_eq!(sealed.len(), 2);
    let age = sealed.iter().find(|s| s.kind == Kind::Age).unwrap();
    let pgp = sealed.iter().find(|s| s.kind == Kind::Pgp).unwrap();
    assert_eq!(age.recipients, vec![0, 2]);
    assert_eq!(pgp.recipients, vec![1, 3]);
    expect_frame(&a2, &a1, &age.ciphertext, INNER);
    expect_frame(&a3, &a1, &age.ciphertext, INNER);
    expect_frame(&p2, &a1, &pgp.ciphertext, INNER);
    expect_frame(&p1, &a1, &pgp.ciphertext, INNER);
    assert!(open(&p2, &age.ciphertext, &[]).is_err());
    assert!(open(&a2, &pgp.ciphertext, &[]).is_err());
    assert!(seal(&a1, &[], INNER, CARD, false).is_err());
}

#[test]
fn frame_sizes_are_buckets() {
    let (a1, a2, p1, p2) = ids();
    for n in [0usize, 600, 3000, 70_000, (1 << 20) + 10] {
        let inner = format!(r#"{{"body":"{}"}}"#, "x".repeat(n));
        for (from, to) in [(&a1, &a2), (&p1, &p2)] {
            let sealed = seal(from, &[&to.public()], inner.as_bytes(), CARD, false).unwrap();
            let (frame, _) = decrypt_raw(to, &sealed[0].ciphertext, &[]).unwrap();
            let len = frame.len();
            assert!(len > inner.len());
            // Padding is minimal: without the pad the frame would fit no smaller bucket.
            let v: serde_json::Value = serde_json::from_slice(&frame).unwrap();
            let pad = v["pad"].as_str().unwrap();
            assert!(pad.bytes().all(|b| b == b' '));
            assert_eq!(bucket(len - pad.len()), len);
            assert_eq!(v["msg"].as_str().unwrap().as_bytes(), inner.as_bytes());
            assert_eq!(len, bucket(len), "{len} is not a bucket");
            if len <= 1 << 20 {
                assert!(len.is_power_of_two());
            } else {
                assert_eq!(len % (1 << 20), 0);
            }
        }
    }
}

#[test]
fn tampering_is_detected() {
    let (a1, a2, p1, p2) = ids();
    for armor in [false, true] {
        for (from, to) in [(&a1, &a2), (&p1, &p2), (&a1, &p2)] {
            let ct = seal_one(from, to, armor);
            // Flip one byte in the body (skip armor headers and the age header).
            for pos in [ct.len() / 2, ct.len() - 40] {
                let mut bad = ct.clone();
                bad[pos] ^= if armor { 0x01 } else { 0x55 };
                if bad == ct {
                    continue;
                }
                assert!(
                    open(to, &bad, &[from.public()]).is_err(),
                    "tampered byte {pos} of {} accepted ({:?}->{:?}, armor {armor})",
                    ct.len(),
                    from.kind(),
                    to.kind()
                );
            }
        }
    }
}

#[test]
fn forged_frame_signature_does_not_verify() {
    // The in-frame signature binds the inner bytes: another inner message fails verification.
    let (a1, a2, _, _) = ids();
    let ct = seal_one(&a1, &a2, false);
    let Opened::Pigeon { sig, .. } = open(&a2, &ct, &[]).unwrap() else {
        panic!("not a frame");
    };
    assert!(a1.public().verify(MSG_DOMAIN, b"{}", &sig).is_err());
}

#[test]
fn garbage_is_not_openable() {
    let (a1, _, p1, _) = ids();
    for data in [&b""[..], b"hello world", b"{\"pigeon\":1}"] {
        assert!(open(&a1, data, &[]).is_err());
        assert!(open(&p1, data, &[]).is_err());
    }
}

#[test]
fn a_stanza_guess_is_tried_first_and_a_wrong_one_still_opens() {
    let from = SecretIdentity::generate(Kind::Age, "s").unwrap();
    let many: Vec<SecretIdentity> = (0..6)
        .map(|i| SecretIdentity::generate(Kind::Age, &format!("m{i}")).unwrap())
        .collect();
    let publics: Vec<PublicIdentity> = many.iter().map(|m| m.public()).collect();
    let refs: Vec<&PublicIdentity> = publics.iter().collect();
    let sealed = seal(&from, &refs, INNER, CARD, false).unwrap();
    assert_eq!(sealed.len(), 1, "sealed once for all six");
    let ct = &sealed[0].ciphertext;
    for (i, m) in many.iter().enumerate() {
        for guess in [i, (i + 1) % 6] {
            let order = StanzaOrder::from([(6, vec![guess]), (5, vec![0])]);
            match open_ordered(m, ct, &[], MAX_PLAINTEXT, &order).unwrap() {
                Opened::Pigeon { inner, .. } => assert_eq!(inner, INNER),
                other => panic!("{other:?}"),
            }
        }
    }
    let outsider = SecretIdentity::generate(Kind::Age, "x").unwrap();
    let order = StanzaOrder::from([(6, vec![0, 1, 2, 9])]);
    assert!(open_ordered(&outsider, ct, &[], MAX_PLAINTEXT, &order).is_err());
}

/// An identity that counts the stanzas it tries (each one is an X25519 agreement).
struct Counting<'a>(&'a age::x25519::Identity, std::cell::Cell<usize>);

impl age::Identity for Counting<'_> {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        self.1.set(self.1.get() + 1);
        self.0.unwrap_stanza(stanza)
    }
}

#[test]
fn a_right_stanza_guess_costs_one_agreement_whatever_grease_the_header_ends_with() {
    let from = SecretIdentity::generate(Kind::Age, "s").unwrap();
    let many: Vec<SecretIdentity> = (0..6)
        .map(|i| SecretIdentity::generate(Kind::Age, &format!("m{i}")).unwrap())
        .collect();
    let publics: Vec<PublicIdentity> = many.iter().map(|m| m.public()).collect();
    let refs: Vec<&PublicIdentity> = publics.iter().collect();
    let ct = &seal(&from, &refs, INNER, CARD, false).unwrap()[0].ciphertext;
    for (i, m) in many.iter().enumerate() {
        let counting = Counting(m.age_identity().unwrap(), std::cell::Cell::new(0));
        let order = StanzaOrder::from([(6, vec![i])]);
        let first = super::age_kind::FirstTry {
            id: &counting,
            first: &order,
        };
        super::age_kind::decrypt_limited(&first, ct, MAX_PLAINTEXT).unwrap();
        assert_eq!(counting.1.get(), 1, "member {i} tried only its own stanza");
    }
}
