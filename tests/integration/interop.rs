//! The real `age` and `gpg` programs against pigeon's files and messages, both ways.

use std::process::Command;

use serde_json::Value;

use crate::users::{Run, User, pair, run};

/// A throwaway GnuPG home; its agent is stopped on drop.
struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    fn new() -> Gpg {
        Gpg {
            home: tempfile::tempdir().unwrap(),
        }
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("gpg");
        c.arg("--homedir")
            .arg(self.home.path())
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--trust-model",
                "always",
            ])
            .args(args);
        c
    }
    fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        run(self.cmd(args), stdin)
    }
    fn import(&self, armored: &[u8]) {
        self.run(&["--import"], armored).ok();
    }
    fn fingerprint(&self, uid: &str) -> String {
        let out = self.run(&["--with-colons", "--list-keys", uid], b"").ok();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .unwrap()
            .to_lowercase()
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "all"])
            .status();
    }
}

fn card_of(u: &User) -> Value {
    serde_json::from_slice(&u.run(&["card"]).ok().stdout).unwrap()
}

fn age(args: &[&str], stdin: &[u8]) -> Run {
    let mut c = Command::new("age");
    c.args(args);
    run(c, stdin)
}

#[test]
fn age_cli_opens_pigeon_ciphertext_with_pigeons_identity_file() {
    let (alice, bob) = pair("age", "age");
    let ct = alice
        .run(&["seal", "--to", "bob", "hello from pigeon"])
        .ok()
        .stdout;
    let key = bob.path("identity/age.key");
    let plain = age(&["-d", "-i", key.to_str().unwrap()], &ct).ok();
    let frame: Value = serde_json::from_slice(plain.stdout.trim_ascii_end()).unwrap();
    let inner: Value = serde_json::from_str(frame["msg"].as_str().unwrap()).unwrap();
    assert_eq!(inner["body"], "hello from pigeon");
    assert_eq!(
        plain.stdout.len().count_ones(),
        1,
        "plaintext is padded to a power of two"
    );
    // And pigeon itself, for comparison.
    let m = bob.run_in(&["open"], &ct).ok().one();
    assert_eq!(m["body"], "hello from pigeon");
    assert_eq!(m["from"]["name"], "alice");
    assert_eq!(m["from"]["known"], true);
}

#[test]
fn pigeon_opens_age_cli_ciphertext_only_when_unsigned_is_allowed() {
    let bob = User::new();
    let card: Value = serde_json::from_str(&bob.keygen("bob", "age")).unwrap();
    let ct = age(&["-r", card["age"].as_str().unwrap()], b"plain age message")
        .ok()
        .stdout;
    let refused = bob.run_in(&["open"], &ct).code(4);
    assert!(
        refused.stderr.contains("--allow-unsigned"),
        "{}",
        refused.stderr
    );
    let m = bob.run_in(&["open", "--allow-unsigned"], &ct).ok().one();
    assert_eq!(m["body"], "plain age message");
    assert_eq!(m["signed"], false);
    assert_eq!(m["from"], Value::Null);
}

#[test]
fn gpg_decrypts_and_verifies_pigeon_pgp_messages() {
    let (alice, bob) = pair("pgp", "pgp");
    let ct = alice
        .run(&["seal", "--to", "bob", "--armor", "signed by alice"])
        .ok()
        .stdout;
    let gpg = Gpg::new();
    gpg.import(&std::fs::read(bob.path("identity/pgp.key")).unwrap());
    gpg.import(card_of(&alice)["pgp"].as_str().unwrap().as_bytes());
    let out = gpg.run(&["--status-fd", "2", "--decrypt"], &ct).ok();
    assert!(out.stderr.contains("[GNUPG:] GOODSIG"), "{}", out.stderr);
    let frame: Value = serde_json::from_slice(out.stdout.trim_ascii_end()).unwrap();
    assert!(frame["msg"].as_str().unwrap().contains("signed by alice"));
}

#[test]
fn pigeon_imports_a_protected_gpg_key_and_verifies_gpg_messages() {
    let gpg = Gpg::new();
    let pw = ["--passphrase", "gail's pw"];
    let mut keygen = vec![
        "--quick-gen-key",
        "Gail <gail@example.org>",
        "ed25519",
        "sign",
        "0",
    ];
    keygen.splice(0..0, pw);
    gpg.run(&keygen, b"").ok();
    let fpr = gpg.fingerprint("gail@example.org");
    let mut add = vec!["--quick-add-key", &fpr, "cv25519", "encr", "0"];
    add.splice(0..0, pw);
    gpg.run(&add, b"").ok();
    let mut export = vec!["--armor", "--export-secret-keys", "gail@example.org"];
    export.splice(0..0, pw);
    let secret = gpg.run(&export, b"").ok().stdout;

    // Gail brings her gpg key to pigeon; without the passphrase the import explains itself.
    let gail = User::new();
    let r = gail
        .run_in(&["keygen", "--kind", "pgp", "--import", "-"], &secret)
        .code(4);
    assert!(r.stderr.contains("PIGEON_GPG_PASSPHRASE"), "{}", r.stderr);
    let mut c = gail.cmd(&["keygen", "--kind", "pgp", "--import", "-"]);
    c.env("PIGEON_GPG_PASSPHRASE", "gail's pw");
    let id = run(c, &secret).ok().one();
    assert_eq!(id["fingerprint"], fpr);
    assert_eq!(id["name"], "Gail");

    // Bob (pigeon, pgp) pins Gail's card; Gail writes to him with plain gpg.
    let bob = User::new();
    let bob_card: Value = serde_json::from_str(&bob.keygen("bob", "pgp")).unwrap();
    bob.add_contact(&String::from_utf8(gail.run(&["card"]).ok().stdout).unwrap());
    gpg.import(bob_card["pgp"].as_str().unwrap().as_bytes());
    let bob_fpr = bob_card["fingerprint"].as_str().unwrap();
    let mut enc = vec!["--sign", "--encrypt", "--armor", "-u", &fpr, "-r", bob_fpr];
    enc.splice(0..0, pw);
    let ct = gpg.run(&enc, b"hello bob, from gpg").ok().stdout;
    let m = bob.run_in(&["open"], &ct).ok().one();
    assert_eq!(m["body"], "hello bob, from gpg");
    assert_eq!(m["signed"], true);
    assert_eq!(m["from"]["fingerprint"], fpr);
    assert_eq!(m["from"]["known"], true);

    // Pigeon messages to the imported identity open too.
    gail.add_contact(&serde_json::to_string(&bob_card).unwrap());
    let ct = bob.run(&["seal", "--to", "Gail", "hi gail"]).ok().stdout;
    let m = gail.run_in(&["open"], &ct).ok().one();
    assert_eq!(m["body"], "hi gail");
    // And gpg can read what pigeon sealed to Gail's gpg key.
    gpg.import(card_of(&bob)["pgp"].as_str().unwrap().as_bytes());
    let mut dec = vec!["--status-fd", "2", "--decrypt"];
    dec.splice(0..0, pw);
    let out = gpg.run(&dec, &ct).ok();
    assert!(out.stderr.contains("GOODSIG"), "{}", out.stderr);
}

/// Decrypts with the real `age` (as `who`), lets `edit` change the frame, re-encrypts to `to`.
fn reframe(who: &User, ct: &[u8], to_age: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let key = who.path("identity/age.key");
    let plain = age(&["-d", "-i", key.to_str().unwrap()], ct).ok().stdout;
    let mut frame: Value = serde_json::from_slice(plain.trim_ascii_end()).unwrap();
    edit(&mut frame);
    age(&["-r", to_age], frame.to_string().as_bytes())
        .ok()
        .stdout
}

#[test]
fn tampered_forged_and_forwarded_messages_are_refused() {
    let (alice, bob) = pair("age", "age");
    let bob_age = card_of(&bob)["age"].as_str().unwrap().to_string();
    let ct = alice.run(&["seal", "--to", "bob", "original"]).ok().stdout;

    // One flipped byte.
    let mut bad = ct.clone();
    let n = bad.len() - 20;
    bad[n] ^= 1;
    let r = bob.run_in(&["open"], &bad).code(4);
    assert!(r.stdout.is_empty());

    // The body changed after signing.
    let forged = reframe(&bob, &ct, &bob_age, |f| {
        let msg = f["msg"].as_str().unwrap().replace("original", "forged!!");
        f["msg"] = Value::String(msg);
    });
    assert!(bob.run_in(&["open"], &forged).code(4).stdout.is_empty());

    // Signed by another key: mallory's card and signature on alice's message.
    let mallory = User::new();
    mallory.keygen("mallory", "age");
    mallory.add_contact(&serde_json::to_string(&card_of(&bob)).unwrap());
    let mct = mallory.run(&["seal", "--to", "bob", "x"]).ok().stdout;
    let mkey = bob.path("identity/age.key");
    let mplain = age(&["-d", "-i", mkey.to_str().unwrap()], &mct).ok().stdout;
    let mframe: Value = serde_json::from_slice(mplain.trim_ascii_end()).unwrap();
    let swapped = reframe(&bob, &ct, &bob_age, |f| {
        f["card"] = mframe["card"].clone();
        f["sig"] = mframe["sig"].clone();
    });
    assert!(bob.run_in(&["open"], &swapped).code(4).stdout.is_empty());

    // Addressed to someone else: carol forwards what alice wrote to her.
    let carol = User::new();
    alice.add_contact(&carol.keygen("carol", "age"));
    let to_carol = alice
        .run(&["seal", "--to", "carol", "for carol only"])
        .ok()
        .stdout;
    let forwarded = reframe(&carol, &to_carol, &bob_age, |_| {});
    let r = bob.run_in(&["open"], &forwarded).code(4);
    assert!(r.stderr.contains("someone else"), "{}", r.stderr);
    assert!(r.stdout.is_empty());

    // A third party cannot open it at all.
    carol.run_in(&["open"], &ct).code(4);
}

#[test]
fn mixed_kinds_open_each_way() {
    let (alice, bob) = pair("age", "pgp");
    let ct = alice
        .run(&["seal", "--to", "bob", "age to pgp"])
        .ok()
        .stdout;
    assert_eq!(bob.run_in(&["open"], &ct).ok().one()["body"], "age to pgp");
    let ct = bob
        .run(&["seal", "--to", "alice", "pgp to age"])
        .ok()
        .stdout;
    assert_eq!(
        alice.run_in(&["open"], &ct).ok().one()["body"],
        "pgp to age"
    );
}
