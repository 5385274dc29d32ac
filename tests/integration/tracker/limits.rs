//! The tracker's storage is bounded from outside: every card needs an `expires` within
//! `--max-lifetime`, unknown fields are capped, bytes are capped in total and per source
//! per hour, and expiry (the sweep) gives room and names back. Real trackers on loopback.

use std::time::Duration;

use pigeon::keys::card::sign_card;
use pigeon::wire::Card;
use serde_json::{Value, json};

use super::{T, identity, person};
use crate::harness::{Tracker, eventually, home};
use crate::users::User;

/// `u`'s card changed by `edit` and signed again, as JSON text.
fn signed(u: &User, edit: impl FnOnce(&mut Card)) -> String {
    let id = identity(u);
    let mut c = id.card().unwrap();
    c.seq += 1;
    edit(&mut c);
    sign_card(&mut c, &id.secret).unwrap();
    serde_json::to_string(&c).unwrap()
}

/// `u`'s card with a signed top-level field this version does not know.
fn with_extra(u: &User, field: &str, value: Value) -> String {
    let id = identity(u);
    let mut c = id.card().unwrap();
    c.seq += 1;
    let mut v = serde_json::to_value(&c).unwrap();
    v[field] = value;
    v["sig"] = json!("");
    let bytes = pigeon::keys::card::card_signing_bytes(&v);
    let sig = id.secret.sign(pigeon::crypto::CARD_DOMAIN, &bytes).unwrap();
    use base64::Engine;
    v["sig"] = json!(base64::engine::general_purpose::STANDARD.encode(sig));
    serde_json::to_string(&v).unwrap()
}

#[test]
fn a_card_needs_an_expires_within_the_lifetime() {
    let t = T::start(&[]);
    let (alice, card) = person("alice", "age");
    let never = signed(&alice, |c| c.expires = None);
    let r = t.publish(&never);
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "bad_expiry");
    assert!(r.text.contains("expires"), "{}", r.text);
    let far = signed(&alice, |c| {
        c.expires = Some(pigeon::wire::now() + 900 * 86_400)
    });
    let r = t.publish(&far);
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "bad_expiry");
    assert_eq!(t.get("/v1/names/alice").status, 404);
    let m = t.get("/metrics").text;
    assert!(
        m.contains("pigeon_rejects_total{reason=\"bad_expiry\"} 2"),
        "counted as its own reason: {m}"
    );
    // What `pigeon card` and `tracker announce` make is taken as it is.
    assert_eq!(t.publish(&card).status, 201);
    let a = alice
        .run(&["tracker", "announce", "--tracker", &t.proc.url])
        .ok()
        .one();
    assert_eq!(a["ok"], true, "{a}");

    // A shorter lifetime refuses pigeon's two-year cards, with the code on the line.
    assert_eq!(
        t.get("/v1/info").body["max_card_lifetime"],
        760 * 86_400,
        "a client can tell"
    );
    let short = T::start(&["--max-lifetime", "30d"]);
    assert_eq!(short.get("/v1/info").body["max_card_lifetime"], 30 * 86_400);
    let (bob, _) = person("bob", "age");
    let b = bob
        .run(&["tracker", "announce", "--tracker", &short.proc.url])
        .code(1)
        .one();
    assert_eq!(b["code"], "bad_expiry", "{b}");
}

#[test]
fn unknown_fields_are_capped_but_a_few_are_kept() {
    let t = T::start(&[]);
    let (alice, _) = person("alice", "age");
    let padded = with_extra(&alice, "pad", json!("x".repeat(3000)));
    let r = t.publish(&padded);
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "too_large");
    assert!(r.text.contains("does not know"), "{}", r.text);
    // A newer pigeon's small field is signed, stored and served as it is.
    let newer = with_extra(&alice, "future", json!({"x": 1}));
    assert_eq!(t.publish(&newer).status, 201);
    assert_eq!(t.get("/v1/names/alice").text, newer);
}

#[test]
fn bytes_are_capped_in_total_and_per_source_per_hour() {
    let cards: Vec<String> = ["a1", "a2", "a3"]
        .iter()
        .map(|n| person(n, "age").1.trim().to_string())
        .collect();
    let two = (cards[0].len() + cards[1].len() + 10).to_string();
    let t = T::start(&["--max-bytes", &two]);
    assert_eq!(t.publish(&cards[0]).status, 201);
    assert_eq!(t.publish(&cards[1]).status, 201);
    let full = t.publish(&cards[2]);
    assert_eq!(full.status, 507, "{}", full.text);
    assert_eq!(full.body["error"]["code"], "quota");
    assert!(full.text.contains("bytes"), "{}", full.text);
    assert!(
        t.get("/metrics")
            .text
            .contains("pigeon_tracker_refused_total 1")
    );

    let t = T::start(&["--max-bytes-per-source-hour", &two]);
    assert_eq!(t.publish(&cards[0]).status, 201);
    // Refused cards are not counted: the same card again, and a forged one.
    assert_eq!(t.publish(&cards[0]).status, 200);
    assert_eq!(t.publish(&cards[1]).status, 201);
    let over = t.publish(&cards[2]);
    assert_eq!(over.status, 429, "{}", over.text);
    assert_eq!(over.body["error"]["code"], "source_quota");
    assert!(over.retry_after.is_some(), "{}", over.text);
    assert_eq!(t.get("/v1/names/a3").status, 404);
}

/// The sweep deletes expired cards, so their room and names come back: a tracker full of
/// cards that expire takes a new identity again.
#[test]
fn expiry_frees_the_room_and_the_name() {
    let h = home();
    std::fs::write(
        h.path().join("config.toml"),
        "[tracker.serve]\nsweep_interval = \"1s\"\nrate = 0\n",
    )
    .unwrap();
    let t = Tracker::start(h.path(), &["--max-cards", "1"]);
    let put = |card: &str| {
        let fp = super::fingerprint(card);
        crate::harness::put(&format!("{}/v1/cards/{fp}", t.url), card.as_bytes())
    };
    let (alice, _) = person("alice", "age");
    let soon = signed(&alice, |c| c.expires = Some(pigeon::wire::now() + 2));
    assert_eq!(put(&soon).status, 201);
    let (_bob, bob) = person("bob", "age");
    assert_eq!(put(&bob).status, 507, "the one card the tracker keeps");
    let (_other, theirs) = person("alice", "age");
    assert_eq!(put(&theirs).status, 409, "the name is held");
    assert!(
        eventually(Duration::from_secs(30), || put(&theirs).status == 201),
        "log:\n{}",
        t.stderr()
    );
    let got = crate::harness::reply(
        crate::harness::agent()
            .get(format!("{}/v1/names/alice", t.url))
            .call(),
    );
    assert_eq!(got.text, theirs.trim(), "the name went to the new identity");
    let db = rusqlite::Connection::open(h.path().join("tracker.sqlite")).unwrap();
    let n: i64 = db
        .query_row("SELECT count(*) FROM cards", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "the expired card's row is gone");
}

/// Cards stored before `expires` was required leave too: at start every card is given at
/// most `--max-lifetime`.
#[test]
fn cards_held_without_expires_get_the_lifetime_at_start() {
    let h = home();
    let t = Tracker::start(h.path(), &[]);
    let (_alice, card) = person("alice", "age");
    let fp = super::fingerprint(&card);
    assert_eq!(
        crate::harness::put(&format!("{}/v1/cards/{fp}", t.url), card.as_bytes()).status,
        201
    );
    t.terminate();
    let path = h.path().join("tracker.sqlite");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute("UPDATE cards SET expires = NULL", []).unwrap();
    drop(db);
    let _t = Tracker::start(h.path(), &["--max-lifetime", "10d"]);
    let db = rusqlite::Connection::open(&path).unwrap();
    let e: Option<i64> = db
        .query_row("SELECT expires FROM cards", [], |r| r.get(0))
        .unwrap();
    let e = e.expect("an expires was set") as u64;
    assert!(e <= pigeon::wire::now() + 10 * 86_400, "{e}");
}
