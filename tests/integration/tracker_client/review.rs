//! Attacks found in review of the tracker client, each with the behaviour that stops it.

use serde_json::Value;

use super::real::tracker;
use crate::users::{Relay, User};

fn card(u: &User) -> String {
    String::from_utf8(u.run(&["card"]).ok().stdout).unwrap()
}

fn fingerprints(u: &User) -> Vec<String> {
    u.run(&["contact", "list"])
        .ok()
        .json()
        .iter()
        .map(|c| c["fingerprint"].as_str().unwrap().to_string())
        .collect()
}

fn fp(card: &str) -> String {
    let v: Value = serde_json::from_str(card).unwrap();
    v["fingerprint"].as_str().unwrap().to_string()
}

/// Trackers fold names by case, so a stranger holding `Alice` on a tracker where the real
/// alice never announced is found for `Alice`: bob, who pinned `alice`, must see a key
/// change, and `send --to Alice@tracker` must go to the alice he pinned.
#[test]
fn a_name_differing_only_by_case_is_the_pinned_contact_not_a_new_one() {
    let r = Relay::start();
    let t = tracker();
    let (alice, bob, mallory) = (User::new(), User::new(), User::new());
    alice.keygen("alice", "age");
    alice.run(&["relay", "add", &r.url]).ok();
    bob.keygen("bob", "age");
    bob.run(&["relay", "add", &r.url]).ok();
    let ca = card(&alice);
    bob.add_contact(&ca);
    mallory.keygen("Alice", "age");
    mallory.run(&["relay", "add", &r.url]).ok();
    mallory
        .run(&["tracker", "announce", "--tracker", &t.url])
        .ok();

    // Looking only: the stranger's card is printed, with the key change said.
    let look = bob
        .run(&["tracker", "lookup", "Alice", "--tracker", &t.url])
        .ok();
    assert!(look.stderr.contains("KEY CHANGE"), "{}", look.stderr);
    assert!(look.stderr.contains(&fp(&ca)), "{}", look.stderr);
    let kc = bob
        .run(&["tracker", "lookup", "Alice", "--add", "--tracker", &t.url])
        .code(4);
    assert!(kc.stderr.contains("KEY CHANGE"), "{}", kc.stderr);
    assert_eq!(fingerprints(&bob), [fp(&ca)], "nothing new pinned");

    bob.run(&[
        "send",
        "--to",
        "Alice@tracker",
        "--tracker",
        &t.url,
        "for alice",
    ])
    .ok();
    assert_eq!(fingerprints(&bob), [fp(&ca)], "nothing new pinned");
    let got = alice.run(&["recv"]).ok().json();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["body"], "for alice", "{got:?}");
    assert!(mallory.run(&["recv"]).ok().stdout.is_empty());
}

/// A card naming a relay both in `relays` and in `draining` means "do not post there"; the
/// sender following a move after a failed delivery must not post there either.
#[test]
fn following_a_move_never_posts_to_a_draining_relay() {
    let (mut a, b, c) = (Relay::start(), Relay::start(), Relay::start());
    let t = tracker();
    let (alice, bob) = (User::new(), User::new());
    alice.keygen("alice", "age");
    alice.run(&["relay", "add", &a.url]).ok();
    bob.keygen("bob", "age");
    bob.add_contact(&card(&alice));
    let id = pigeon::keys::Identity::load(&pigeon::home::Home::at(alice.dir.path()), None).unwrap();
    let mut moved = id.card().unwrap();
    moved.relays = vec![b.url.clone(), c.url.clone()];
    moved.draining = vec![b.url.clone()];
    moved.seq += 1;
    pigeon::keys::card::sign_card(&mut moved, &id.secret).unwrap();
    let text = serde_json::to_string(&moved).unwrap();
    let put = crate::harness::put(
        &format!("{}/v1/cards/{}", t.url, moved.fingerprint),
        text.as_bytes(),
    );
    assert_eq!(put.status, 201, "{}", put.text);
    a.stop();
    let sent = bob
        .run(&["send", "--to", "alice", "moved", "--tracker", &t.url])
        .ok()
        .one();
    let relays: Vec<&str> = sent["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["relay"].as_str().unwrap())
        .collect();
    assert_eq!(relays, [a.url.as_str(), c.url.as_str()], "{sent}");
}
