//! Inner messages: what `message::unseal` does with a decrypted plaintext. The first byte picks
//!
//! - 0 (even): the input is the whole plaintext (a pigeon frame with its padding, or anything
//!   else), age-encrypted to the fixed receiver: frame parsing, the sender's card check and the
//!   signature check run on it;
//! - 1 (odd): the input is the inner message JSON, signed and sealed properly by the fixed
//!   sender (a real frame with real padding): the checks after the signature run on it.
//!
//! Whatever comes back as a verified pigeon message is from the card's key, addressed to the
//! receiver and has a well-formed id; a plaintext that is not from the sealed frame never
//! verifies.
#![no_main]

use std::io::Write;
use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use pigeon::message::{self, Unsealed};
use pigeon::wire::{self, Inner};
use pigeon_fuzz::{fixture, mode};

fn age_encrypt(to: &str, plaintext: &[u8]) -> Vec<u8> {
    let r = age::x25519::Recipient::from_str(to).unwrap();
    let e = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = e.wrap_output(&mut out).unwrap();
    w.write_all(plaintext).unwrap();
    w.finish().unwrap();
    out
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let me = &f.me_age;
    let (m, data) = mode(data);
    if m % 2 == 0 {
        let ct = age_encrypt(&me.secret.public().age_recipient().unwrap(), data);
        match message::unseal(me, &[], &ct) {
            Ok(Unsealed::Pigeon(_)) => {
                panic!("a frame nobody signed verified")
            }
            Ok(Unsealed::Foreign { plaintext, signer }) => {
                assert_eq!(plaintext, data);
                assert_eq!(signer, None);
            }
            Err(_) => {}
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let publics = [me.secret.public()];
    let refs: Vec<_> = publics.iter().collect();
    let sender = &f.sender_age;
    let Ok(sealed) = pigeon::crypto::seal(
        &sender.secret,
        &refs,
        text.as_bytes(),
        &f.sender_age_card,
        false,
    ) else {
        return;
    };
    match message::unseal(me, &[], &sealed[0].ciphertext) {
        Ok(Unsealed::Pigeon(v)) => {
            assert_eq!(v.inner.from, sender.meta.fingerprint);
            assert!(v.inner.to.contains(&me.meta.fingerprint));
            assert!(wire::is_message_id(&v.inner.id));
            let parsed: Inner = serde_json::from_slice(data).expect("it verified, so it parses");
            assert_eq!(v.inner, parsed);
        }
        Ok(Unsealed::Foreign { .. }) => panic!("a sealed pigeon frame opened as foreign"),
        Err(_) => {}
    }
});
