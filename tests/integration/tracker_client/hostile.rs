//! The client believes no tracker: every card is verified, the highest valid seq wins, and
//! a forged, stale, expired or other-key card changes nothing pinned. The trackers here
//! are hostile fakes serving what the test chooses.

use serde_json::Value;

use super::fake::FakeTracker;
use crate::users::User;

fn card(u: &User) -> String {
    String::from_utf8(u.run(&["card"]).ok().stdout).unwrap()
}

fn contacts(u: &User) -> Vec<Value> {
    u.run(&["contact", "list"]).ok().json()
}

/// A tracker URL nobody listens on.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", l.local_addr().unwrap())
}

/// The card with one signed field changed and the signature left as it was.
fn forged(card: &str, field: &str, value: Value) -> String {
    let mut v: Value = serde_json::from_str(card).unwrap();
    v[field] = value;
    serde_json::to_string(&v).unwrap()
}

/// A validly signed card of `u` that expired a minute ago (the binary never makes one:
/// it re-issues a card long before), signed with `u`'s own keys through the library.
fn expired_card(u: &User) -> String {
    let home = pigeon::home::Home::at(u.dir.path());
    let id = pigeon::keys::Identity::load(&home, None).unwrap();
    let mut c = id.card().unwrap();
    let now = pigeon::wire::now();
    c.seq += 10;
    c.issued = now - 3600;
    c.expires = Some(now - 60);
    pigeon::keys::card::sign_card(&mut c, &id.secret).unwrap();
    serde_json::to_string(&c).unwrap()
}

#[test]
fn lookup_prints_the_card_as_served_and_add_pins_it() {
    let (alice, bob) = (User::new(), User::new());
    let ca = alice.keygen("alice", "age");
    bob.keygen("bob", "age");
    let t = FakeTracker::start(ca.as_bytes());
    let out = bob
        .run(&["tracker", "lookup", "alice", "--tracker", &t.url])
        .ok();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), ca.trim());
    assert_eq!(t.asked.lock().unwrap().as_slice(), ["/v1/names/alice"]);
    assert!(contacts(&bob).is_empty(), "lookup alone pins nothing");
    let fp: Value = serde_json::from_str(&ca).unwrap();
    let fp = fp["fingerprint"].as_str().unwrap().to_string();
    let lines = bob
        .run(&["tracker", "lookup", &fp, "--add", "--tracker", &t.url])
        .ok()
        .json();
    assert_eq!(
        t.asked.lock().unwrap().last().unwrap(),
        &format!("/v1/cards/{fp}")
    );
    assert_eq!(lines[0]["type"], "card");
    assert_eq!(lines[1]["type"], "contact");
    assert_eq!(lines[1]["status"], "added");
    assert_eq!(contacts(&bob)[0]["fingerprint"], fp.as_str());
    // Nothing known: exit 5.
    t.serve(b"");
    bob.run(&["tracker", "lookup", "carol", "--tracker", &t.url])
        .code(5);
    // No tracker configured: a usage error that says how to name one.
    let r = bob.run(&["tracker", "lookup", "alice"]).code(2);
    assert!(r.stderr.contains("--tracker"), "{}", r.stderr);
}

#[test]
fn forged_stale_expired_and_other_key_cards_change_nothing() {
    let (alice, bob, mallory, carol) = (User::new(), User::new(), User::new(), User::new());
    let old = alice.keygen("alice", "age");
    alice.run(&["relay", "add", "http://127.0.0.1:9"]).ok();
    let current = card(&alice);
    bob.keygen("bob", "age");
    bob.add_contact(&current);
    let pinned = || bob.run(&["contact", "show", "alice"]).ok().one();
    let before = pinned();
    assert_eq!(before["seq"], 2);
    let t = FakeTracker::start(b"");

    let cases = [
        (
            "forged",
            forged(&current, "relays", serde_json::json!(["http://evil:1"])),
            "bad signature",
        ),
        (
            "forged seq",
            forged(&current, "seq", serde_json::json!(99)),
            "bad signature",
        ),
        ("stale", old.trim().to_string(), "older"),
        ("expired", expired_card(&alice), "expired"),
        (
            "other key",
            mallory.keygen("alice", "age").trim().to_string(),
            "KEY CHANGE",
        ),
        (
            "someone else",
            carol.keygen("carol", "age").trim().to_string(),
            "not of",
        ),
    ];
    for (what, served, why) in &cases {
        t.serve(served.as_bytes());
        for args in [&["--add"][..], &[][..]] {
            let mut argv = vec!["tracker", "lookup", "alice", "--tracker", &t.url];
            argv.extend_from_slice(args);
            let r = bob.run(&argv);
            if *what == "other key" && args.is_empty() {
                // Without --add a stranger's valid card is only printed.
                assert_eq!(r.code, 0, "{}", r.stderr);
                continue;
            }
            assert_eq!(r.code, 4, "{what} {args:?}: {}", r.stderr);
            assert!(r.stdout.is_empty(), "{what}: a refused card is not printed");
            assert!(r.stderr.contains(why), "{what}: {}", r.stderr);
        }
        let after = pinned();
        assert_eq!(
            after["card"], before["card"],
            "{what} changed the pinned card"
        );
        assert_eq!(contacts(&bob).len(), 1, "{what}");
    }
    // A forged card is never printed, even with no contact pinned.
    t.serve(cases[0].1.as_bytes());
    let r = bob
        .run(&["tracker", "lookup", "alice", "--tracker", &t.url])
        .code(4);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("REFUSED"), "{}", r.stderr);
}

#[test]
fn several_trackers_highest_valid_seq_wins_and_one_down_is_only_reported() {
    let (alice, bob) = (User::new(), User::new());
    let seq1 = alice.keygen("alice", "age");
    alice.run(&["relay", "add", "http://127.0.0.1:9"]).ok();
    alice.run(&["relay", "add", "http://127.0.0.1:10"]).ok();
    let seq3 = card(&alice);
    bob.keygen("bob", "age");
    let old = FakeTracker::start(seq1.as_bytes());
    let new = FakeTracker::start(seq3.as_bytes());
    let evil = FakeTracker::start(forged(&seq3, "seq", serde_json::json!(1000)).as_bytes());
    let dead = dead_url();
    let list = [old.url.as_str(), &dead, &evil.url, &new.url].join(",");
    let r = bob
        .cmd(&["tracker", "lookup", "alice", "--add"])
        .env("PIGEON_TRACKER", &list)
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains(&dead) && err.contains("unreachable"), "{err}");
    assert!(err.contains(&evil.url) && err.contains("REFUSED"), "{err}");
    let c = bob.run(&["contact", "show", "alice"]).ok().one();
    assert_eq!(c["seq"], 3);
    assert_eq!(c["card"]["relays"].as_array().unwrap().len(), 2);
    // Under --quiet the refused card is still said; the tracker that was down is not.
    let q = bob
        .cmd(&["--quiet", "tracker", "lookup", "alice"])
        .env("PIGEON_TRACKER", &list)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&q.stderr);
    assert!(
        err.contains("REFUSED") && !err.contains("unreachable"),
        "{err}"
    );
    // Every tracker down: exit 3.
    bob.run(&["tracker", "lookup", "alice", "--tracker", &dead])
        .code(3);
}
