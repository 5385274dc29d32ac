//! Identities, cards, contacts, relays on the card, and the CLI contract around them.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::users::{User, pair};

#[test]
fn keygen_prints_identity_and_writes_private_secrets() {
    let u = User::new();
    let id = u.run(&["keygen", "--name", "alice"]).ok().one();
    assert_eq!(id["type"], "identity");
    assert_eq!(id["kind"], "age");
    assert_eq!(id["name"], "alice");
    assert_eq!(id["fingerprint"].as_str().unwrap().len(), 40);
    assert_eq!(id["mailbox"].as_str().unwrap().len(), 64);
    for f in [
        "identity/age.key",
        "identity/mailbox.key",
        "identity/identity.json",
    ] {
        let mode = std::fs::metadata(u.path(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    let key = std::fs::read_to_string(u.path("identity/age.key")).unwrap();
    assert!(key.contains("AGE-SECRET-KEY-1"));

    // No silent overwrite; --force replaces.
    let again = u.run(&["keygen", "--name", "alice"]).code(1);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(u.path("identity/age.key")).unwrap(),
        key
    );
    let new = u
        .run(&["keygen", "--name", "alice", "--kind", "pgp", "--force"])
        .ok()
        .one();
    assert_eq!(new["kind"], "pgp");
    assert_ne!(new["fingerprint"], id["fingerprint"]);
    assert!(!u.path("identity/age.key").exists());
    assert!(u.path("identity/pgp.key").exists());
}

#[test]
fn passphrase_protects_secret_keys() {
    let u = User::new();
    let mut c = u.cmd(&["keygen", "--name", "alice"]);
    c.env("PIGEON_PASSPHRASE", "correct horse");
    let id = crate::users::run(c, b"").ok().one();
    assert_eq!(id["protected"], true);
    let key = std::fs::read_to_string(u.path("identity/age.key")).unwrap();
    assert!(
        !key.contains("AGE-SECRET-KEY"),
        "secret stored in the clear"
    );

    let locked = u.run(&["card"]).code(4);
    assert!(
        locked.stderr.contains("PIGEON_PASSPHRASE"),
        "{}",
        locked.stderr
    );
    let mut c = u.cmd(&["card"]);
    c.env("PIGEON_PASSPHRASE", "wrong");
    crate::users::run(c, b"").code(4);
    std::fs::write(u.path("pass"), "correct horse\n").unwrap();
    let card = u
        .run(&[
            "card",
            "--passphrase-file",
            u.path("pass").to_str().unwrap(),
        ])
        .ok()
        .one();
    assert_eq!(card["fingerprint"], id["fingerprint"]);
}

#[test]
fn cards_pin_contacts_and_key_changes_are_refused() {
    let (alice, bob) = pair("age", "pgp");
    let list = alice.run(&["contact", "list"]).ok().json();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "bob");
    assert_eq!(list[0]["kind"], "pgp");
    assert_eq!(list[0]["verified"], false);

    // A different key claiming the name bob is refused with a way forward.
    let mallory = User::new();
    let fake = mallory.keygen("bob", "age");
    let refused = alice.run_in(&["contact", "add"], fake.as_bytes()).code(4);
    assert!(refused.stderr.contains("KEY CHANGE"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("--accept-new-key"),
        "{}",
        refused.stderr
    );
    let still = alice.run(&["contact", "show", "bob"]).ok().one();
    assert_eq!(still["kind"], "pgp");
    let accepted = alice
        .run_in(&["contact", "add", "--accept-new-key"], fake.as_bytes())
        .ok()
        .one();
    assert_eq!(accepted["status"], "key_changed");
    assert_eq!(alice.run(&["contact", "list"]).ok().json().len(), 1);

    // Verify records an out-of-band check; a wrong fingerprint is refused.
    let fp = accepted["fingerprint"].as_str().unwrap().to_uppercase();
    alice
        .run(&["contact", "verify", "bob", "--fingerprint", "0000000000"])
        .code(4);
    let v = alice
        .run(&["contact", "verify", "bob", "--fingerprint", &fp])
        .ok()
        .one();
    assert_eq!(v["verified"], true);
    alice.run(&["contact", "remove", "bob"]).ok();
    alice.run(&["contact", "show", "bob"]).code(5);
    drop(bob);
}

#[test]
fn tampered_or_malformed_cards_are_refused() {
    let alice = User::new();
    let card = alice.keygen("alice", "age");
    let bob = User::new();
    bob.keygen("bob", "age");
    let mut v: Value = serde_json::from_str(&card).unwrap();
    v["relays"] = serde_json::json!(["http://evil.example"]);
    bob.run_in(&["contact", "add"], v.to_string().as_bytes())
        .code(4);
    bob.run_in(&["contact", "add"], b"not json").code(2);
    // An unknown field added after signing is covered by the signature too.
    let mut v: Value = serde_json::from_str(&card).unwrap();
    v["extra"] = serde_json::json!(1);
    bob.run_in(&["contact", "add"], v.to_string().as_bytes())
        .code(4);
    assert!(bob.run(&["contact", "list"]).ok().json().is_empty());
}

#[test]
fn relay_changes_bump_the_card_and_contacts_follow() {
    let (alice, bob) = pair("age", "age");
    let before: Value = serde_json::from_slice(&alice.run(&["card"]).ok().stdout).unwrap();
    let added = alice
        .run(&["relay", "add", "http://127.0.0.1:7447/"])
        .ok()
        .one();
    assert_eq!(added["url"], "http://127.0.0.1:7447");
    let after: Value = serde_json::from_slice(&alice.run(&["card"]).ok().stdout).unwrap();
    assert!(after["seq"].as_u64() > before["seq"].as_u64());
    assert_eq!(
        after["relays"],
        serde_json::json!(["http://127.0.0.1:7447"])
    );
    assert_eq!(alice.run(&["relay", "list"]).ok().json().len(), 1);
    alice.run(&["relay", "add", "ftp://x"]).code(2);
    alice.run(&["relay", "remove", "http://nowhere:1"]).code(5);

    let updated = bob
        .run_in(&["contact", "add"], after.to_string().as_bytes())
        .ok()
        .one();
    assert_eq!(updated["status"], "updated");
    assert_eq!(updated["relays"], after["relays"]);
    // The older card cannot roll the contact back.
    bob.run_in(&["contact", "add"], before.to_string().as_bytes())
        .code(4);
}

#[test]
fn errors_have_codes_and_hints() {
    let u = User::new();
    let r = u.run(&["card"]).code(5);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(r.stderr.contains("hint: "), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    u.run(&["keygen"]).code(2);
    u.run(&["keygen", "--name", "../x"]).code(2);
    u.run(&["no-such-command"]).code(2);
    u.run(&["keygen", "--name", "a"]).ok();
    u.run(&["seal", "--to", "nobody", "hi"]).code(5);
    std::fs::write(u.path("config.toml"), "[identity]\nbogus = 1\n").unwrap();
    let r = u.run(&["card"]).code(2);
    assert!(r.stderr.contains("bogus"), "{}", r.stderr);
}

#[test]
fn xdg_directories_are_used_without_pigeon_home() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = std::process::Command::new(crate::users::PIGEON);
    c.args(["keygen", "--name", "x", "--quiet"])
        .env_remove("PIGEON_HOME")
        .env("XDG_DATA_HOME", tmp.path().join("data"))
        .env("XDG_CONFIG_HOME", tmp.path().join("cfg"));
    let r = crate::users::run(c, b"").ok();
    assert!(r.stderr.is_empty(), "--quiet printed: {}", r.stderr);
    assert!(
        tmp.path()
            .join("data/pigeon/identity/identity.json")
            .exists()
    );
}

#[test]
fn an_aging_card_is_reissued_before_it_expires() {
    let u = User::new();
    u.run(&["keygen", "--name", "old"]).ok();
    let path = u.path("identity/identity.json");
    let mut meta: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let now = meta["issued"].as_u64().unwrap();
    meta["issued"] = serde_json::json!(now - 400 * 86_400);
    std::fs::write(&path, meta.to_string()).unwrap();
    let card: Value = serde_json::from_slice(&u.run(&["card"]).ok().stdout).unwrap();
    assert_eq!(card["seq"], 2, "re-issued with a higher seq");
    assert!(card["issued"].as_u64().unwrap() >= now);
    assert!(card["expires"].as_u64().unwrap() > now + 365 * 86_400);
    let other = User::new();
    other.run(&["keygen", "--name", "x"]).ok();
    other
        .run_in(&["contact", "add"], card.to_string().as_bytes())
        .ok();
}
