//! A hostile relay and hostile senders against the real `recv` (issue 10, client side).
//! Messages a real pigeon would never send are built with the crate's own sealing code
//! from another user's identity, and posted straight into a real relay's mailbox (anyone
//! may post); a relay that lies about seqs is a small fake HTTP server in the test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use pigeon::home::Home;
use pigeon::keys::Identity;
use pigeon::wire::{Attachment, Inner};
use serde_json::{Value, json};

use crate::harness::agent;
use crate::users::{Relay, Run, User, pair_on};

pub(crate) fn card_of(u: &User) -> Value {
    serde_json::from_slice(&u.run(&["card"]).ok().stdout).unwrap()
}

pub(crate) fn identity(u: &User) -> Identity {
    Identity::load(&Home::at(u.dir.path()), None).unwrap()
}

/// A message from `from` to `to`, signed and sealed as pigeon does, after `edit` changed it.
pub(crate) fn craft(
    from: &Identity,
    to: &User,
    body: &str,
    edit: impl FnOnce(&mut Inner),
) -> (String, Vec<u8>) {
    let card = card_of(to);
    let (c, public) = pigeon::keys::verify_card(&card).unwrap();
    let mut inner = Inner {
        v: 1,
        id: pigeon::message::new_id(),
        from: from.meta.fingerprint.clone(),
        to: vec![c.fingerprint],
        group: None,
        ts: pigeon::wire::now(),
        kind: "text".into(),
        body: body.into(),
        files: Vec::new(),
        reply_to: None,
    };
    edit(&mut inner);
    let own = serde_json::to_vec(&from.card().unwrap()).unwrap();
    let sealed = pigeon::message::seal(from, &own, &[&public], &inner, false).unwrap();
    (inner.id, sealed[0].ciphertext.clone())
}

/// Posts an envelope into `to`'s mailbox on `relay`.
pub(crate) fn post(relay: &Relay, to: &User, id: &str, ct: &[u8]) {
    let mailbox = card_of(to)["mailbox"].as_str().unwrap().to_string();
    let r = agent()
        .post(format!("{}/v1/mailboxes/{mailbox}", relay.url))
        .send_json(json!({"v": 1, "id": id, "payload": B64.encode(ct)}))
        .unwrap();
    assert!(r.status().is_success(), "post: {}", r.status());
}

pub(crate) fn bodies(r: &Run) -> Vec<String> {
    r.json()
        .iter()
        .filter(|m| m["type"] == "message")
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn rejected(r: &Run) -> Vec<Value> {
    r.json()
        .into_iter()
        .filter(|m| m["type"] == "rejected")
        .collect()
}

/// What `u`'s mailbox still holds on its relays: fetched with --keep, by a copy of the
/// identity with an empty archive.
pub(crate) fn mailbox_len(u: &User) -> usize {
    let device = User::new();
    std::fs::create_dir_all(device.path("identity")).unwrap();
    for e in std::fs::read_dir(u.path("identity")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), device.path("identity").join(e.file_name())).unwrap();
    }
    let r = device.run(&["recv", "--keep", "--show-rejected"]);
    r.json().len()
}

#[test]
fn one_bad_message_between_two_good_ones_does_not_block_the_mailbox() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let a = identity(&alice);
    alice.run(&["send", "--to", "bob", "first"]).ok();
    // Verified signature, undecodable attachment.
    let bad_file = |i: &mut Inner| {
        i.files = vec![Attachment {
            name: "x.bin".into(),
            media_type: "application/octet-stream".into(),
            size: 3,
            data: "!!not base64!!".into(),
        }]
    };
    let (id, ct) = craft(&a, &bob, "bad", bad_file);
    post(&relay, &bob, &id, &ct);
    alice.run(&["send", "--to", "bob", "second"]).ok();

    let r = bob.run(&["recv", "--show-rejected"]).ok();
    assert_eq!(bodies(&r), ["first", "second"]);
    let rej = rejected(&r);
    assert_eq!(rej.len(), 1, "{:?}", r.json());
    assert_eq!(rej[0]["id"], id.as_str());
    assert!(
        rej[0]["reason"].as_str().unwrap().contains("base64"),
        "{rej:?}"
    );
    assert!(r.stderr.contains("rejected"), "{}", r.stderr);
    // Acknowledged like the rest: the next run is not stuck on it.
    let again = bob.run(&["recv", "--show-rejected"]).ok();
    assert!(again.stdout.is_empty(), "{:?}", again.json());
    assert_eq!(mailbox_len(&bob), 0);

    // Nor is --follow: a bad one, then a good one, while it runs.
    let mut follow = bob
        .cmd(&["recv", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (id, ct) = craft(&a, &bob, "bad too", |i| {
        i.files = vec![Attachment {
            name: "y".into(),
            media_type: "text/plain".into(),
            size: 1 << 40,
            data: "AAAA".into(),
        }]
    });
    post(&relay, &bob, &id, &ct);
    alice.run(&["send", "--to", "bob", "third"]).ok();
    let mut line = String::new();
    BufReader::new(follow.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = follow.kill();
    let _ = follow.wait();
    let m: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(m["body"], "third");
}

#[test]
fn a_copied_id_from_another_sender_is_refused_and_never_hides_the_real_message() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let mallory = User::new();
    mallory.keygen("mallory", "age");
    let (a, m) = (identity(&alice), identity(&mallory));
    let file = |data: &[u8]| Attachment {
        name: "report.txt".into(),
        media_type: "text/plain".into(),
        size: data.len() as u64,
        data: B64.encode(data),
    };

    // Alice's message first, then mallory's with the same id: mallory's is refused.
    let (id, ct) = craft(&a, &bob, "real", |i| i.files = vec![file(b"alice's")]);
    post(&relay, &bob, &id, &ct);
    let (_, fake) = craft(&m, &bob, "fake", |i| {
        i.id = id.clone();
        i.files = vec![file(b"mallory's")];
    });
    let r = bob.run(&["recv", "--show-rejected"]).ok();
    assert_eq!(bodies(&r), ["real"]);
    let path = r.json()[0]["files"][0]["path"]
        .as_str()
        .unwrap()
        .to_string();
    // Mallory's copy comes from a second relay (a relay keeps both, see squat.rs).
    let other = Relay::start();
    bob.run(&["relay", "add", &other.url]).ok();
    post(&other, &bob, &id, &fake);
    let r = bob.run(&["recv", "--show-rejected"]);
    assert!(bodies(&r).is_empty(), "{:?}", r.json());
    let rej = rejected(&r);
    assert_eq!(rej.len(), 1, "{:?}", r.json());
    assert!(
        rej[0]["reason"]
            .as_str()
            .unwrap()
            .contains("another sender"),
        "{rej:?}"
    );
    assert!(r.stderr.contains("rejected"), "{}", r.stderr);
    assert_eq!(std::fs::read(&path).unwrap(), b"alice's", "not overwritten");

    // The other order: mallory's copy arrives first (from the relay drained first) ...
    let (carol, dave) = pair_on(&[&relay], "age", "age");
    dave.run(&["relay", "add", &other.url]).ok();
    let c = identity(&carol);
    let (id, real) = craft(&c, &dave, "real", |i| i.files = vec![file(b"carol's")]);
    let (_, fake) = craft(&m, &dave, "fake", |i| {
        i.id = id.clone();
        i.files = vec![file(b"mallory's")];
    });
    post(&relay, &dave, &id, &fake);
    post(&other, &dave, &id, &real);
    let r = dave.run(&["recv", "--show-rejected"]);
    // ... and the contact's message is still delivered, as the contact's.
    let msgs: Vec<Value> = r
        .json()
        .into_iter()
        .filter(|m| m["type"] == "message")
        .collect();
    let real_one = msgs
        .iter()
        .find(|m| m["body"] == "real")
        .expect("carol's message");
    assert_eq!(real_one["from"]["fingerprint"], c.meta.fingerprint.as_str());
    assert_eq!(real_one["from"]["known"], true);
    let p = real_one["files"][0]["path"].as_str().unwrap();
    assert_eq!(std::fs::read(p).unwrap(), b"carol's");
    for m in &msgs {
        if m["body"] == "fake" {
            assert_eq!(m["from"]["known"], false, "never merged into carol's: {m}");
            let p = m["files"][0]["path"].as_str().unwrap();
            assert_eq!(std::fs::read(p).unwrap(), b"mallory's");
        }
    }
    assert!(r.stderr.contains("reuses the id"), "{}", r.stderr);
}

/// A fake relay: answers every mailbox GET with `page` (then with nothing), records every
/// request line, and answers DELETE with `{"deleted":0}`.
fn fake_relay(page: Value) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let first = first.trim().to_string();
            let gets = {
                let mut l = seen.lock().unwrap();
                l.push(first.clone());
                l.iter().filter(|r| r.starts_with("GET")).count()
            };
            let body = if first.starts_with("DELETE") {
                json!({"v": 1, "deleted": 0})
            } else if gets == 1 {
                page.clone()
            } else {
                json!({"v": 1, "envelopes": [], "more": false})
            }
            .to_string();
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.flush();
            let mut rest = [0u8; 1];
            let _ = conn.set_read_timeout(Some(Duration::from_millis(10)));
            let _ = conn.read(&mut rest);
        }
    });
    (url, log)
}

fn envelope(seq: u64) -> Value {
    json!({"seq": seq, "id": pigeon::message::new_id(), "payload": "AAAA",
        "received": 1, "expires": 4_000_000_000u64})
}

#[test]
fn acknowledgements_never_reach_past_what_was_received() {
    // A relay that invents a huge seq gets no acknowledgement signed at all ...
    let (url, log) = fake_relay(
        json!({"v": 1, "envelopes": [envelope(5), envelope((1 << 63) - 1)],
        "more": false}),
    );
    let bob = User::new();
    bob.keygen("bob", "age");
    bob.run(&["relay", "add", &url]).ok();
    let r = bob.run(&["recv"]);
    assert_eq!(r.code, 3, "the only relay failed: {}", r.stderr);
    let deletes: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("DELETE"))
        .cloned()
        .collect();
    assert!(deletes.is_empty(), "{deletes:?}");
    assert!(r.stderr.contains("seq"), "{}", r.stderr);

    // ... while an honest page is acknowledged up to its last envelope, junk included.
    let (url, log) = fake_relay(json!({"v": 1, "envelopes": [envelope(3), envelope(7)],
        "more": false}));
    let carol = User::new();
    carol.keygen("carol", "age");
    carol.run(&["relay", "add", &url]).ok();
    carol.run(&["recv"]).code(4);
    let deletes: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("DELETE"))
        .cloned()
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(deletes[0].contains("upto=7 "), "{deletes:?}");
}

/// The peak resident memory of `pigeon ARGS` run as `u`, in bytes.
fn peak_rss(u: &User, args: &[&str]) -> (u64, Run) {
    let out = u
        .cmd(&[])
        .env("PIGEON_HOME", u.dir.path())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = out.id();
    let peak = Arc::new(Mutex::new(0u64));
    let p = peak.clone();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    let watcher = std::thread::spawn(move || {
        while !d.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                && let Some(line) = s.lines().find(|l| l.starts_with("VmHWM:"))
            {
                let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
                let mut v = p.lock().unwrap();
                *v = (*v).max(kb * 1024);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let o = out.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.join().unwrap();
    let run = Run {
        code: o.status.code().unwrap_or(-1),
        stdout: o.stdout,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    let v = *peak.lock().unwrap();
    (v, run)
}

#[test]
fn compression_bombs_and_huge_messages_stay_within_a_memory_bound() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "pgp", "pgp");
    let a = identity(&alice);
    alice.run(&["send", "--to", "bob", "before"]).ok();
    // Each compresses about 1000:1: a few tens of KB on the relay, 40 MiB (under the old
    // per-message cap) or 100 MiB (over it) once decompressed.
    let mut posted = 0;
    for mib in [40usize, 40, 40, 40, 40, 100] {
        let body = "A".repeat(mib << 20);
        let (id, ct) = craft(&a, &bob, &body, |_| {});
        assert!(ct.len() < 512 << 10, "{} bytes", ct.len());
        post(&relay, &bob, &id, &ct);
        posted += 1;
    }
    alice.run(&["send", "--to", "bob", "after"]).ok();
    let (peak, r) = peak_rss(&bob, &["recv", "--show-rejected"]);
    eprintln!("recv peak RSS: {} MiB", peak >> 20);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Long bodies are reported by their size: a failure must not print 40 MiB of them.
    let got: Vec<String> = bodies(&r)
        .into_iter()
        .map(|b| {
            if b.len() > 100 {
                format!("{} bytes", b.len())
            } else {
                b
            }
        })
        .collect();
    assert_eq!(got, ["before", "after"]);
    assert_eq!(rejected(&r).len(), posted, "{}", r.stderr);
    assert!(peak > 0 && peak < 200 << 20, "peak RSS {} MiB", peak >> 20);
    assert_eq!(mailbox_len(&bob), 0);
}

#[test]
fn attachments_over_the_size_cap_are_refused() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let data = vec![7u8; 5000];
    std::fs::write(alice.path("f.bin"), &data).unwrap();
    let f = alice.path("f.bin");
    alice
        .run(&["send", "--to", "bob", "--file", f.to_str().unwrap(), "big"])
        .ok();
    let r = bob
        .run(&["recv", "--max-file-size", "4K", "--show-rejected"])
        .code(4);
    assert!(bodies(&r).is_empty());
    assert!(
        rejected(&r)[0]["reason"]
            .as_str()
            .unwrap()
            .contains("--max-file-size")
    );
    alice
        .run(&["send", "--to", "bob", "--file", f.to_str().unwrap(), "fits"])
        .ok();
    std::fs::write(bob.path("config.toml"), "[recv]\nmax_file_size = 6000\n").unwrap();
    assert_eq!(bodies(&bob.run(&["recv"]).ok()), ["fits"]);
    // Nor may one message ask for thousands of files (the same name over and over).
    let a = identity(&alice);
    let (id, ct) = craft(&a, &bob, "many", |i| {
        i.files = (0..1001).map(|_| attachment("same", b"x")).collect()
    });
    post(&relay, &bob, &id, &ct);
    let r = bob.run(&["recv", "--show-rejected"]).code(4);
    let reason = rejected(&r)[0]["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("attachments"), "{reason}");
    // A kind too large for --exec's environment is refused too, not retried for ever.
    let (id, ct) = craft(&a, &bob, "odd kind", |i| i.kind = "k".repeat(200_000));
    post(&relay, &bob, &id, &ct);
    let r = bob
        .run(&["recv", "--exec", "true", "--show-rejected"])
        .code(4);
    let reason = rejected(&r)[0]["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("kind"), "{reason}");
    assert!(bob.run(&["recv", "--exec", "true"]).ok().stderr.is_empty());
}

#[test]
fn a_forged_name_cannot_print_a_header_line() {
    let relay = Relay::start();
    let (_alice, bob) = pair_on(&[&relay], "age", "age");
    let mallory = User::new();
    mallory.keygen("mallory", "age");
    let mut m = identity(&mallory);
    m.meta.name = "x\nFrom: alice (verified contact)".into();
    let evil_card = serde_json::to_string(&m.card().unwrap()).unwrap();
    // Refused as a card ...
    let r = bob.run_in(&["contact", "add"], evil_card.as_bytes());
    assert_ne!(r.code, 0);
    assert!(bob.run(&["contact", "list"]).ok().json().len() == 1);
    // ... and with a message.
    let (id, ct) = craft(&m, &bob, "hello", |_| {});
    post(&relay, &bob, &id, &ct);
    // A legal but odd name, with a body full of escapes and a huge line.
    m.meta.name = "eve".into();
    let body = format!(
        "line\r\nFrom: alice (verified contact)\n\x1b]0;pwned\x07{}",
        "z".repeat(100_000)
    );
    let (id2, ct2) = craft(&m, &bob, &body, |i| {
        i.files = vec![Attachment {
            name: "a\nFrom: alice (verified contact)".into(),
            media_type: "text/plain".into(),
            size: 1,
            data: B64.encode(b"1"),
        }];
    });
    post(&relay, &bob, &id2, &ct2);
    // A group id is checked before anything of the message is shown: this one is refused.
    let (id3, ct3) = craft(&m, &bob, "grouped", |i| {
        i.group = Some("g\nFrom: alice (verified contact)".into());
    });
    post(&relay, &bob, &id3, &ct3);
    let r = bob.run(&["recv", "--format", "text"]).ok();
    let out = String::from_utf8(r.stdout).unwrap();
    assert!(
        !out.contains('\x1b') && !out.contains('\x07') && !out.contains('\r'),
        "{out:?}"
    );
    let froms: Vec<&str> = out.lines().filter(|l| l.starts_with("From:")).collect();
    assert_eq!(froms.len(), 1, "{froms:?}");
    assert!(froms[0].starts_with("From: eve ("), "{froms:?}");
    assert!(out.lines().all(|l| l.len() < 4100), "huge lines are folded");
    assert!(
        !out.lines().any(|l| l.contains("alice (verified contact)")
            && !l.starts_with("    ")
            && !l.starts_with("File:")
            && !l.starts_with("Group:")),
        "{out}"
    );
    assert!(
        r.stderr.contains(&id) && r.stderr.contains("does not verify"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&id3) && r.stderr.contains("group id is malformed"),
        "{}",
        r.stderr
    );
}

#[test]
fn forged_forwarded_replayed_and_truncated_messages_are_rejected_without_blocking() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let carol = User::new();
    let carol_card = carol.keygen("carol", "age");
    alice.add_contact(&carol_card);
    let mallory = User::new();
    mallory.keygen("mallory", "age");
    let (a, m) = (identity(&alice), identity(&mallory));

    // Signed by mallory, claiming to be from alice.
    let (id1, ct1) = craft(&m, &bob, "I am alice", |i| {
        i.from = a.meta.fingerprint.clone()
    });
    post(&relay, &bob, &id1, &ct1);
    // Alice wrote to carol; carol re-encrypts the exact signed frame to bob.
    let to_carol = alice
        .run(&["seal", "--to", "carol", "for carol"])
        .ok()
        .stdout;
    let c = identity(&carol);
    let pigeon::crypto::Opened::Pigeon { inner, card, sig } =
        pigeon::crypto::open(&c.secret, &to_carol, &[]).unwrap()
    else {
        panic!("not a pigeon frame")
    };
    let fid = serde_json::from_slice::<Inner>(&inner).unwrap().id;
    let frame = json!({"pigeon": 1, "msg": String::from_utf8(inner).unwrap(),
        "card": String::from_utf8(card).unwrap(), "sig": B64.encode(sig), "pad": ""});
    let bob_age = card_of(&bob)["age"].as_str().unwrap().to_string();
    let rcpt: age::x25519::Recipient = bob_age.parse().unwrap();
    let enc =
        age::Encryptor::with_recipients(std::iter::once(&rcpt as &dyn age::Recipient)).unwrap();
    let mut fct = Vec::new();
    let mut w = enc.wrap_output(&mut fct).unwrap();
    w.write_all(frame.to_string().as_bytes()).unwrap();
    w.finish().unwrap();
    post(&relay, &bob, &fid, &fct);
    // Truncated ciphertext.
    let (id3, ct3) = craft(&a, &bob, "cut", |_| {});
    post(&relay, &bob, &id3, &ct3[..ct3.len() / 2]);
    // A good one, then the same ciphertext again under another envelope id.
    let (id4, ct4) = craft(&a, &bob, "good", |_| {});
    post(&relay, &bob, &id4, &ct4);
    post(&relay, &bob, &pigeon::message::new_id(), &ct4);

    let r = bob.run(&["recv", "--show-rejected"]).ok();
    assert_eq!(bodies(&r), ["good"], "printed once");
    let rej = rejected(&r);
    let reason = |id: &str| {
        rej.iter()
            .find(|x| x["id"] == id)
            .map(|x| x["reason"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{id} not rejected: {rej:?}"))
    };
    assert!(reason(&id1).contains("signed by someone else"), "{rej:?}");
    assert!(
        reason(&fid).contains("addressed to someone else"),
        "{rej:?}"
    );
    assert!(reason(&id3).contains("decrypt"), "{rej:?}");
    assert_eq!(rej.len(), 4, "{rej:?}");
    assert!(bob.run(&["recv"]).ok().stdout.is_empty());
    assert_eq!(mailbox_len(&bob), 0);
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// The real binary as `u`, started by a shell that set umask 000 first.
fn under_umask_000(u: &User, args: &[&str]) -> Run {
    let c = u.cmd(args);
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", "umask 000; exec \"$@\"", "sh"])
        .arg(c.get_program())
        .args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    crate::users::run(sh, b"")
}

fn attachment(name: &str, data: &[u8]) -> Attachment {
    Attachment {
        name: name.into(),
        media_type: "text/plain".into(),
        size: data.len() as u64,
        data: B64.encode(data),
    }
}

#[test]
fn files_are_private_under_umask_000() {
    let relay = Relay::start();
    let (alice, bob) = (User::new(), User::new());
    for (u, n) in [(&alice, "alice"), (&bob, "bob")] {
        under_umask_000(u, &["keygen", "--name", n, "--kind", "age"]).ok();
        under_umask_000(u, &["relay", "add", &relay.url]).ok();
    }
    bob.add_contact(&String::from_utf8(alice.run(&["card"]).ok().stdout).unwrap());
    let a = identity(&alice);
    let (id, ct) = craft(&a, &bob, "files", |i| {
        i.files = vec![attachment("f.txt", b"x")]
    });
    post(&relay, &bob, &id, &ct);
    let r = under_umask_000(&bob, &["recv"]).ok();
    let p = r.json()[0]["files"][0]["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(mode(Path::new(&p)), 0o600, "{p}");
    let mut dir = Path::new(&p).parent().unwrap().to_path_buf();
    while dir != bob.dir.path() {
        assert_eq!(mode(&dir), 0o700, "{dir:?}");
        dir.pop();
    }
    for d in ["identity", "contacts"] {
        assert_eq!(mode(&bob.path(d)), 0o700, "{d}");
    }
    for e in std::fs::read_dir(bob.path("identity")).unwrap() {
        assert_eq!(mode(&e.unwrap().path()), 0o600);
    }
    for f in [
        "pigeon.sqlite",
        "pigeon.sqlite-wal",
        "pigeon.sqlite-shm",
        "recv.lock",
    ] {
        let p = bob.path(f);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{f}");
        }
    }
}

#[test]
fn attachment_names_and_planted_symlinks_stay_inside_the_files_dir() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let a = identity(&alice);
    let names = [
        "../../x",
        "/etc/passwd",
        "CON",
        "nul.txt",
        "a\0b",
        ".",
        "..",
        ".bashrc",
        &"L".repeat(4096),
        "same",
        "same",
    ];
    let (id, ct) = craft(&a, &bob, "files", |i| {
        i.files = names.iter().map(|n| attachment(n, b"x")).collect()
    });
    post(&relay, &bob, &id, &ct);
    // `../../x` must land nowhere outside; whatever the machine had there before is its own.
    let outside = [bob.path("x"), bob.dir.path().parent().unwrap().join("x")];
    let before: Vec<bool> = outside.iter().map(|p| p.exists()).collect();
    let r = bob.run(&["recv"]).ok();
    let files_dir = bob.path("files").canonicalize().unwrap();
    let m = &r.json()[0];
    let mut paths = std::collections::HashSet::new();
    for f in m["files"].as_array().unwrap() {
        let p = Path::new(f["path"].as_str().unwrap());
        assert!(p.canonicalize().unwrap().starts_with(&files_dir), "{p:?}");
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(!name.starts_with('.') && name.len() <= 128, "{name}");
        assert!(!["CON", "nul.txt"].contains(&name), "{name}");
        assert_eq!(std::fs::read(p).unwrap(), b"x");
        assert!(paths.insert(p.to_path_buf()), "two attachments share {p:?}");
    }
    assert_eq!(paths.len(), names.len());
    let after: Vec<bool> = outside.iter().map(|p| p.exists()).collect();
    assert_eq!(
        after, before,
        "an attachment was written outside: {outside:?}"
    );

    // A symlink planted where a sender's folder goes is refused, never followed.
    let elsewhere = User::new();
    let shared = bob.path("shared");
    std::fs::create_dir(&shared).unwrap();
    std::os::unix::fs::symlink(elsewhere.dir.path(), shared.join(&a.meta.fingerprint)).unwrap();
    let (id, ct) = craft(&a, &bob, "via symlink", |i| {
        i.files = vec![attachment("f", b"y")]
    });
    post(&relay, &bob, &id, &ct);
    let r = bob.run(&["recv", "--files-dir", shared.to_str().unwrap()]);
    assert_eq!(r.code, 1, "a local failure: {}", r.stderr);
    assert!(r.stderr.contains("symlink"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(elsewhere.dir.path()).unwrap().count(), 0);
    // Nothing was lost: without the planted link it arrives.
    std::fs::remove_file(shared.join(&a.meta.fingerprint)).unwrap();
    let r = bob
        .run(&["recv", "--files-dir", shared.to_str().unwrap()])
        .ok();
    assert_eq!(bodies(&r), ["via symlink"]);
}

#[test]
fn a_recreated_relay_database_does_not_hide_new_messages() {
    let mut relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    for i in 0..3 {
        alice
            .run(&["send", "--to", "bob", &format!("old {i}")])
            .ok();
    }
    assert_eq!(bob.run(&["recv"]).ok().json().len(), 3);
    // The operator starts over with an empty database: seqs count from 1 again.
    relay.stop();
    for f in ["relay.sqlite", "relay.sqlite-wal", "relay.sqlite-shm"] {
        let _ = std::fs::remove_file(relay.home.path().join(f));
    }
    relay.restart();
    alice.run(&["send", "--to", "bob", "new"]).ok();
    let r = bob.run(&["recv"]).ok();
    assert_eq!(bodies(&r), ["new"], "{}", r.stderr);
    assert!(r.stderr.contains("database is new"), "{}", r.stderr);
    // And --follow notices it too.
    let mut follow = bob
        .cmd(&["recv", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    alice.run(&["send", "--to", "bob", "while following"]).ok();
    let mut out = BufReader::new(follow.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("while following"), "{line}");
    relay.stop();
    for f in ["relay.sqlite", "relay.sqlite-wal", "relay.sqlite-shm"] {
        let _ = std::fs::remove_file(relay.home.path().join(f));
    }
    relay.restart();
    alice.run(&["send", "--to", "bob", "after the reset"]).ok();
    line.clear();
    out.read_line(&mut line).unwrap();
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(line.contains("after the reset"), "{line}");
}
