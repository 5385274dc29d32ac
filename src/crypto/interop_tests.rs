//! Interop with the real `age` (1.1) and `gpg` (2.2) programs, in temporary directories with an
//! isolated GNUPGHOME. Every external call is bounded by `timeout`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::*;

const INNER: &[u8] = br#"{"v":1,"id":"ab12","body":"hello from pigeon"}"#;
const CARD: &[u8] = br#"{"v":1,"name":"sender"}"#;

/// Runs `prog args…` under `timeout 120`, feeding `stdin`.
fn run(prog: &str, args: &[&str], envs: &[(&str, &Path)], stdin: &[u8]) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.arg("120").arg(prog).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {prog}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

fn ok(out: Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn write_secret_files(id: &SecretIdentity, dir: &Path) {
    for (name, bytes) in id.to_secret_files() {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// An isolated GnuPG home; its agent is killed on drop (also when a test panics).
struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    fn new() -> Gpg {
        let home = tempfile::Builder::new().prefix("pgpg").tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        Gpg { home }
    }

    fn raw(&self, args: &[&str], stdin: &[u8]) -> Output {
        let home = self.home.path();
        let mut full = vec![
            "--homedir",
            home.to_str().unwrap(),
            "--batch",
            "--no-tty",
            "--pinentry-mode",
            "loopback",
            "--trust-model",
            "always",
        ];
        full.extend_from_slice(args);
        run("gpg", &full, &[("GNUPGHOME", home)], stdin)
    }

    fn ok(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        ok(self.raw(args, stdin), &format!("gpg {args:?}"))
    }

    fn import(&self, key: &[u8]) {
        self.ok(&["--import"], key);
    }

    /// Makes a passphrase-protected key pair (`algo` sign primary + encryption subkey).
    fn gen_key(&self, uid: &str, sign_algo: &str, encr_algo: &str, pw: &str) -> String {
        self.ok(
            &[
                "--passphrase",
                pw,
                "--quick-gen-key",
                uid,
                sign_algo,
                "sign",
                "0",
            ],
            b"",
        );
        let colons =
            String::from_utf8(self.ok(&["--with-colons", "--list-keys", uid], b"")).unwrap();
        let fpr = colons
            .lines()
            .find_map(|l| l.strip_prefix("fpr:::::::::"))
            .and_then(|l| l.split(':').next())
            .unwrap()
            .to_owned();
        self.ok(
            &[
                "--passphrase",
                pw,
                "--quick-add-key",
                &fpr,
                encr_algo,
                "encr",
                "0",
            ],
            b"",
        );
        fpr
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let home = self.home.path();
        let _ = run(
            "gpgconf",
            &["--homedir", home.to_str().unwrap(), "--kill", "all"],
            &[("GNUPGHOME", home)],
            b"",
        );
    }
}

fn frame_msg(frame: &[u8]) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_slice(frame).expect("output is the JSON frame");
    assert_eq!(v["pigeon"], 1);
    v["msg"].as_str().unwrap().as_bytes().to_vec()
}

#[test]
fn age_cli_decrypts_pigeon_age_messages() {
    let dir = tempfile::tempdir().unwrap();
    let alice = SecretIdentity::generate(Kind::Age, "alice").unwrap();
    let bob = SecretIdentity::generate(Kind::Age, "bob").unwrap();
    write_secret_files(&bob, dir.path());
    let key = dir.path().join("age.key");
    // `age -d -i KEY` of a ciphertext.
    let age_d = |key: &std::path::Path, ct: &[u8]| {
        run("age", &["-d", "-i", key.to_str().unwrap()], &[], ct)
    };
    for armor in [false, true] {
        let sealed = seal(&alice, &[&bob.public()], INNER, CARD, armor).unwrap();
        let out = ok(age_d(&key, &sealed[0].ciphertext), "age -d");
        assert_eq!(frame_msg(&out), INNER);
    }
    // A pgp sender sealing to an age recipient: still a standard age file.
    let pat = SecretIdentity::generate(Kind::Pgp, "Pat").unwrap();
    let sealed = seal(&pat, &[&bob.public()], INNER, CARD, false).unwrap();
    let out = ok(age_d(&key, &sealed[0].ciphertext), "age -d");
    assert_eq!(frame_msg(&out), INNER);
    // A wrong key: the real age refuses too.
    let eve = SecretIdentity::generate(Kind::Age, "eve").unwrap();
    let edir = tempfile::tempdir().unwrap();
    write_secret_files(&eve, edir.path());
    let out = age_d(&edir.path().join("age.key"), &sealed[0].ciphertext);
    assert!(!out.status.success());
}

#[test]
fn pigeon_opens_what_age_cli_encrypted() {
    let bob = SecretIdentity::generate(Kind::Age, "bob").unwrap();
    let recipient = bob.public().age_recipient().unwrap();
    for extra in [&[][..], &["-a"][..]] {
        let mut args = vec!["-r", recipient.as_str()];
        args.extend_from_slice(extra);
        let ct = ok(run("age", &args, &[], b"plain text from age\n"), "age -r");
        match open(&bob, &ct, &[]).unwrap() {
            Opened::Foreign { plaintext, signer } => {
                assert_eq!(plaintext, b"plain text from age\n");
                assert_eq!(signer, None);
            }
            other => panic!("expected Foreign, got {other:?}"),
        }
        let eve = SecretIdentity::generate(Kind::Age, "eve").unwrap();
        assert!(open(&eve, &ct, &[]).is_err());
    }
}

#[test]
fn gpg_decrypts_pigeon_pgp_messages_with_goodsig() {
    let gpg = Gpg::new();
    let sender = SecretIdentity::generate(Kind::Pgp, "Sender").unwrap();
    let rcpt = SecretIdentity::generate(Kind::Pgp, "Rcpt").unwrap();
    gpg.import(sender.public().pgp_armored().unwrap().as_bytes());
    gpg.import(&rcpt.to_secret_files()[0].1);
    for armor in [true, false] {
        let sealed = seal(&sender, &[&rcpt.public()], INNER, CARD, armor).unwrap();
        let out = gpg.raw(&["--status-fd", "2", "-d"], &sealed[0].ciphertext);
        let status = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "gpg -d failed:\n{status}");
        assert!(
            status.contains("[GNUPG:] GOODSIG "),
            "no GOODSIG in:\n{status}"
        );
        // VALIDSIG names the sender's primary key fingerprint last.
        let validsig = status
            .lines()
            .find(|l| l.starts_with("[GNUPG:] VALIDSIG "))
            .unwrap_or_else(|| panic!("no VALIDSIG in:\n{status}"));
        assert!(
            validsig.ends_with(&sender.fingerprint().to_uppercase()),
            "{validsig}"
        );
        assert!(status.contains("[GNUPG:] DECRYPTION_OKAY"), "{status}");
        assert_eq!(frame_msg(&out.stdout), INNER);
    }
    // An age sender's OpenPGP message is unsigned but still decrypts in gpg.
    let alice = SecretIdentity::generate(Kind::Age, "alice").unwrap();
    let sealed = seal(&alice, &[&rcpt.public()], INNER, CARD, true).unwrap();
    let out = gpg.raw(&["--status-fd", "2", "-d"], &sealed[0].ciphertext);
    let status = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{status}");
    assert!(!status.contains("GOODSIG"), "{status}");
    assert_eq!(frame_msg(&out.stdout), INNER);
}

/// Gail's key made by gpg itself, imported into pigeon, in both directions.
fn gpg_key_interop(sign_algo: &str, encr_algo: &str) {
    let gpg = Gpg::new();
    let fpr = gpg.gen_key("Gail <gail@x>", sign_algo, encr_algo, "pw");
    let tsk = gpg.ok(
        &[
            "--passphrase",
            "pw",
            "--armor",
            "--export-secret-keys",
            &fpr,
        ],
        b"",
    );
    assert!(tsk.starts_with(b"-----BEGIN PGP PRIVATE KEY BLOCK-----"));

    for bad in [None, Some("wrong")] {
        let err = SecretIdentity::import_pgp(&tsk, bad).expect_err("must fail");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("PIGEON_GPG_PASSPHRASE") && msg.contains("--import-passphrase-file"),
            "{msg}"
        );
    }
    let gail = SecretIdentity::import_pgp(&tsk, Some("pw")).unwrap();
    assert_eq!(gail.fingerprint(), fpr.to_lowercase());
    assert_eq!(gail.pgp_user_name().as_deref(), Some("Gail"));
    // The stored key is usable without the passphrase after a reload.
    let gail = super::tests::reload(&gail);

    // gpg signs and encrypts to a pigeon identity.
    let pia = SecretIdentity::generate(Kind::Pgp, "Pia").unwrap();
    gpg.import(pia.public().pgp_armored().unwrap().as_bytes());
    let pia_fp = pia.fingerprint();
    for armor in [&[][..], &["--armor"][..]] {
        let mut args = vec!["--passphrase", "pw", "--local-user", &fpr, "-r", &pia_fp];
        args.extend_from_slice(armor);
        args.extend_from_slice(&["--sign", "--encrypt"]);
        let ct = gpg.ok(&args, b"signed by gail\n");
        match open(&pia, &ct, &[gail.public()]).unwrap() {
            Opened::Foreign { plaintext, signer } => {
                assert_eq!(plaintext, b"signed by gail\n");
                assert_eq!(signer, Some(fpr.to_lowercase()));
            }
            other => panic!("expected Foreign, got {other:?}"),
        }
        match open(&pia, &ct, &[]).unwrap() {
            Opened::Foreign { signer, .. } => assert_eq!(signer, None),
            other => panic!("expected Foreign, got {other:?}"),
        }
        assert!(open(&gail, &ct, &[]).is_err(), "not encrypted to gail");
    }

    // gpg encrypts to Gail herself; the imported identity decrypts.
    let ct = gpg.ok(&["-r", &fpr, "--encrypt"], b"to gail\n");
    match open(&gail, &ct, &[]).unwrap() {
        Opened::Foreign { plaintext, .. } => assert_eq!(plaintext, b"to gail\n"),
        other => panic!("expected Foreign, got {other:?}"),
    }

    // The imported identity sends with pigeon: gpg (holding Gail's secret) reads it with GOODSIG
    // from Pia, and Pia reads Gail's message and verifies the in-frame signature.
    let sealed = seal(&pia, &[&gail.public()], INNER, CARD, true).unwrap();
    let out = gpg.raw(
        &["--passphrase", "pw", "--status-fd", "2", "-d"],
        &sealed[0].ciphertext,
    );
    let status = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success() && status.contains("[GNUPG:] GOODSIG"),
        "{status}"
    );
    assert_eq!(frame_msg(&out.stdout), INNER);
    let sealed = seal(&gail, &[&pia.public()], INNER, CARD, false).unwrap();
    match open(&pia, &sealed[0].ciphertext, &[gail.public()]).unwrap() {
        Opened::Pigeon { inner, sig, .. } => {
            assert_eq!(inner, INNER);
            gail.public().verify(MSG_DOMAIN, &inner, &sig).unwrap();
        }
        other => panic!("expected Pigeon, got {other:?}"),
    }
}

#[test]
fn gpg_ed25519_key_imports_and_interoperates() {
    gpg_key_interop("ed25519", "cv25519");
}

#[test]
fn gpg_rsa_key_imports_and_interoperates() {
    gpg_key_interop("rsa2048", "rsa2048");
}

/// Runs `age` on a pseudo-terminal (it reads passphrases only from a terminal), typing `typed`.
fn age_on_tty(args: &str, typed: &[u8]) -> Output {
    run(
        "script",
        &["-qec", &format!("age {args}"), "/dev/null"],
        &[],
        typed,
    )
}

#[test]
fn age_cli_opens_protected_files_and_pigeon_opens_age_passphrase_files() {
    let dir = tempfile::tempdir().unwrap();
    let secret = b"AGE-SECRET-KEY-1PIGEONTESTONLY\n";
    let boxed = dir.path().join("boxed.age");
    std::fs::write(&boxed, protect(secret, "pw one").unwrap()).unwrap();
    let out = dir.path().join("out");
    let args = format!("-d -o {} {}", out.display(), boxed.display());
    ok(age_on_tty(&args, b"pw one\n"), "age -d (passphrase)");
    assert_eq!(std::fs::read(&out).unwrap(), secret);

    let plain = dir.path().join("plain");
    std::fs::write(&plain, secret).unwrap();
    let made = dir.path().join("made.age");
    let args = format!("-p -o {} {}", made.display(), plain.display());
    ok(age_on_tty(&args, b"pw two\npw two\n"), "age -p");
    let made = std::fs::read(&made).unwrap();
    assert!(made.starts_with(b"age-encryption.org/v1\n"));
    assert!(is_protected(&made));
    assert_eq!(unprotect(&made, "pw two").unwrap(), secret);
    assert!(unprotect(&made, "pw one").is_err());
}
