//! Trackers with `--peer` mirror each other's cards; a hostile peer cannot inject any.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use serde_json::json;

use super::{T, card_json, fingerprint, person};
use crate::harness::eventually;

#[test]
fn a_card_published_to_one_tracker_is_found_on_its_peer() {
    let a = T::start(&[]);
    // b pulls a every second and pushes what it stores to a.
    let b = T::start(&["--peer", &a.proc.url, "--pull-interval", "1s"]);
    assert_eq!(b.get("/v1/info").body["peers"], json!([a.proc.url]));

    let (_alice, alice) = person("alice", "age");
    assert_eq!(a.publish(&alice).status, 201);
    let path = format!("/v1/cards/{}", fingerprint(&alice));
    assert!(
        eventually(Duration::from_secs(20), || b.get(&path).status == 200),
        "b pulled alice's card from a; b's log:\n{}",
        b.proc.stderr()
    );
    assert_eq!(b.get(&path).text, alice.trim(), "mirrored byte for byte");
    assert_eq!(b.get("/v1/names/alice").text, alice.trim());

    // A card published to b is pushed to a (a has no --peer: only b's push brings it).
    let (_bob, bob) = person("bob", "pgp");
    assert_eq!(b.publish(&bob).status, 201);
    let path = format!("/v1/cards/{}", fingerprint(&bob));
    assert!(
        eventually(Duration::from_secs(20), || a.get(&path).status == 200),
        "b pushed bob's card to a; b's log:\n{}",
        b.proc.stderr()
    );
    assert_eq!(a.get(&path).text, bob.trim());
}

/// A fake tracker that answers every request with `body`: the adversary of the test.
fn hostile_peer(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut sink = vec![0; len];
            let _ = reader.read_exact(&mut sink);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn a_peer_serving_forged_cards_changes_nothing() {
    let (_alice, alice) = person("alice", "age");
    let (_bob, bob) = person("bob", "age");
    let (_carol, carol) = person("carol", "age");
    // The peer serves alice's card with its relays changed and a higher seq (forged), a
    // card claiming the name "carol" with bob's keys but carol's signature (forged), and
    // bob's genuine card, which proves the pull happened.
    let mut forged = card_json(&alice);
    forged["relays"] = json!(["http://evil.example:7447"]);
    forged["seq"] = json!(forged["seq"].as_u64().unwrap() + 10);
    let mut swapped = card_json(&carol);
    let b = card_json(&bob);
    for k in ["fingerprint", "age", "mailbox_key", "mailbox"] {
        swapped[k] = b[k].clone();
    }
    let page = format!(
        r#"{{"v":1,"cards":[{forged},{swapped},{}],"next":3}}"#,
        bob.trim()
    );
    let peer = hostile_peer(page);

    let t = T::start(&["--peer", &peer, "--pull-interval", "1s"]);
    assert_eq!(t.publish(&alice).status, 201);
    let bob_path = format!("/v1/cards/{}", fingerprint(&bob));
    assert!(
        eventually(Duration::from_secs(20), || t.get(&bob_path).status == 200),
        "the genuine card came through; log:\n{}",
        t.proc.stderr()
    );
    assert_eq!(t.get(&bob_path).text, bob.trim());
    let held = t.get(&format!("/v1/cards/{}", fingerprint(&alice)));
    assert_eq!(held.text, alice.trim(), "alice's card is hers, unchanged");
    assert_eq!(
        t.get("/v1/names/carol").status,
        404,
        "no forged claim to carol"
    );
    assert_eq!(t.get("/v1/names/bob").text, bob.trim());
    let m = t.get("/metrics").text;
    assert!(m.contains("pigeon_tracker_mirrored_total 1"), "{m}");
}

#[test]
fn a_tracker_mounted_in_a_relay_mirrors_its_peer_too() {
    let a = T::start(&[]);
    let (_alice, alice) = person("alice", "age");
    assert_eq!(a.publish(&alice).status, 201);
    let home = crate::harness::home();
    let relay = crate::harness::Relay::start(home.path(), &["--tracker", "--peer", &a.proc.url]);
    let path = format!("{}/v1/cards/{}", relay.url, fingerprint(&alice));
    assert!(
        eventually(Duration::from_secs(20), || {
            crate::harness::reply(crate::harness::agent().get(&path).call()).status == 200
        }),
        "the mounted tracker pulled alice's card at start; its log:\n{}",
        relay.stderr()
    );
    // --peer without --tracker is a usage error, not a flag silently ignored.
    let out = crate::harness::run(home.path(), &["serve", "--peer", &a.proc.url]);
    assert_eq!(out.status.code(), Some(2));
}
