//! OpenPGP input to open/decrypt: `crypto::open` for a fixed pgp identity, with the sender's
//! cert known (so signatures are checked). The first byte picks
//!
//! - anything but 0: the input is the whole message as it arrives (armored or binary packets;
//!   no OpenPGP message starts with a zero byte);
//! - 0: the rest is the packet stream *inside* the encryption, encrypted properly to the
//!   identity (SEIPDv1), so the parser of what only the recipient sees is reached too.
//!
//! Never a panic, never more than the plaintext cap (compression bombs are cut off), and an
//! unencrypted message never opens.
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pigeon::crypto::{MAX_PLAINTEXT, Opened, open};
use pigeon_fuzz::{fixture, mode};
use sequoia_openpgp as openpgp;

use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Encryptor, Message, Recipient};
use openpgp::types::Features;

fn me_cert() -> &'static openpgp::Cert {
    static C: OnceLock<openpgp::Cert> = OnceLock::new();
    C.get_or_init(|| {
        let armored = fixture().me_pgp.secret.public().pgp_armored().unwrap();
        openpgp::Cert::from_bytes(armored.as_bytes()).unwrap()
    })
}

fn encrypt_packets(packets: &[u8]) -> Vec<u8> {
    let policy = StandardPolicy::new();
    let vc = me_cert().with_policy(&policy, None).unwrap();
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

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let known = f.known_pgp();
    let (m, rest) = mode(data);
    let wrapped = !data.is_empty() && m == 0;
    let ct = if wrapped {
        encrypt_packets(rest)
    } else {
        data.to_vec()
    };
    match open(&f.me_pgp.secret, &ct, &known) {
        Ok(Opened::Foreign { plaintext, .. }) => assert!(plaintext.len() <= MAX_PLAINTEXT),
        Ok(Opened::Pigeon { inner, card, .. }) => {
            assert!(inner.len() + card.len() <= MAX_PLAINTEXT)
        }
        Err(_) => {}
    }
    if !wrapped {
        // The age identity refuses it without trying.
        let _ = open(&f.me_age.secret, data, &[]);
    }
});
