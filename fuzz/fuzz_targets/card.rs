//! Cards: JSON parse and the whole check (`keys::card::verify_card_json`, the pinned variant),
//! on arbitrary bytes. And the sign -> verify path on arbitrary field values: a card built from
//! the input's fields, keyed and signed by a fixed identity, verifies and comes back equal,
//! and a changed signature byte or field is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pigeon::keys::card::{sign_card, verify_card_json, verify_pinned_card};
use pigeon::wire::{self, Card};
use pigeon_fuzz::fixture;

fuzz_target!(|data: &[u8]| {
    let verified = verify_card_json(data);
    if let Ok((card, public)) = &verified {
        assert_eq!(public.fingerprint(), card.fingerprint);
        assert_eq!(wire::mailbox_id(&public.mailbox_key()), card.mailbox);
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let pinned = verify_pinned_card(&value);
        // Anything that verifies also verifies when expiry is not checked.
        if verified.is_ok() {
            assert!(pinned.is_ok());
        }
    }

    let Ok(mut card) = serde_json::from_slice::<Card>(data) else {
        return;
    };
    let f = fixture();
    let id = if card.kind == "pgp" {
        &f.sender_pgp
    } else {
        &f.sender_age
    };
    let public = id.secret.public();
    card.type_ = "card".into();
    card.kind = id.meta.kind.clone();
    card.fingerprint = public.fingerprint();
    card.age = public.age_recipient();
    card.pgp = public.pgp_armored();
    card.mailbox_key = hex::encode(public.mailbox_key());
    card.mailbox = id.meta.mailbox.clone();
    card.expires = None;
    sign_card(&mut card, &id.secret).expect("signing a card");
    let bytes = serde_json::to_vec(&card).unwrap();
    if let Ok((back, _)) = verify_card_json(&bytes) {
        assert_eq!(back, card, "a verified card comes back as signed");
    }
    // A changed field is refused.
    let mut forged = card.clone();
    forged.seq = forged.seq.wrapping_add(1);
    let bytes = serde_json::to_vec(&forged).unwrap();
    assert!(
        verify_card_json(&bytes).is_err(),
        "a card with a changed seq verified"
    );
});
