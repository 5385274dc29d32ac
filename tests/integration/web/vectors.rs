//! Golden vectors made by the real CLI for the TypeScript unit tests, those tests, and the
//! other direction: a message the TypeScript seals, opened by the real `pigeon open`.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{npm_ready, web_dir};
use crate::users::User;

fn vectors() -> PathBuf {
    web_dir().join("test/vectors")
}

/// Golden vectors for the TypeScript tests, made by the real CLI: two age identities (one
/// passphrase-protected), their cards, a message sealed by alice for bob, and a signed
/// request. Written when `PIGEON_UPDATE_VECTORS=1`; always checked against the CLI.
#[test]
fn web_vectors_from_the_cli_open_and_verify() {
    if std::env::var_os("PIGEON_UPDATE_VECTORS").is_some_and(|v| v == "1") {
        write_vectors();
    }
    let dir = vectors();
    let fixed: Value =
        serde_json::from_slice(&std::fs::read(dir.join("vectors.json")).unwrap()).unwrap();
    let card: Value = serde_json::from_str(fixed["cards"]["alice"].as_str().unwrap()).unwrap();
    assert!(
        card["expires"].as_u64().unwrap() > pigeon::wire::now(),
        "the vectors' cards expired: remake them with PIGEON_UPDATE_VECTORS=1 and commit them"
    );

    // bob's identity as the CLI reads it opens alice's message and checks it.
    let bob = User::new();
    std::fs::create_dir_all(bob.path("identity")).unwrap();
    for f in ["identity.json", "age.key", "mailbox.key"] {
        let text = fixed["identities"]["bob"][f].as_str().unwrap();
        std::fs::write(bob.path("identity").join(f), text).unwrap();
    }
    bob.add_contact(fixed["cards"]["alice"].as_str().unwrap());
    let out = bob
        .run(&["open", dir.join("alice-to-bob.age").to_str().unwrap()])
        .ok()
        .one();
    assert_eq!(out["body"], fixed["body"]);
    assert_eq!(out["from"]["name"], "alice");
    assert_eq!(out["from"]["known"], true);

    // The signed request verifies over the bytes wire::request_signing_bytes builds.
    let r = &fixed["request"];
    let s = |v: &Value| v.as_str().unwrap().to_string();
    let bytes = pigeon::wire::request_signing_bytes(
        &s(&r["method"]),
        &s(&r["host"]),
        &s(&r["path"]),
        &s(&r["query"]),
        r["time"].as_u64().unwrap(),
        &s(&r["headers"]["x-pigeon-nonce"]),
    );
    let key: [u8; 32] = hex::decode(s(&r["headers"]["x-pigeon-key"]))
        .unwrap()
        .try_into()
        .unwrap();
    let sig = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        s(&r["headers"]["x-pigeon-sig"]),
    )
    .unwrap();
    ed25519_dalek::VerifyingKey::from_bytes(&key)
        .unwrap()
        .verify_strict(&bytes, &ed25519_dalek::Signature::from_slice(&sig).unwrap())
        .unwrap();
}

const VECTOR_BODY: &str = "h\u{e9}llo <img src=x onerror=alert(1)> \"q\"\n\u{1f426}";
const VECTOR_PASSPHRASE: &str = "correct horse battery staple";

fn write_vectors() {
    let dir = vectors();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let alice = User::new();
    let bob = User::new();
    let carol = User::new();
    let card_a = alice.keygen("alice", "age");
    let card_b = bob.keygen("bob", "age");
    std::fs::write(carol.path("pass"), VECTOR_PASSPHRASE).unwrap();
    let pass = carol.path("pass");
    carol
        .run(&[
            "keygen",
            "--name",
            "carol",
            "--passphrase-file",
            pass.to_str().unwrap(),
        ])
        .ok();
    alice.add_contact(&card_b);
    let sealed = alice.run(&["seal", "--to", "bob", VECTOR_BODY]).ok().stdout;
    std::fs::write(dir.join("alice-to-bob.age"), sealed).unwrap();
    // The test identities' files go inside the JSON (not as key files in the tree: the
    // hygiene test refuses those), as Rust tests keep theirs in string literals.
    let mut identities = serde_json::Map::new();
    for (u, name) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        let mut files = serde_json::Map::new();
        for f in ["identity.json", "age.key", "mailbox.key"] {
            let text = std::fs::read_to_string(u.path("identity").join(f)).unwrap();
            files.insert(f.into(), Value::String(text));
        }
        identities.insert(name.into(), Value::Object(files));
    }
    let seed_hex = identities["alice"]["mailbox.key"].as_str().unwrap();
    let seed: [u8; 32] = hex::decode(seed_hex.trim()).unwrap().try_into().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let mbox = pigeon::wire::mailbox_id(key.verifying_key().as_bytes());
    let (host, path, query, time) = (
        "127.0.0.1:7447",
        format!("/v1/mailboxes/{mbox}"),
        "after=0&limit=100&wait=25",
        1_700_000_000u64,
    );
    let headers: serde_json::Map<String, Value> =
        pigeon::wire::sign_request(&key, "GET", host, &path, query, time)
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect();
    let fixed = json!({
        "body": VECTOR_BODY,
        "passphrase": VECTOR_PASSPHRASE,
        "note": "test identities made by tests/integration/web.rs for web/test; never use them",
        "cards": {"alice": card_a.trim(), "bob": card_b.trim()},
        "identities": identities,
        "request": {"method": "GET", "host": host, "path": path, "query": query,
            "time": time, "headers": headers},
    });
    std::fs::write(
        dir.join("vectors.json"),
        serde_json::to_string_pretty(&fixed).unwrap() + "\n",
    )
    .unwrap();
}

/// The TypeScript unit tests (web/test/*.test.ts, node's test runner) against the vectors,
/// and a message sealed by the TypeScript that `pigeon open` checks.
#[test]
fn web_unit_tests_pass_against_the_cli_vectors() {
    let node = npm_ready();
    let web = web_dir();
    let run = |args: &[&str]| super::node_ok(&node, &web, args);
    run(&["build.mjs", "--tests"]);
    run(&["--test", ".test-build/wire.test.mjs"]);

    // The other way: what the TypeScript seals, the CLI opens and checks (no browser needed).
    let fixed: Value =
        serde_json::from_slice(&std::fs::read(vectors().join("vectors.json")).unwrap()).unwrap();
    let alice = User::new();
    std::fs::create_dir_all(alice.path("identity")).unwrap();
    for f in ["identity.json", "age.key", "mailbox.key"] {
        let text = fixed["identities"]["alice"][f].as_str().unwrap();
        std::fs::write(alice.path("identity").join(f), text).unwrap();
    }
    alice.add_contact(fixed["cards"]["bob"].as_str().unwrap());
    let sealed = alice.path("from-web.age");
    let body = "from TypeScript: h\u{e9}llo <b>\n";
    run(&[".test-build/seal-cli.mjs", sealed.to_str().unwrap(), body]);
    let out = alice.run(&["open", sealed.to_str().unwrap()]).ok().one();
    assert_eq!(out["body"], body);
    assert_eq!(out["kind"], "file");
    assert_eq!(out["from"]["name"], "bob");
    assert_eq!(out["from"]["known"], true);
    assert_eq!(out["files"][0]["name"], "from-web.bin");
}
