//! The tracker commands against real trackers (`pigeon tracker serve` on loopback).

use serde_json::Value;

use crate::harness;
use crate::users::{Relay, User};

fn card(u: &User) -> String {
    String::from_utf8(u.run(&["card"]).ok().stdout).unwrap()
}

fn fingerprint(card: &str) -> String {
    let v: Value = serde_json::from_str(card).unwrap();
    v["fingerprint"].as_str().unwrap().to_string()
}

pub struct Tracker {
    pub url: String,
    _proc: harness::Relay,
    _home: tempfile::TempDir,
}

pub fn tracker() -> Tracker {
    let home = harness::home();
    let proc = harness::Tracker::start(home.path(), &[]);
    Tracker {
        url: proc.url.clone(),
        _proc: proc,
        _home: home,
    }
}

#[test]
fn announce_lookup_relays_release_and_reclaim() {
    let r = Relay::start();
    let t = tracker();
    let (alice, bob, mallory) = (User::new(), User::new(), User::new());
    alice.keygen("alice", "age");
    alice.run(&["relay", "add", &r.url]).ok();
    let ca = card(&alice);
    bob.keygen("bob", "age");
    let tr = ["--tracker", t.url.as_str()];
    let with =
        |args: &[&str]| -> Vec<String> { args.iter().chain(&tr).map(|s| s.to_string()).collect() };
    let run = |u: &User, args: &[&str]| {
        let argv = with(args);
        u.run(&argv.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let a = run(&alice, &["tracker", "announce"]).ok().one();
    assert_eq!(
        (a["ok"].as_bool(), a["stored"].as_bool()),
        (Some(true), Some(true)),
        "{a}"
    );
    assert_eq!(a["tracker"], t.url.as_str());
    // The same card again is idempotent.
    let again = run(&alice, &["tracker", "announce"]).ok().one();
    assert_eq!(again["stored"], false);
    // By name and by fingerprint: the card exactly as alice's `pigeon card` printed it.
    for q in ["alice", &fingerprint(&ca)] {
        let out = run(&bob, &["tracker", "lookup", q]).ok();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            ca.trim(),
            "{q}"
        );
    }
    let lines = run(&bob, &["tracker", "lookup", "alice", "--add"])
        .ok()
        .json();
    assert_eq!(lines[1]["status"], "added");
    // The relay on alice's card is listed for newcomers.
    let relays = run(&bob, &["tracker", "relays"]).ok().json();
    assert!(
        relays
            .iter()
            .any(|x| x["url"] == r.url.as_str() && x["source"] == "card"),
        "{relays:?}"
    );
    // Someone else cannot claim the name while alice holds it.
    mallory.keygen("alice", "age");
    let m = run(&mallory, &["tracker", "announce"]).code(1).one();
    assert_eq!(
        (m["ok"].as_bool(), m["code"].as_str()),
        (Some(false), Some("name_taken"))
    );
    // alice gives it back; the next claimant gets it; alice's card stays by fingerprint.
    let rel = run(&alice, &["tracker", "release"]).ok().one();
    assert_eq!(rel["released"], true);
    run(&mallory, &["tracker", "announce"]).ok();
    let now = run(&bob, &["tracker", "lookup", "alice"]).ok().one();
    assert_eq!(
        now["fingerprint"].as_str(),
        Some(fingerprint(&card(&mallory)).as_str())
    );
    let old = run(&bob, &["tracker", "lookup", &fingerprint(&ca)])
        .ok()
        .one();
    assert_eq!(old["fingerprint"].as_str(), Some(fingerprint(&ca).as_str()));
    // bob pinned the first alice: the new holder of the name is a key change.
    let kc = run(&bob, &["tracker", "lookup", "alice", "--add"]).code(4);
    assert!(kc.stderr.contains("KEY CHANGE"), "{}", kc.stderr);
    assert!(kc.stdout.is_empty());
    let pinned = bob.run(&["contact", "show", "alice"]).ok().one();
    assert_eq!(
        pinned["fingerprint"].as_str(),
        Some(fingerprint(&ca).as_str())
    );
    // alice cannot release what mallory now holds: her signature is the wrong key.
    run(&alice, &["tracker", "release"]).code(4);
}

#[test]
fn two_real_trackers_the_highest_seq_wins() {
    let (t1, t2) = (tracker(), tracker());
    let (alice, bob) = (User::new(), User::new());
    alice.keygen("alice", "age");
    bob.keygen("bob", "age");
    alice
        .run(&["tracker", "announce", "--tracker", &t2.url])
        .ok();
    alice.run(&["relay", "add", "http://127.0.0.1:9"]).ok();
    let newer = card(&alice);
    alice
        .run(&["tracker", "announce", "--tracker", &t1.url])
        .ok();
    let both = format!("{},{}", t2.url, t1.url);
    let out = bob
        .cmd(&["tracker", "lookup", "alice"])
        .env("PIGEON_TRACKER", &both)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), newer.trim());
    // Announcing to both: one holds it already (200), the other stores it (201).
    let lines = bob.run(&[
        "tracker",
        "announce",
        "--tracker",
        &t1.url,
        "--tracker",
        &t2.url,
    ]);
    assert_eq!(lines.code, 0, "{}", lines.stderr);
    let lines = alice
        .run(&[
            "tracker",
            "announce",
            "--tracker",
            &t1.url,
            "--tracker",
            &t2.url,
        ])
        .ok()
        .json();
    assert_eq!(lines[0]["stored"], false);
    assert_eq!(lines[1]["stored"], true);
}
