//! What the ciphertext says: a group message is sealed once per kind to the current
//! members; a removed member is not among its recipients (their key opens nothing), and
//! a newcomer's key cannot open what was sent before they joined.

use std::process::Command;

use super::{Person, bodies, change};
use crate::users::Relay;

/// The key ids of the PKESK packets of an OpenPGP message (`gpg --list-packets`), and
/// whether it is one (an age file starts with its own header instead).
fn pgp_recipients(ct: &[u8]) -> Option<Vec<String>> {
    if ct.starts_with(b"age-encryption.org/") {
        return None;
    }
    let gnupg = tempfile::tempdir().unwrap();
    let file = gnupg.path().join("msg.pgp");
    std::fs::write(&file, ct).unwrap();
    let out = Command::new("gpg")
        .env("GNUPGHOME", gnupg.path())
        .args(["--batch", "--list-packets"])
        .arg(&file)
        .output()
        .expect("gpg");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Some(
        text.lines()
            .filter(|l| l.starts_with(":pubkey enc packet:"))
            .map(|l| l.rsplit("keyid ").next().unwrap().trim().to_lowercase())
            .collect(),
    )
}

/// The number of X25519 recipient stanzas in an age header.
fn age_stanzas(ct: &[u8]) -> usize {
    let header_end = ct.windows(4).position(|w| w == b"\n---").unwrap();
    let header = String::from_utf8_lossy(&ct[..header_end]);
    header
        .lines()
        .filter(|l| l.starts_with("-> X25519 "))
        .count()
}

/// The key ids of a pgp user's encryption subkeys (from their card's certificate).
fn encryption_key_ids(p: &Person) -> Vec<String> {
    let card: serde_json::Value = serde_json::from_str(&p.card).unwrap();
    let gnupg = tempfile::tempdir().unwrap();
    let file = gnupg.path().join("cert.asc");
    std::fs::write(&file, card["pgp"].as_str().unwrap()).unwrap();
    let out = Command::new("gpg")
        .env("GNUPGHOME", gnupg.path())
        .args([
            "--batch",
            "--with-colons",
            "--import-options",
            "show-only",
            "--import",
        ])
        .arg(&file)
        .output()
        .expect("gpg");
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("sub:") && l.split(':').nth(11).is_some_and(|c| c.contains('e')))
        .map(|l| l.split(':').nth(4).unwrap().to_lowercase())
        .collect();
    assert!(!ids.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    ids
}

/// The ciphertexts of message `id` in `p`'s mailbox.
fn ciphertexts(p: &Person, relays: &[&Relay], id: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for r in relays {
        out.extend(
            p.raw_mailbox(r)
                .into_iter()
                .filter(|(i, _)| i == id)
                .map(|(_, c)| c),
        );
    }
    out
}

#[test]
fn removed_and_new_members_cannot_open_what_is_not_theirs() {
    let (r1, r2) = (Relay::start(), Relay::start());
    let alice = Person::new("alice", "age", &[&r1]);
    let bob = Person::new("bob", "pgp", &[&r1, &r2]);
    let carol = Person::new("carol", "pgp", &[&r2]);
    let erin = Person::new("erin", "age", &[&r1]);
    let dave = Person::new("dave", "age", &[&r2]);
    for p in [&bob, &carol, &erin, &dave] {
        alice.knows(p);
        p.knows(&alice);
    }
    change(
        &alice,
        &[
            "group", "create", "ops", "--member", "bob", "--member", "carol", "--member", "erin",
        ],
    );
    for p in [&bob, &carol, &erin] {
        p.recv();
    }

    // Sent before dave joins: one pgp message for bob and carol, one age file for erin.
    let before = alice
        .u
        .run(&["send", "--group", "ops", "before dave"])
        .ok()
        .one();
    let before_id = before["id"].as_str().unwrap();
    let cts = ciphertexts(&bob, &[&r1, &r2], before_id);
    assert_eq!(cts.len(), 2, "one copy on each of bob's relays");
    assert_eq!(
        cts[0], cts[1],
        "sealed once: the same ciphertext for every relay"
    );
    let mut pkesk = pgp_recipients(&cts[0]).expect("bob gets the OpenPGP one");
    pkesk.sort();
    let mut want = [encryption_key_ids(&bob), encryption_key_ids(&carol)].concat();
    want.sort();
    assert_eq!(pkesk, want);
    let erin_ct = ciphertexts(&erin, &[&r1], before_id);
    // erin, and alice herself: an age sender is a recipient of its own group message so
    // that every age member's stanza is at their rank.
    assert_eq!(age_stanzas(&erin_ct[0]), 2, "erin and alice");

    change(&alice, &["group", "add", "ops", "dave"]);
    // dave holds the group now, but neither copy of the earlier message opens for him.
    let r = dave.u.run(&["recv"]).ok();
    assert!(bodies(&r.json()).is_empty());
    for ct in [&cts[0], &erin_ct[0]] {
        assert!(dave.cannot_decrypt(ct), "a newcomer cannot open the past");
    }
    assert_eq!(bob.open(&cts[0]).1[0]["body"], "before dave");

    // carol is removed; the next message is not sealed to her key at all.
    change(&alice, &["group", "remove", "ops", "carol"]);
    for p in [&bob, &carol, &erin] {
        p.recv();
    }
    let after = alice
        .u
        .run(&["send", "--group", "ops", "after carol"])
        .ok()
        .one();
    let after_id = after["id"].as_str().unwrap();
    let cts = ciphertexts(&bob, &[&r1], after_id);
    let pkesk = pgp_recipients(&cts[0]).unwrap();
    assert_eq!(
        pkesk,
        encryption_key_ids(&bob),
        "only bob's key, not carol's"
    );
    assert!(
        carol.cannot_decrypt(&cts[0]),
        "carol's key opens nothing new"
    );
    let age_ct = ciphertexts(&dave, &[&r2], after_id);
    assert_eq!(age_stanzas(&age_ct[0]), 3, "erin, dave and alice");
    assert!(carol.cannot_decrypt(&age_ct[0]));
    assert!(ciphertexts(&carol, &[&r2], after_id).is_empty());
    assert!(carol.recv().is_empty(), "carol's recv gets nothing");
    assert_eq!(bodies(&dave.recv()), ["after carol"]);
}

/// The OpenPGP member certs' self-signatures are verified by the first send and kept
/// (`pgp-verified.cache`, 0600, whole 32-byte entries); a later send that meets no new
/// cert verifies nothing and leaves the file as it was.
#[test]
fn verified_openpgp_signatures_are_kept_for_the_next_send() {
    use std::os::unix::fs::PermissionsExt;
    let r = Relay::start();
    let alice = Person::new("alice", "age", &[&r]);
    let bob = Person::new("bob", "pgp", &[&r]);
    let carol = Person::new("carol", "pgp", &[&r]);
    for p in [&bob, &carol] {
        alice.knows(p);
        p.knows(&alice);
    }
    change(
        &alice,
        &[
            "group", "create", "ops", "--member", "bob", "--member", "carol",
        ],
    );
    let cache = alice.u.path("pgp-verified.cache");
    let meta = std::fs::metadata(&cache).expect("the verified signatures are kept");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let first = std::fs::read(&cache).unwrap();
    // Two certs, each a user id and a subkey binding at least.
    assert!(
        first.len() >= 4 * 32 && first.len().is_multiple_of(32),
        "{} bytes",
        first.len()
    );
    let stamp = meta.modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    alice.u.run(&["send", "--group", "ops", "again"]).ok();
    let after = std::fs::metadata(&cache).unwrap();
    assert_eq!(after.modified().unwrap(), stamp, "nothing new was verified");
    assert_eq!(std::fs::read(&cache).unwrap(), first);
    for p in [&bob, &carol] {
        assert!(bodies(&p.recv()).contains(&"again".to_string()));
    }
}
