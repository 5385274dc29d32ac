//! age input to open/decrypt: arbitrary bytes as ciphertext for a fixed age identity
//! (`crypto::open`, as `recv` and `pigeon open` call it). Never a panic; what opens is no
//! larger than the plaintext cap; a pigeon frame that opens is only one we sealed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pigeon::crypto::{MAX_PLAINTEXT, Opened, open};
use pigeon_fuzz::fixture;

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    match open(&f.me_age.secret, data, &[]) {
        Ok(Opened::Foreign { plaintext, signer }) => {
            assert!(plaintext.len() <= data.len() && plaintext.len() <= MAX_PLAINTEXT);
            assert_eq!(signer, None, "age carries no signatures");
        }
        Ok(Opened::Pigeon { .. }) | Err(_) => {}
    }
    // The other kind of identity refuses it without trying.
    let _ = open(&f.me_pgp.secret, data, &[]);
    let _ = pigeon::crypto::is_protected(data);
});
