//! Certificates and keys to import: arbitrary bytes as an OpenPGP transferable secret key
//! (`SecretIdentity::import_pgp`, as `keygen --import` reads it), as the OpenPGP certificate
//! of a card (`PublicIdentity::from_parts`, which `verify_card` calls), and as an age
//! recipient. A certificate that is accepted exports and re-imports to the same fingerprint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pigeon::crypto::{Kind, PublicIdentity, SecretIdentity};
use pigeon_fuzz::mode;

/// A valid Ed25519 public key (of the all-sevens seed) for the mailbox part.
fn mailbox() -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
        .verifying_key()
        .to_bytes()
}

fuzz_target!(|data: &[u8]| {
    let (m, rest) = mode(data);
    if m % 2 == 0 {
        if let Ok(id) = SecretIdentity::import_pgp(rest, Some("fuzz")) {
            assert_eq!(id.kind(), Kind::Pgp);
            let fp = id.fingerprint();
            assert_eq!(id.public().fingerprint(), fp);
            let signed = id.sign(b"d", b"m").expect("an imported key can sign");
            id.public().verify(b"d", b"m", &signed).expect("and verify");
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if let Ok(p) = PublicIdentity::from_parts(Kind::Pgp, None, Some(text), &mailbox()) {
        let armored = p.pgp_armored().expect("a pgp identity has a cert");
        let again = PublicIdentity::from_parts(Kind::Pgp, None, Some(&armored), &mailbox())
            .expect("an accepted cert re-imports");
        assert_eq!(again.fingerprint(), p.fingerprint());
    }
    if let Ok(p) = PublicIdentity::from_parts(Kind::Age, Some(text), None, &mailbox()) {
        let r = p.age_recipient().unwrap();
        let again = PublicIdentity::from_parts(Kind::Age, Some(&r), None, &mailbox()).unwrap();
        assert_eq!(again.fingerprint(), p.fingerprint());
    }
});
