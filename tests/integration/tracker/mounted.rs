//! `pigeon serve --tracker`: a relay and a tracker in one process on one port; and relays
//! announcing themselves to trackers.

use std::time::Duration;

use super::{T, fingerprint, person};
use crate::harness::{Relay, agent, eventually, home, put, reply};

#[test]
fn serve_tracker_mounts_the_tracker_beside_the_relay() {
    let h = home();
    let relay = Relay::start(h.path(), &["--tracker"]);
    let info = reply(agent().get(format!("{}/v1/info", relay.url)).call());
    assert_eq!(info.body["tracker"], true, "{}", info.text);
    assert!(info.body["admission"].is_string(), "still the relay's info");

    let (_alice, card) = person("alice", "age");
    let fp = fingerprint(&card);
    let r = put(&format!("{}/v1/cards/{fp}", relay.url), card.as_bytes());
    assert_eq!(r.status, 201, "{}", r.text);
    let got = reply(agent().get(format!("{}/v1/names/alice", relay.url)).call());
    assert_eq!(got.text, card.trim());
    assert!(
        h.path().join("tracker.sqlite").exists(),
        "its own file in the data dir"
    );

    // A plain relay has no tracker.
    let plain = Relay::start(home().path(), &[]);
    let info = reply(agent().get(format!("{}/v1/info", plain.url)).call());
    assert_eq!(info.body["tracker"], false);
    let none = put(&format!("{}/v1/cards/{fp}", plain.url), card.as_bytes());
    assert_eq!(none.status, 404);
}

#[test]
fn a_relay_announces_itself_to_a_tracker() {
    let t = T::start(&[]);
    let h = home();
    let relay = Relay::start(
        h.path(),
        &[
            "--announce-to",
            &t.proc.url,
            "--public-url",
            "http://relay.example:7447",
        ],
    );
    assert!(
        eventually(Duration::from_secs(20), || {
            t.get("/v1/relays").body["relays"]
                .as_array()
                .is_some_and(|r| {
                    r.iter().any(|r| {
                        r["url"] == "http://relay.example:7447" && r["source"] == "announce"
                    })
                })
        }),
        "relay log:\n{}",
        relay.stderr()
    );
    // Junk is refused.
    let bad = reply(
        agent()
            .post(t.url("/v1/relays"))
            .header("content-type", "application/json")
            .send(&br#"{"v":1,"url":"ftp://x"}"#[..]),
    );
    assert_eq!(bad.status, 400);
}

#[test]
fn pigeond_mounts_the_tracker_too() {
    let h = home();
    let relay = Relay::start_pigeond(h.path(), &["--tracker"]);
    let info = reply(agent().get(format!("{}/v1/info", relay.url)).call());
    assert_eq!(info.body["tracker"], true, "{}", info.text);
    let (_bob, card) = person("bob", "pgp");
    let r = put(
        &format!("{}/v1/cards/{}", relay.url, fingerprint(&card)),
        card.as_bytes(),
    );
    assert_eq!(
        r.status, 201,
        "an OpenPGP card verifies in pigeond: {}",
        r.text
    );
}

#[test]
fn pigeond_runs_a_tracker_alone() {
    let h = home();
    let mut cmd = crate::harness::program(crate::harness::PIGEOND, h.path());
    cmd.arg("tracker");
    let t = Relay::start_cmd(cmd, h.path(), &[]);
    let info = reply(agent().get(format!("{}/v1/info", t.url)).call());
    assert_eq!(info.body["name"], "pigeon-tracker", "{}", info.text);
    let (_carol, card) = person("carol", "age");
    let r = put(
        &format!("{}/v1/cards/{}", t.url, fingerprint(&card)),
        card.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(h.path().join("tracker.sqlite").exists());
    // No mailboxes on a tracker alone.
    let post = put(&format!("{}/v1/mailboxes/{}", t.url, "a".repeat(64)), b"{}");
    assert_eq!(post.status, 404);
}
