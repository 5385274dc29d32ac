//! Group fan-out (issue 12, performance): a group message goes to each relay in one
//! `/v1/fanout` request and the relay stores its payload once, however many members'
//! mailboxes it holds; every member still receives it, an ack by one member leaves it for
//! the others, the last ack frees it, and a relay without the endpoint gets batches.

use crate::groups::{Person, bodies, change};
use crate::harness::{agent, reply};
use crate::users::Relay;

/// One figure of a relay's `/metrics` (a line `name value`).
fn metric(url: &str, name: &str) -> u64 {
    let r = reply(agent().get(format!("{url}/metrics")).call());
    assert_eq!(r.status, 200);
    r.text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{}", r.text))
}

fn shared(url: &str) -> u64 {
    metric(url, "pigeon_shared_payloads")
}

#[test]
fn a_group_message_is_stored_once_per_relay_and_reaches_every_member() {
    let (r1, r2) = (Relay::start(), Relay::start());
    let alice = Person::new("alice", "age", &[&r1]);
    let bob = Person::new("bob", "age", &[&r1]);
    let carol = Person::new("carol", "age", &[&r1]);
    let dave = Person::new("dave", "age", &[&r2]);
    let erin = Person::new("erin", "age", &[&r2]);
    let frank = Person::new("frank", "pgp", &[&r1, &r2]);
    let members = [&bob, &carol, &dave, &erin, &frank];
    for p in members {
        alice.knows(p);
        p.knows(&alice);
    }
    change(
        &alice,
        &[
            "group", "create", "ops", "--member", "bob", "--member", "carol", "--member", "dave",
            "--member", "erin", "--member", "frank",
        ],
    );
    for p in members {
        p.recv();
    }
    assert_eq!(shared(&r1.url), 0, "every member acked the membership");
    assert_eq!(shared(&r2.url), 0);
    let fanouts = metric(&r1.url, "pigeon_requests_total{route=\"fanout\"}");
    assert!(fanouts >= 1, "group create posted through /v1/fanout");

    let sent = alice
        .u
        .run(&["send", "--group", "ops", "one copy each"])
        .ok()
        .one();
    let deliveries = sent["deliveries"].as_array().unwrap();
    // bob, carol, dave, erin: one each; frank: one on each of his two relays.
    assert_eq!(deliveries.len(), 6, "{sent}");
    assert!(deliveries.iter().all(|d| d["ok"] == true), "{sent}");
    assert_eq!(
        metric(&r1.url, "pigeon_requests_total{route=\"fanout\"}"),
        fanouts + 1,
        "one fanout request to r1"
    );
    assert_eq!(
        metric(&r1.url, "pigeon_requests_total{route=\"batch\"}"),
        0,
        "no batch besides"
    );
    // r1: bob and carol share the age payload (frank's pgp one is alone, inline); r2:
    // dave and erin share theirs.
    for r in [&r1, &r2] {
        assert_eq!(shared(&r.url), 1, "{}", r.url);
        assert_eq!(metric(&r.url, "pigeon_envelopes"), 3, "{}", r.url);
        // Quotas see every mailbox's copy: the logical bytes exceed twice the one copy.
        let once = metric(&r.url, "pigeon_shared_payload_bytes");
        assert!(once > 1000, "{once}");
        assert!(
            metric(&r.url, "pigeon_bytes") > 2 * once + 1000,
            "{}",
            r.url
        );
    }
    // Everyone gets it; acking by one leaves it for the other on the same relay.
    assert_eq!(bodies(&bob.recv()), ["one copy each"]);
    assert_eq!(shared(&r1.url), 1, "carol has not read it yet");
    assert_eq!(metric(&r1.url, "pigeon_envelopes"), 2);
    assert_eq!(bodies(&carol.recv()), ["one copy each"]);
    assert_eq!(shared(&r1.url), 0, "the last reference freed the payload");
    assert_eq!(bodies(&dave.recv()), ["one copy each"]);
    assert_eq!(shared(&r2.url), 1);
    assert_eq!(bodies(&erin.recv()), ["one copy each"]);
    assert_eq!(shared(&r2.url), 0);
    let got = bodies(&frank.recv());
    assert_eq!(got, ["one copy each"], "frank's two copies are one message");
}

#[test]
fn a_relay_without_fanout_gets_a_batch_and_delivers() {
    // A real relay with the endpoint turned off answers 404 as relays before it did.
    let old_home = crate::harness::home();
    std::fs::write(
        old_home.path().join("config.toml"),
        "[serve]\nfanout = false\n",
    )
    .unwrap();
    let old = crate::harness::Relay::start(old_home.path(), &[]);
    let new = Relay::start();
    let alice = Person::new("alice", "age", &[&new]);
    let bob = Person::on("bob", "age", &[&old.url]);
    let carol = Person::on("carol", "age", &[&old.url]);
    let dave = Person::new("dave", "age", &[&new]);
    let erin = Person::new("erin", "age", &[&new]);
    for p in [&bob, &carol, &dave, &erin] {
        alice.knows(p);
        p.knows(&alice);
    }
    change(
        &alice,
        &[
            "group", "create", "mixed", "--member", "bob", "--member", "carol", "--member", "dave",
            "--member", "erin",
        ],
    );
    let sent = alice
        .u
        .run(&["send", "--group", "mixed", "old and new"])
        .ok()
        .one();
    assert!(
        sent["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["ok"] == true),
        "{sent}"
    );
    assert_eq!(
        metric(&old.url, "pigeon_requests_total{route=\"fanout\"}"),
        2,
        "asked once by each of the two processes (create, send), answered 404"
    );
    assert!(metric(&old.url, "pigeon_requests_total{route=\"batch\"}") >= 2);
    assert_eq!(
        shared(&old.url),
        0,
        "the old relay stored its copies inline"
    );
    assert_eq!(
        metric(&old.url, "pigeon_envelopes"),
        4,
        "membership and message, twice"
    );
    assert_eq!(shared(&new.url), 2, "membership and message, once each");
    for p in [&bob, &carol, &dave, &erin] {
        assert_eq!(bodies(&p.recv()), ["old and new"], "{}", p.name);
    }
}
