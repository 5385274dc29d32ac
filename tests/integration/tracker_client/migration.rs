//! Moving an identity to another relay with nobody doing anything by hand: the card lists
//! the old relay as draining, senders follow the newer card (by age, or at once when a
//! delivery fails), and the owner keeps reading the old relay until it is empty.

use serde_json::Value;

use super::fake::FakeTracker;
use crate::users::{Relay, User};

fn card(u: &User) -> String {
    String::from_utf8(u.run(&["card"]).ok().stdout).unwrap()
}

fn bodies(u: &User) -> (i32, Vec<String>, String) {
    let r = u.run(&["recv"]);
    let b = r
        .json()
        .iter()
        .filter(|m| m["type"] == "message")
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    (r.code, b, r.stderr)
}

/// (relay, ok) of each delivery of a `sent` line.
fn deliveries(sent: &Value) -> Vec<(String, bool)> {
    sent["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["relay"].as_str().unwrap().to_string(), d["ok"] == true))
        .collect()
}

/// alice on relay `a`, bob (no relay needed to send) with alice pinned.
fn alice_and_bob(a: &Relay) -> (User, User) {
    let (alice, bob) = (User::new(), User::new());
    alice.keygen("alice", "age");
    alice.run(&["relay", "add", &a.url]).ok();
    bob.keygen("bob", "age");
    bob.add_contact(&card(&alice));
    (alice, bob)
}

/// alice adds `b` and drains `a`; returns her new card.
fn move_to(alice: &User, a: &Relay, b: &Relay) -> String {
    alice.run(&["relay", "add", &b.url]).ok();
    let r = alice.run(&["relay", "remove", &a.url]).ok().one();
    assert_eq!(r["status"], "draining");
    let c = card(alice);
    let v: Value = serde_json::from_str(&c).unwrap();
    assert_eq!(v["relays"], serde_json::json!([b.url]));
    assert_eq!(v["draining"], serde_json::json!([a.url]));
    c
}

#[test]
fn a_failed_delivery_makes_the_sender_follow_the_move_and_nothing_is_lost() {
    let (mut a, b) = (Relay::start(), Relay::start());
    let (alice, bob) = alice_and_bob(&a);
    let t = super::real::tracker();
    alice
        .run(&["tracker", "announce", "--tracker", &t.url])
        .ok();
    // m1 goes to A, before the move.
    let m1 = bob
        .run(&["send", "--to", "alice", "m1", "--tracker", &t.url])
        .ok()
        .one();
    assert_eq!(deliveries(&m1), vec![(a.url.clone(), true)]);
    move_to(&alice, &a, &b);
    alice
        .run(&["tracker", "announce", "--tracker", &t.url])
        .ok();
    // alice still reads A (draining) and gets m1 from it; then A goes away for good.
    let (code, got, err) = bodies(&alice);
    assert_eq!((code, got), (0, vec!["m1".to_string()]), "{err}");
    a.stop();
    // bob's pinned card still says A: the delivery fails, he fetches alice's card at once
    // and reaches B in the same run.
    let r = bob
        .run(&["send", "--to", "alice", "m2", "--tracker", &t.url])
        .ok();
    let m2 = r.one();
    let d = &m2["deliveries"];
    assert_eq!(d.as_array().unwrap().len(), 2, "{m2}");
    assert_eq!(
        (d[0]["relay"].as_str(), d[0]["ok"].as_bool()),
        (Some(a.url.as_str()), Some(false))
    );
    assert_eq!(d[0]["moved"], true);
    assert_eq!(d[0]["queued"], false);
    assert_eq!(
        (d[1]["relay"].as_str(), d[1]["ok"].as_bool()),
        (Some(b.url.as_str()), Some(true))
    );
    assert!(r.stderr.contains("refreshed"), "{}", r.stderr);
    let pinned = bob.run(&["contact", "show", "alice"]).ok().one();
    assert_eq!(pinned["relays"], serde_json::json!([b.url]));
    // Nothing is left for the dead relay.
    let retry = bob.run(&["send", "--retry"]).ok();
    assert!(
        retry.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&retry.stdout)
    );
    // alice gets m2 from B; A (down, still draining) makes it partial.
    let (code, got, err) = bodies(&alice);
    assert_eq!(got, vec!["m2".to_string()], "{err}");
    assert_eq!(code, 6, "{err}");
    assert!(err.contains(&a.url), "{err}");
}

#[test]
fn a_stale_pinned_card_is_refreshed_by_age_before_sending() {
    let (a, b) = (Relay::start(), Relay::start());
    let (alice, bob) = alice_and_bob(&a);
    move_to(&alice, &a, &b);
    let t = super::real::tracker();
    alice
        .run(&["tracker", "announce", "--tracker", &t.url])
        .ok();
    std::fs::write(
        bob.path("config.toml"),
        format!(
            "[tracker]\nurls = [\"{}\"]\nrefresh_after = \"1d\"\n",
            t.url
        ),
    )
    .unwrap();
    // A card pinned just now is fresh: not fetched again, so the message goes to A.
    let m1 = bob.run(&["send", "--to", "alice", "m1"]).ok().one();
    assert_eq!(deliveries(&m1), vec![(a.url.clone(), true)]);
    let pinned_seq = || bob.run(&["contact", "show", "alice"]).ok().one()["seq"].clone();
    let before = pinned_seq();
    // Two days later (as far as the contact file knows) it is due: fetched first, and the
    // message goes to B only, never to the draining A.
    let fp = bob.run(&["contact", "show", "alice"]).ok().one()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let path = bob.path(&format!("contacts/{fp}.json"));
    let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let old = pigeon::wire::now() - 2 * 86_400;
    c["updated"] = old.into();
    c["refreshed"] = old.into();
    std::fs::write(&path, serde_json::to_vec(&c).unwrap()).unwrap();
    let m2 = bob.run(&["send", "--to", "alice", "m2"]).ok().one();
    assert_eq!(deliveries(&m2), vec![(b.url.clone(), true)]);
    assert!(pinned_seq().as_u64() > before.as_u64());
    let c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(
        c["refreshed"].as_u64().unwrap() > old,
        "the refresh time is recorded"
    );
    bob.run(&["send", "--to", "alice", "m3"]).ok();
    let (code, mut got, err) = bodies(&alice);
    got.sort();
    assert_eq!(
        (code, got),
        (0, vec!["m1".into(), "m2".into(), "m3".into()]),
        "{err}"
    );
}

#[test]
fn a_draining_relay_is_read_then_dropped_once_empty_and_old_enough() {
    let (a, b) = (Relay::start(), Relay::start());
    let (alice, old_bob) = alice_and_bob(&a);
    move_to(&alice, &a, &b);
    let list = alice.run(&["relay", "list"]).ok().json();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["url"], a.url.as_str());
    assert_eq!(list[1]["draining"], true);
    // A sender who pinned the new card never posts to the draining relay.
    let new_bob = User::new();
    new_bob.keygen("bob2", "age");
    new_bob.add_contact(&card(&alice));
    let sent = new_bob.run(&["send", "--to", "alice", "new"]).ok().one();
    assert_eq!(deliveries(&sent), vec![(b.url.clone(), true)]);
    // One with the old card still reaches alice through it.
    old_bob.run(&["send", "--to", "alice", "old"]).ok();
    let (code, mut got, err) = bodies(&alice);
    got.sort();
    assert_eq!((code, got), (0, vec!["new".into(), "old".into()]), "{err}");
    // Draining for less than drain_for (14 days by default): kept though empty.
    assert_eq!(alice.run(&["relay", "list"]).ok().json().len(), 2);
    std::fs::write(alice.path("config.toml"), "[recv]\ndrain_for = \"0s\"\n").unwrap();
    // What waits there is read first; then, empty, it leaves the card.
    old_bob.run(&["send", "--to", "alice", "late"]).ok();
    let (code, got, err) = bodies(&alice);
    assert_eq!((code, got), (0, vec!["late".to_string()]), "{err}");
    assert!(err.contains("drained") && err.contains(&a.url), "{err}");
    let list = alice.run(&["relay", "list"]).ok().json();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["url"], b.url.as_str());
    let v: Value = serde_json::from_str(&card(&alice)).unwrap();
    assert!(v.get("draining").is_none(), "{v}");
    // --now drops a relay at once.
    alice.run(&["relay", "add", &a.url]).ok();
    let r = alice.run(&["relay", "remove", "--now", &a.url]).ok().one();
    assert_eq!(r["status"], "removed");
    assert_eq!(alice.run(&["relay", "list"]).ok().json().len(), 1);
}

#[test]
fn send_to_name_at_tracker_looks_up_pins_and_delivers() {
    let a = Relay::start();
    let (alice, bob) = (User::new(), User::new());
    alice.keygen("alice", "age");
    alice.run(&["relay", "add", &a.url]).ok();
    bob.keygen("bob", "age");
    let t = FakeTracker::start(b"");
    // Unknown, and no tracker knows her: exit 5, nothing sent.
    bob.run(&["send", "--to", "alice@tracker", "x", "--tracker", &t.url])
        .code(5);
    // No tracker at all is a missing setting: exit 2, as wherever a tracker is needed.
    let r = bob.run(&["send", "--to", "alice@tracker", "x"]).code(2);
    assert!(r.stderr.contains("tracker"), "{}", r.stderr);
    // A plain unknown name never asks a tracker.
    t.serve(card(&alice).as_bytes());
    bob.run(&["send", "--to", "alice", "x", "--tracker", &t.url])
        .code(5);
    assert_eq!(t.asked.lock().unwrap().len(), 1);
    let sent = bob
        .run(&[
            "send",
            "--to",
            "alice@tracker",
            "hello",
            "--tracker",
            &t.url,
        ])
        .ok()
        .one();
    assert_eq!(deliveries(&sent), vec![(a.url.clone(), true)]);
    assert_eq!(
        bob.run(&["contact", "show", "alice"]).ok().one()["name"],
        "alice"
    );
    let (code, got, err) = bodies(&alice);
    assert_eq!((code, got), (0, vec!["hello".to_string()]), "{err}");
}

#[test]
fn a_queued_delivery_to_a_relay_that_went_away_follows_the_move_on_retry() {
    let (mut a, b) = (Relay::start(), Relay::start());
    let (alice, bob) = alice_and_bob(&a);
    let new_card = move_to(&alice, &a, &b);
    a.stop();
    // A is down and so is the only tracker: the message waits in the outbox.
    let t = FakeTracker::start(b"");
    let r = bob
        .run(&["send", "--to", "alice", "waiting", "--tracker", &t.url])
        .code(3);
    assert_eq!(r.one()["deliveries"][0]["queued"], true);
    // Once the tracker has the new card, the retry goes to B and A's row is given up.
    t.serve(new_card.as_bytes());
    let retried = bob
        .run(&["send", "--retry", "--tracker", &t.url])
        .ok()
        .one();
    assert_eq!(retried["type"], "retried");
    let d = retried["deliveries"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{retried}");
    assert_eq!(d[0]["moved"], true);
    assert_eq!(
        (d[1]["relay"].as_str(), d[1]["ok"].as_bool()),
        (Some(b.url.as_str()), Some(true))
    );
    assert!(bob.run(&["send", "--retry"]).ok().stdout.is_empty());
    let (_, got, err) = bodies(&alice);
    assert_eq!(got, vec!["waiting".to_string()], "{err}");
}

#[test]
fn a_pinned_card_with_every_relay_draining_is_refreshed_before_sending() {
    let (a, b) = (Relay::start(), Relay::start());
    let (alice, bob) = (User::new(), User::new());
    alice.keygen("alice", "age");
    alice.run(&["relay", "add", &a.url]).ok();
    alice.run(&["relay", "remove", &a.url]).ok();
    bob.keygen("bob", "age");
    // bob pinned the card of the moment alice had no relay but the draining A.
    bob.add_contact(&card(&alice));
    let r = bob.run(&["send", "--to", "alice", "nowhere"]).code(3);
    let d = &r.one()["deliveries"][0];
    assert!(d["relay"].is_null() && d["ok"] == false, "{d}");
    alice.run(&["relay", "add", &b.url]).ok();
    let t = super::real::tracker();
    alice
        .run(&["tracker", "announce", "--tracker", &t.url])
        .ok();
    // Pinned just now, so not due by age: fetched because it names no relay to post to.
    let sent = bob
        .run(&["send", "--to", "alice", "found", "--tracker", &t.url])
        .ok()
        .json();
    let last = sent.last().unwrap();
    assert_eq!(deliveries(last), vec![(b.url.clone(), true)]);
    let (_, got, err) = bodies(&alice);
    assert_eq!(got, vec!["found".to_string()], "{err}");
}
