//! Relay API bodies and envelopes, parsed as the relay parses a post (`Envelope`) and a batch
//! (`BatchRequest`), and the replies a client parses from a relay it does not trust. Each
//! type that parses survives serialise -> parse unchanged; the relay's checks of an id, a
//! mailbox and a payload never panic and agree with each other.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use pigeon::wire::{self, *};
use pigeon_fuzz::round_trip;

fn check_envelope(e: &Envelope) {
    // What `routes::decode_envelope` does with it.
    let mut id = [0u8; 16];
    if wire::is_message_id(&e.id) {
        hex::decode_to_slice(&e.id, &mut id).expect("a message id is hex");
    }
    if let Ok(p) = base64::engine::general_purpose::STANDARD.decode(e.payload.as_bytes()) {
        assert!(p.len() <= e.payload.len());
    }
}

fn check_mailbox(m: &str) {
    let mut h = [0u8; 32];
    if wire::is_mailbox_id(m) {
        hex::decode_to_slice(m, &mut h).expect("a mailbox id is hex");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(e) = round_trip::<Envelope>(data) {
        check_envelope(&e);
    }
    if let Some(b) = round_trip::<BatchRequest>(data) {
        for item in &b.items {
            check_mailbox(&item.mailbox);
            check_envelope(&item.envelope);
        }
    }
    // What a client reads back from a relay.
    if let Some(f) = round_trip::<FetchReply>(data) {
        for e in &f.envelopes {
            let _ = wire::is_message_id(&e.id);
            let _ = base64::engine::general_purpose::STANDARD.decode(e.payload.as_bytes());
        }
    }
    round_trip::<PostReply>(data);
    round_trip::<BatchReply>(data);
    round_trip::<DeleteReply>(data);
    round_trip::<ErrorReply>(data);
    round_trip::<RelayInfo>(data);
    round_trip::<Card>(data);
    round_trip::<Inner>(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let a = wire::url_authority(s);
        assert!(!a.contains(['/', '?', '#']), "{a:?}");
        check_mailbox(s);
    }
});
