//! What the tracker accepts and refuses, each rule on its own.

use pigeon::keys::card::sign_card;
use serde_json::json;

use super::{T, card_json, card_of, fingerprint, identity, person};

#[test]
fn a_card_is_found_by_fingerprint_and_by_name_byte_for_byte() {
    let t = T::start(&[]);
    let (_alice, card) = person("Alice@example.org", "age");
    let fp = fingerprint(&card);
    let r = t.publish(&card);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["stored"], true);
    assert_eq!(r.body["seq"], card_json(&card)["seq"]);

    let by_fp = t.get(&format!("/v1/cards/{fp}"));
    assert_eq!(by_fp.status, 200);
    assert_eq!(by_fp.text, card.trim(), "served exactly as published");
    // Names are percent-encoded in the path and compared without regard to case.
    for name in ["Alice%40example.org", "alice@example.org"] {
        let by_name = t.get(&format!("/v1/names/{name}"));
        assert_eq!(by_name.status, 200, "{name}: {}", by_name.text);
        assert_eq!(by_name.text, card.trim());
    }
    assert_eq!(t.get("/v1/names/bob").status, 404);
    assert_eq!(t.get("/v1/names/bob").body["error"]["code"], "not_found");
    assert_eq!(t.get(&format!("/v1/cards/{}", "0".repeat(40))).status, 404);

    // Publishing the same card again changes nothing and says so.
    let again = t.publish(&card);
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["stored"], false);

    let page = t.get("/v1/cards?after=0");
    assert_eq!(page.status, 200);
    assert_eq!(page.body["cards"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["cards"][0], card_json(&card));
    let next = page.body["next"].as_u64().unwrap();
    let empty = t.get(&format!("/v1/cards?after={next}"));
    assert_eq!(empty.body["cards"], json!([]));
    assert_eq!(empty.body["next"], next);

    let info = t.get("/v1/info");
    assert_eq!(info.body["name"], "pigeon-tracker", "{}", info.text);
    assert_eq!(info.body["peers"], json!([]));
    assert_eq!(t.get("/healthz").status, 200);
    let m = t.get("/metrics");
    assert!(
        m.text.contains("pigeon_tracker_stored_total 1"),
        "{}",
        m.text
    );
    assert!(m.text.contains("pigeon_tracker_same_total 1"), "{}", m.text);
    assert!(
        m.text
            .contains("pigeon_requests_total{route=\"card_put\"} 2"),
        "{}",
        m.text
    );
}

#[test]
fn a_lower_or_equal_seq_does_not_replace_the_card() {
    let t = T::start(&[]);
    let (alice, old) = person("alice", "age");
    alice
        .run(&["relay", "add", "http://relay.example:7447"])
        .ok();
    let new = card_of(&alice);
    assert!(card_json(&new)["seq"].as_u64() > card_json(&old)["seq"].as_u64());
    assert_eq!(t.publish(&new).status, 201);
    let stale = t.publish(&old);
    assert_eq!(stale.status, 409, "{}", stale.text);
    assert_eq!(stale.body["error"]["code"], "stale_seq");
    let held = t.get(&format!("/v1/cards/{}", fingerprint(&new)));
    assert_eq!(held.text, new.trim());
    // The relay on the stored card is listed for newcomers.
    let relays = t.get("/v1/relays");
    assert_eq!(
        relays.body["relays"][0]["url"], "http://relay.example:7447",
        "{}",
        relays.text
    );
    assert_eq!(relays.body["relays"][0]["source"], "card");
}

#[test]
fn a_forged_card_is_refused_for_both_kinds() {
    let t = T::start(&[]);
    for kind in ["age", "pgp"] {
        let (_u, card) = person("alice", kind);
        let mut forged = card_json(&card);
        forged["relays"] = json!(["http://evil.example:7447"]);
        let forged = forged.to_string();
        let r = t.publish(&forged);
        assert_eq!(r.status, 400, "{kind}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "bad_signature", "{kind}");
        assert_eq!(
            t.get(&format!("/v1/cards/{}", fingerprint(&card))).status,
            404,
            "{kind}: nothing stored"
        );
    }
    // Not a card at all, and a card under another fingerprint's path.
    let (_b, bob) = person("bob", "age");
    let junk = crate::harness::put(&t.url("/v1/cards/abc"), b"{\"type\":\"card\"}");
    assert_eq!(junk.body["error"]["code"], "bad_card", "{}", junk.text);
    let elsewhere = crate::harness::put(
        &t.url(&format!("/v1/cards/{}", "a".repeat(40))),
        bob.as_bytes(),
    );
    assert_eq!(elsewhere.status, 400);
    assert_eq!(elsewhere.body["error"]["code"], "bad_card");
}

#[test]
fn a_name_belongs_to_the_first_identity_until_it_releases_it() {
    let t = T::start(&[]);
    let (first, card1) = person("alice", "age");
    let (second, card2) = person("Alice", "pgp");
    assert_eq!(t.publish(&card1).status, 201);
    let taken = t.publish(&card2);
    assert_eq!(taken.status, 409, "{}", taken.text);
    assert_eq!(taken.body["error"]["code"], "name_taken");
    assert_eq!(t.get("/v1/names/alice").text, card1.trim());

    // The second identity cannot release what it does not hold: 401, not released.
    let wrong = t.release("alice", &second);
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert_eq!(t.get("/v1/names/alice").text, card1.trim());

    let ok = t.release("alice", &first);
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["released"], true);
    assert_eq!(t.get("/v1/names/alice").status, 404);
    // The old card is still there by fingerprint.
    assert_eq!(
        t.get(&format!("/v1/cards/{}", fingerprint(&card1))).status,
        200
    );
    assert_eq!(
        t.release("alice", &first).status,
        404,
        "nothing left to release"
    );

    // Now the name is the next claimer's.
    assert_eq!(t.publish(&card2).status, 201);
    assert_eq!(t.get("/v1/names/alice").text, card2.trim());
    let again = t.publish(&card1);
    assert_eq!(
        again.status, 200,
        "the old card is held, byte for byte: {}",
        again.text
    );
    assert_eq!(t.get("/v1/names/alice").text, card2.trim());
}

#[test]
fn release_with_a_wrong_key_is_counted_to_lockout() {
    let t = T::start(&["--max-failures", "3"]);
    let (owner, card) = person("carol", "age");
    let (mallory, _) = person("mallory", "age");
    assert_eq!(t.publish(&card).status, 201);
    for _ in 0..3 {
        let r = t.release("carol", &mallory);
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.body["error"]["code"], "wrong_key");
    }
    let locked = t.release("carol", &mallory);
    assert_eq!(locked.status, 429, "{}", locked.text);
    assert_eq!(locked.body["error"]["code"], "locked_out");
    // The owner's key is another (source, key) pair: it still works.
    assert_eq!(t.release("carol", &owner).status, 200);
    assert!(t.get("/metrics").text.contains("pigeon_lockouts_total 1"));
}

#[test]
fn an_expired_card_is_refused() {
    let t = T::start(&[]);
    let (alice, _) = person("alice", "age");
    let id = identity(&alice);
    let mut card = id.card().unwrap();
    card.expires = Some(pigeon::wire::now() - 60);
    sign_card(&mut card, &id.secret).unwrap();
    let text = serde_json::to_string(&card).unwrap();
    let r = t.publish(&text);
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "expired");
    assert_eq!(t.get("/v1/names/alice").status, 404);
}

#[test]
fn a_card_over_the_size_limit_is_refused() {
    let t = T::start(&["--max-card", "1500"]);
    let (_small, age) = person("alice", "age");
    let (_big, pgp) = person("bob", "pgp");
    assert!(
        age.len() < 1500 && pgp.len() > 1500,
        "{} {}",
        age.len(),
        pgp.len()
    );
    assert_eq!(t.publish(&age).status, 201);
    let r = t.publish(&pgp);
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "too_large");
}

#[test]
fn tracker_serve_reads_its_table_of_the_config_file() {
    let h = crate::harness::home();
    std::fs::write(
        h.path().join("config.toml"),
        "[tracker.serve]\nmax_card = 1500\nrate = 1000\n",
    )
    .unwrap();
    let t = crate::harness::Tracker::start(h.path(), &[]);
    let info = crate::harness::reply(
        crate::harness::agent()
            .get(format!("{}/v1/info", t.url))
            .call(),
    );
    assert_eq!(info.body["max_card_bytes"], 1500, "{}", info.text);
    // A key of neither the tracker nor the relay is an error naming it.
    let bad = crate::harness::home();
    std::fs::write(
        bad.path().join("config.toml"),
        "[tracker.serve]\npeer = \"x\"\n",
    )
    .unwrap();
    let out = crate::harness::run(bad.path(), &["tracker", "serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("peer"),
        "{out:?}"
    );
}

#[test]
fn a_new_name_on_a_higher_seq_gives_the_old_name_up() {
    let t = T::start(&[]);
    let (alice, card) = person("alice", "age");
    assert_eq!(t.publish(&card).status, 201);
    let id = identity(&alice);
    let mut renamed = id.card().unwrap();
    renamed.name = "alice2".into();
    renamed.seq += 1;
    sign_card(&mut renamed, &id.secret).unwrap();
    let text = serde_json::to_string(&renamed).unwrap();
    assert_eq!(t.publish(&text).status, 201);
    assert_eq!(t.get("/v1/names/alice2").text, text);
    assert_eq!(t.get("/v1/names/alice").status, 404, "the old name is free");
    let (_other, theirs) = person("alice", "pgp");
    assert_eq!(t.publish(&theirs).status, 201, "and can be claimed");
}

#[test]
fn a_card_that_expires_is_no_longer_served_and_frees_its_name() {
    let t = T::start(&["--rate", "0"]);
    let (alice, _) = person("alice", "age");
    let id = identity(&alice);
    let mut card = id.card().unwrap();
    card.expires = Some(pigeon::wire::now() + 2);
    sign_card(&mut card, &id.secret).unwrap();
    let text = serde_json::to_string(&card).unwrap();
    assert_eq!(t.publish(&text).status, 201);
    assert_eq!(t.get("/v1/names/alice").text, text);
    let path = format!("/v1/cards/{}", card.fingerprint);
    assert!(crate::harness::eventually(
        std::time::Duration::from_secs(20),
        || t.get(&path).status == 404
    ));
    assert_eq!(t.get("/v1/names/alice").status, 404);
    assert_eq!(t.get("/v1/cards?after=0").body["cards"], json!([]));
    let (_other, theirs) = person("alice", "age");
    assert_eq!(t.publish(&theirs).status, 201, "the name is free again");
}

#[test]
fn the_relay_rate_limit_applies() {
    let t = T::start(&["--rate", "1"]);
    let codes: Vec<u16> = (0..20).map(|_| t.get("/v1/names/nobody").status).collect();
    assert!(codes.contains(&429), "{codes:?}");
    let limited = codes.iter().position(|c| *c == 429).unwrap();
    assert!(codes[..limited].iter().all(|c| *c == 404), "{codes:?}");
}
