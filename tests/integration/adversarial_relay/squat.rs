//! Id squatting: someone who learns an envelope id (another relay on the card, a retry that
//! waits in an outbox) posts junk under it first. The relay dedupes on (mailbox, id, payload
//! digest), so the genuine copy is stored beside the junk and `recv` tells them apart.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use pigeon::client::Client;
use pigeon::home::Home;
use serde_json::json;

use crate::adversarial_client::{bodies, card_of, craft, identity, post, rejected};
use crate::harness::{agent, integrity_ok, reply};
use crate::users::{Relay, User, pair_on};

/// Bob's mailbox on `relay`, as his own signed fetch sees it.
fn stored(relay: &Relay, bob: &User) -> Vec<pigeon::wire::StoredEnvelope> {
    let key = identity(bob).secret.mailbox_signing_key().clone();
    Client::new(Duration::from_secs(20))
        .fetch(&relay.url, &key, 0, 100, 0)
        .unwrap()
        .envelopes
}

/// Posts `payload` (base64 as stored) under `id` and returns (status, seq, duplicate).
fn repost(relay: &Relay, bob: &User, id: &str, payload: &str) -> (u16, u64, bool) {
    let mailbox = card_of(bob)["mailbox"].as_str().unwrap().to_string();
    let r = reply(
        agent()
            .post(format!("{}/v1/mailboxes/{mailbox}", relay.url))
            .send_json(json!({"v": 1, "id": id, "payload": payload})),
    );
    let seq = r.body["seq"].as_u64().unwrap_or(0);
    (r.status, seq, r.body["duplicate"] == true)
}

#[test]
fn junk_posted_first_under_a_known_id_does_not_hide_the_genuine_message() {
    let mut relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let mallory = User::new();
    mallory.keygen("mallory", "age");
    // Alice sends while the relay is down: the envelope waits in her outbox under an id
    // that is already out in the world.
    relay.stop();
    let sent = alice
        .run(&["send", "--to", "bob", "the real one"])
        .code(3)
        .one();
    let id = sent["id"].as_str().unwrap().to_string();
    relay.restart();
    // Mallory gets there first: bytes that are no message at all, and a message of her
    // own that claims to be Alice's.
    post(&relay, &bob, &id, b"not even a ciphertext");
    let (a, m) = (identity(&alice), identity(&mallory));
    let (_, forged) = craft(&m, &bob, "forged", |i| {
        i.id = id.clone();
        i.from = a.meta.fingerprint.clone();
    });
    post(&relay, &bob, &id, &forged);

    // Alice's retry is stored beside them, not taken for a duplicate of the junk.
    let retried = alice.run(&["send", "--retry"]).ok().json();
    assert_eq!(retried.len(), 1, "{retried:?}");
    assert_eq!(retried[0]["deliveries"][0]["ok"], true, "{retried:?}");
    let on_relay = stored(&relay, &bob);
    assert_eq!(on_relay.len(), 3, "{on_relay:?}");
    assert!(on_relay.iter().all(|e| e.id == id));
    // The same bytes again are still a duplicate (a client's retry), each of its own seq.
    for e in &on_relay {
        assert_eq!(repost(&relay, &bob, &id, &e.payload), (200, e.seq, true));
    }
    assert_eq!(stored(&relay, &bob).len(), 3);

    // recv rejects both pieces of junk and delivers the genuine message, once.
    let r = bob.run(&["recv", "--show-rejected"]).ok();
    assert_eq!(bodies(&r), ["the real one"], "{:?}", r.json());
    let lines = r.json();
    let m = lines.iter().find(|l| l["type"] == "message").unwrap();
    assert_eq!(m["from"]["fingerprint"], a.meta.fingerprint.as_str(), "{m}");
    let rej = rejected(&r);
    assert_eq!(rej.len(), 2, "{:?}", r.json());
    assert!(rej.iter().all(|x| x["id"] == id.as_str()), "{rej:?}");
    // All three were acknowledged; nothing comes twice.
    assert!(bob.run(&["recv", "--show-rejected"]).ok().stdout.is_empty());
    assert!(stored(&relay, &bob).is_empty());
}

/// The relay schema before payload digests (version 1), as it shipped.
const SCHEMA_1: &str = "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    CREATE TABLE mailboxes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
        count INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE envelopes (seq INTEGER PRIMARY KEY, mbox INTEGER NOT NULL, id BLOB NOT NULL,
        received INTEGER NOT NULL, expires INTEGER NOT NULL, payload BLOB NOT NULL);
    CREATE INDEX envelopes_mbox ON envelopes (mbox);
    CREATE UNIQUE INDEX envelopes_mbox_id ON envelopes (mbox, id);
    CREATE INDEX envelopes_expires ON envelopes (expires);
    CREATE TABLE blocks (addr TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID;
    PRAGMA user_version = 1;";

#[test]
fn a_relay_database_of_the_old_schema_is_migrated_and_keeps_deduping() {
    let mut relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let (id, ct) = craft(&identity(&alice), &bob, "stored before the upgrade", |_| {});
    // Replace the relay's database by one the previous schema made, holding that message.
    relay.stop();
    let db = Home::at(relay.home.path()).relay_db_path();
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(SCHEMA_1).unwrap();
        let mbox = hex::decode(card_of(&bob)["mailbox"].as_str().unwrap()).unwrap();
        c.execute(
            "INSERT INTO mailboxes (id, hash, count, bytes) VALUES (1, ?1, 1, ?2)",
            rusqlite::params![mbox, ct.len() as i64 + 128],
        )
        .unwrap();
        let now = pigeon::wire::now() as i64;
        c.execute(
            "INSERT INTO envelopes (seq, mbox, id, received, expires, payload)
             VALUES (1000, 1, ?1, ?2, ?3, ?4)",
            rusqlite::params![hex::decode(&id).unwrap(), now, now + 3600, ct],
        )
        .unwrap();
    }
    relay.restart();

    // The stored envelope dedupes against its own bytes; other bytes under its id are new.
    let payload = B64.encode(&ct);
    assert_eq!(repost(&relay, &bob, &id, &payload), (200, 1000, true));
    let (status, seq, dup) = repost(&relay, &bob, &id, &B64.encode(b"junk"));
    assert_eq!((status, dup), (201, false));
    assert!(seq > 1000);
    let c = rusqlite::Connection::open(&db).unwrap();
    let v: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, 4, "migrated to the latest schema (4: operator tables)");
    drop(c);
    integrity_ok(&db);

    let r = bob.run(&["recv", "--show-rejected"]).ok();
    assert_eq!(bodies(&r), ["stored before the upgrade"]);
    assert_eq!(rejected(&r).len(), 1, "{:?}", r.json());
}
