//! Identity, signature and passphrase tests.

use std::collections::HashMap;

use super::*;

pub(super) fn reload(id: &SecretIdentity) -> SecretIdentity {
    let files: HashMap<&str, Vec<u8>> = id.to_secret_files().into_iter().collect();
    SecretIdentity::from_secret_files(id.kind(), &|n| files.get(n).cloned()).unwrap()
}

#[test]
fn kind_strings_round_trip() {
    for k in [Kind::Age, Kind::Pgp] {
        assert_eq!(Kind::parse(k.as_str()), Some(k));
    }
    assert_eq!(Kind::Age.as_str(), "age");
    assert_eq!(Kind::Pgp.as_str(), "pgp");
    assert_eq!(Kind::parse("gpg"), None);
}

#[test]
fn age_identity_files_round_trip() {
    let id = SecretIdentity::generate(Kind::Age, "alice").unwrap();
    let files = id.to_secret_files();
    let names: Vec<_> = files.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["age.key", "mailbox.key"]);
    let age_key = std::str::from_utf8(&files[0].1).unwrap();
    let recipient = id.public().age_recipient().unwrap();
    assert!(recipient.starts_with("age1"));
    assert!(age_key.starts_with("# created: "));
    assert!(age_key.contains(&format!("\n# public key: {recipient}\nAGE-SECRET-KEY-1")));
    assert!(age_key.ends_with('\n'));
    let mailbox = std::str::from_utf8(&files[1].1).unwrap();
    assert_eq!(mailbox.len(), 65);
    assert!(mailbox.ends_with('\n'));

    let back = reload(&id);
    assert_eq!(back.kind(), Kind::Age);
    assert_eq!(back.fingerprint(), id.fingerprint());
    assert_eq!(back.public().age_recipient(), Some(recipient));
    assert_eq!(
        back.mailbox_signing_key().to_bytes(),
        id.mailbox_signing_key().to_bytes()
    );
    assert_eq!(id.pgp_user_name(), None);
    assert!(id.public().pgp_armored().is_none());
    // Debug output never shows secret material.
    let dbg = format!("{id:?}");
    assert_eq!(dbg, format!("SecretIdentity(age {})", id.fingerprint()));
}

#[test]
fn age_fingerprint_is_the_documented_hash() {
    use sha2::{Digest, Sha256};
    let id = SecretIdentity::generate(Kind::Age, "a").unwrap();
    let p = id.public();
    let mut h = Sha256::new();
    h.update(b"pigeon-fp-v1\n");
    h.update(p.age_recipient().unwrap().as_bytes());
    h.update(b"\n");
    h.update(p.mailbox_key());
    let want = hex::encode(&h.finalize()[..20]);
    assert_eq!(p.fingerprint(), want);
    assert_eq!(id.fingerprint(), want);
    let rebuilt = PublicIdentity::from_parts(
        Kind::Age,
        p.age_recipient().as_deref(),
        None,
        &p.mailbox_key(),
    )
    .unwrap();
    assert_eq!(rebuilt.fingerprint(), want);
}

#[test]
fn age_sign_verify() {
    let id = SecretIdentity::generate(Kind::Age, "a").unwrap();
    let other = SecretIdentity::generate(Kind::Age, "b").unwrap();
    let sig = id.sign(CARD_DOMAIN, b"card bytes").unwrap();
    assert_eq!(sig.len(), 64);
    let p = id.public();
    p.verify(CARD_DOMAIN, b"card bytes", &sig).unwrap();
    assert!(p.verify(CARD_DOMAIN, b"card bytez", &sig).is_err());
    assert!(p.verify(MSG_DOMAIN, b"card bytes", &sig).is_err());
    assert!(
        other
            .public()
            .verify(CARD_DOMAIN, b"card bytes", &sig)
            .is_err()
    );
    assert!(p.verify(CARD_DOMAIN, b"card bytes", &sig[..63]).is_err());
    // Survives a reload of the secret files.
    let sig2 = reload(&id).sign(CARD_DOMAIN, b"x").unwrap();
    p.verify(CARD_DOMAIN, b"x", &sig2).unwrap();
}

#[test]
fn pgp_identity_files_round_trip() {
    let id = SecretIdentity::generate(Kind::Pgp, "Bob").unwrap();
    assert_eq!(id.kind(), Kind::Pgp);
    let fp = id.fingerprint();
    assert_eq!(fp.len(), 40);
    assert!(
        fp.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(id.pgp_user_name().as_deref(), Some("Bob"));
    let files = id.to_secret_files();
    assert_eq!(files[0].0, "pgp.key");
    assert!(
        files[0]
            .1
            .starts_with(b"-----BEGIN PGP PRIVATE KEY BLOCK-----")
    );
    assert_eq!(files[1].0, "mailbox.key");

    let back = reload(&id);
    assert_eq!(back.kind(), Kind::Pgp);
    assert_eq!(back.fingerprint(), fp);
    assert_eq!(back.public().mailbox_key(), id.public().mailbox_key());

    let public = id.public();
    let armored = public.pgp_armored().unwrap();
    assert!(armored.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    assert!(!armored.contains("PRIVATE"));
    assert!(public.age_recipient().is_none());
    let rebuilt =
        PublicIdentity::from_parts(Kind::Pgp, None, Some(&armored), &public.mailbox_key()).unwrap();
    assert_eq!(rebuilt.fingerprint(), fp);
    // A v4 key, as GnuPG 2.2 needs.
    let cert = back.pgp_cert().unwrap();
    assert_eq!(cert.primary_key().key().version(), 4);
    assert_eq!(cert.keys().subkeys().count(), 2);
}

#[test]
fn pgp_sign_verify() {
    let id = SecretIdentity::generate(Kind::Pgp, "Bob").unwrap();
    let other = SecretIdentity::generate(Kind::Pgp, "Eve").unwrap();
    let sig = id.sign(MSG_DOMAIN, b"hello").unwrap();
    // A binary OpenPGP signature packet (tag 2), not an Ed25519 blob.
    assert_ne!(sig.len(), 64);
    assert!(sig[0] & 0x80 != 0);
    let p = id.public();
    p.verify(MSG_DOMAIN, b"hello", &sig).unwrap();
    assert!(p.verify(MSG_DOMAIN, b"hellO", &sig).is_err());
    assert!(p.verify(CARD_DOMAIN, b"hello", &sig).is_err());
    assert!(other.public().verify(MSG_DOMAIN, b"hello", &sig).is_err());
    assert!(p.verify(MSG_DOMAIN, b"hello", b"garbage").is_err());
    let sig2 = reload(&id).sign(MSG_DOMAIN, b"x").unwrap();
    p.verify(MSG_DOMAIN, b"x", &sig2).unwrap();
}

#[test]
fn from_parts_rejects_bad_input() {
    let a = SecretIdentity::generate(Kind::Age, "a").unwrap().public();
    let mk = a.mailbox_key();
    let r = a.age_recipient().unwrap();
    assert!(PublicIdentity::from_parts(Kind::Age, None, None, &mk).is_err());
    assert!(PublicIdentity::from_parts(Kind::Age, Some("age1nope"), None, &mk).is_err());
    assert!(PublicIdentity::from_parts(Kind::Pgp, Some(&r), None, &mk).is_err());
    assert!(PublicIdentity::from_parts(Kind::Pgp, None, Some("not a cert"), &mk).is_err());
    // Not a valid Ed25519 point.
    let mut bad = [0u8; 32];
    bad[0] = 2;
    bad[31] = 0x80;
    assert!(PublicIdentity::from_parts(Kind::Age, Some(&r), None, &bad).is_err());
}

#[test]
fn from_secret_files_reports_missing_and_corrupt_files() {
    let id = SecretIdentity::generate(Kind::Age, "a").unwrap();
    let files: HashMap<&str, Vec<u8>> = id.to_secret_files().into_iter().collect();
    let err = SecretIdentity::from_secret_files(Kind::Age, &|n| {
        (n != "mailbox.key").then(|| files[n].clone())
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("mailbox.key"), "{err:#}");
    let err = SecretIdentity::from_secret_files(Kind::Age, &|n| {
        Some(if n == "mailbox.key" {
            b"zz\n".to_vec()
        } else {
            files[n].clone()
        })
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("64 hex"), "{err:#}");
    assert!(SecretIdentity::from_secret_files(Kind::Pgp, &|n| files.get(n).cloned()).is_err());
}

#[test]
fn import_pgp_needs_secret_keys() {
    let id = SecretIdentity::generate(Kind::Pgp, "Bob").unwrap();
    let public = id.public().pgp_armored().unwrap();
    let err = SecretIdentity::import_pgp(public.as_bytes(), None).unwrap_err();
    assert!(format!("{err:#}").contains("export-secret-keys"), "{err:#}");
    // An unprotected TSK imports without a passphrase and keeps its fingerprint.
    let tsk = &id.to_secret_files()[0].1;
    let imported = SecretIdentity::import_pgp(tsk, None).unwrap();
    assert_eq!(imported.fingerprint(), id.fingerprint());
    // ... with a fresh mailbox key.
    assert_ne!(imported.public().mailbox_key(), id.public().mailbox_key());
}

#[test]
fn protect_round_trip_and_wrong_passphrase() {
    let secret = b"AGE-SECRET-KEY-1SOMETHING\n";
    let boxed = protect(secret, "correct horse").unwrap();
    assert!(boxed.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(is_protected(&boxed));
    assert!(!is_protected(secret));
    assert!(!is_protected(b""));
    assert_eq!(unprotect(&boxed, "correct horse").unwrap(), secret);
    let err = unprotect(&boxed, "wrong horse").unwrap_err();
    assert!(format!("{err:#}").contains("wrong passphrase"), "{err:#}");
    assert!(unprotect(secret, "correct horse").is_err());
    assert!(protect(secret, "").is_err());
}

#[test]
fn a_cert_that_cannot_be_written_back_is_refused_not_a_later_panic() {
    // Found by the cert_import fuzz target: sequoia parses this cert but cannot serialize it
    // again ("Unknown kind of fingerprint"), so `pigeon card` would have panicked on it.
    let input = include_bytes!(
        "../../fuzz/regressions/cert_import/unserializable-fingerprint-subpacket.bin"
    );
    let text = std::str::from_utf8(&input[1..]).unwrap(); // byte 0 is the target's mode
    let mailbox = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
        .verifying_key()
        .to_bytes();
    let r = PublicIdentity::from_parts(Kind::Pgp, None, Some(text), &mailbox);
    let err = match r {
        Ok(p) => panic!("accepted, and armored as {:?}", p.pgp_armored()),
        Err(e) => e,
    };
    assert!(
        format!("{err:#}").contains("cannot write back out"),
        "{err:#}"
    );
}
