//! A newcomer's tracker steps (issue 22): `tracker add|list|remove` configure trackers in
//! config.toml, and a taken name is left with `pigeon rename`, keeping the keys.

use serde_json::Value;

use super::real::tracker;
use crate::users::User;

#[test]
fn tracker_add_configures_it_for_every_later_command() {
    let t = tracker();
    let alice = User::new();
    alice.keygen("alice", "age");
    // Nothing configured: the commands that need a tracker say how to add one.
    let r = alice.run(&["tracker", "lookup", "bob"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let added = alice
        .run(&["tracker", "add", &format!("{}/", t.url)])
        .ok()
        .one();
    assert_eq!(
        (added["url"].as_str(), added["status"].as_str()),
        (Some(t.url.as_str()), Some("added"))
    );
    assert!(
        !alice
            .run(&["tracker", "add", &t.url])
            .ok()
            .stderr
            .contains("warning")
    );
    let again = alice.run(&["tracker", "add", &t.url]).ok().one();
    assert_eq!(again["status"], "unchanged");
    // Used by announce without --tracker.
    let a = alice.run(&["tracker", "announce"]).ok().one();
    assert_eq!(a["ok"], true, "{a}");
    assert_eq!(
        alice.run(&["tracker", "list"]).ok().one()["url"],
        t.url.as_str()
    );
    // A tracker that is down is added with a warning.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = format!("http://127.0.0.1:{port}");
    let r = alice.run(&["tracker", "add", &down]).ok();
    assert!(r.stderr.contains("does not answer"), "{}", r.stderr);
    assert_eq!(alice.run(&["tracker", "list"]).ok().json().len(), 2);
    alice.run(&["tracker", "remove", &down]).ok();
    assert_eq!(alice.run(&["tracker", "remove", &down]).code, 5);
    let config = std::fs::read_to_string(alice.path("config.toml")).unwrap();
    assert!(
        config.contains(&t.url) && !config.contains(&down),
        "{config}"
    );
}

#[test]
fn a_taken_name_is_left_by_renaming_and_the_keys_stay() {
    let t = tracker();
    let (alice, other) = (User::new(), User::new());
    alice.keygen("alice", "age");
    other.keygen("alice", "age");
    for u in [&alice, &other] {
        u.run(&["tracker", "add", &t.url]).ok();
    }
    other.run(&["tracker", "announce"]).ok();
    let r = alice.run(&["tracker", "announce"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("pigeon rename"), "{}", r.stderr);
    let before: Value = serde_json::from_slice(&alice.run(&["card"]).ok().stdout).unwrap();
    let renamed = alice.run(&["rename", "alice-smith"]).ok().one();
    assert_eq!(renamed["previous"], "alice");
    assert_eq!(renamed["fingerprint"], before["fingerprint"]);
    assert!(renamed["seq"].as_u64() > before["seq"].as_u64());
    let a = alice.run(&["tracker", "announce"]).ok().one();
    assert_eq!(a["ok"], true, "{a}");
    let card: Value =
        serde_json::from_slice(&alice.run(&["tracker", "lookup", "alice-smith"]).ok().stdout)
            .unwrap();
    assert_eq!(card["fingerprint"], before["fingerprint"], "the same keys");
    assert_eq!(card["mailbox"], before["mailbox"]);
    // A bad name is refused before anything changes.
    assert_eq!(alice.run(&["rename", "a\u{202E}b"]).code, 2);
    let after: Value = serde_json::from_slice(&alice.run(&["card"]).ok().stdout).unwrap();
    assert_eq!(after["name"], "alice-smith");
}
