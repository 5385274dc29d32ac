//! `recv --keep-for DURATION` (issue 13): messages stay on the real relay for my other
//! devices, are printed once, and a later run acknowledges them once they are old enough,
//! never a newer one.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use pigeon::client::Client;
use pigeon::wire::StoredEnvelope;

use crate::adversarial_client::{bodies, identity};
use crate::harness::eventually;
use crate::users::{Relay, User, pair_on};

/// How long run 3 of the first test keeps messages: long enough that m2, posted just
/// before it, is still young when it looks (else "never a newer one" could not be seen).
/// Runs 1 and 2 keep for an hour, so m1 is young for them however slow the machine.
const KEEP: &str = "3s";
const KEEP_SECS: u64 = 3;

/// What `u`'s mailbox holds on `relay`, by a signed fetch of its own.
fn on_relay(relay: &Relay, u: &User) -> Vec<StoredEnvelope> {
    let key = identity(u).secret.mailbox_signing_key().clone();
    Client::new(Duration::from_secs(20))
        .fetch(&relay.url, &key, 0, 100, 0)
        .unwrap()
        .envelopes
}

fn seqs(envs: &[StoredEnvelope]) -> Vec<(u64, u64)> {
    envs.iter().map(|e| (e.seq, e.received)).collect()
}

/// A second device: a copy of `u`'s identity with an archive of its own.
fn device_of(u: &User) -> User {
    let device = User::new();
    std::fs::create_dir_all(device.path("identity")).unwrap();
    for e in std::fs::read_dir(u.path("identity")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), device.path("identity").join(e.file_name())).unwrap();
    }
    device
}

/// Sleeps until the relay has held `e` for more than `secs` seconds (by the clock it
/// stamps with, the same machine's), at most `secs + 2` seconds.
fn wait_older_than(e: &StoredEnvelope, secs: u64) {
    let until = e.received + secs + 1;
    while pigeon::wire::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn kept_messages_stay_for_other_devices_are_printed_once_and_acknowledged_when_old() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    alice.run(&["send", "--to", "bob", "m1"]).ok();

    // Run 1 prints m1 and leaves it on the relay, where another device reads it too.
    let r1 = bob.run(&["recv", "--keep-for", "1h"]).ok();
    assert_eq!(bodies(&r1), ["m1"]);
    let kept = on_relay(&relay, &bob);
    assert_eq!(kept.len(), 1, "{:?}", seqs(&kept));
    let phone = device_of(&bob);
    assert_eq!(bodies(&phone.run(&["recv", "--keep"]).ok()), ["m1"]);

    // Run 2 (m1 still young): nothing printed twice, nothing rejected, m1 still there.
    let r2 = bob.run(&["recv", "--keep-for", "1h"]).ok();
    assert!(r2.stdout.is_empty(), "{:?}", r2.json());
    assert!(!r2.stderr.contains("rejected"), "{}", r2.stderr);
    assert_eq!(on_relay(&relay, &bob).len(), 1);
    // Fetched again from the start (a cursor that started over): skipped by its (sender,
    // id), neither printed nor counted as rejected.
    let archive = pigeon::home::Home::at(bob.dir.path()).archive_path();
    rusqlite::Connection::open(&archive)
        .unwrap()
        .execute("UPDATE cursors SET seq = 0", [])
        .unwrap();
    let again = bob
        .run(&["recv", "--keep-for", "1h", "--show-rejected"])
        .ok();
    assert!(again.stdout.is_empty(), "{:?}", again.json());
    assert!(!again.stderr.contains("rejected"), "{}", again.stderr);
    assert_eq!(on_relay(&relay, &bob).len(), 1);

    // Run 3, keeping for KEEP, once m1 is older than that and m2 has just arrived: m2
    // printed (once), m1 acknowledged, m2 kept.
    wait_older_than(&kept[0], KEEP_SECS);
    alice.run(&["send", "--to", "bob", "m2"]).ok();
    let r3 = bob.run(&["recv", "--keep-for", KEEP]).ok();
    assert_eq!(bodies(&r3), ["m2"], "m1 is not printed twice");
    let left = on_relay(&relay, &bob);
    assert_eq!(left.len(), 1, "{:?}", seqs(&left));
    assert!(left[0].seq > kept[0].seq, "only the newer one is left");
    assert!(
        bob.run(&["recv", "--keep-for", KEEP])
            .ok()
            .stdout
            .is_empty(),
        "nothing twice"
    );
    // The archive keeps what the relay let go.
    let history = bob.run(&["export"]).ok();
    assert_eq!(bodies(&history), ["m1", "m2"]);
}

#[test]
fn keep_for_from_the_config_and_without_it_recv_acknowledges_at_once() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    std::fs::write(bob.path("config.toml"), "[recv]\nkeep_for = \"1h\"\n").unwrap();
    alice.run(&["send", "--to", "bob", "kept"]).ok();
    assert_eq!(bodies(&bob.run(&["recv"]).ok()), ["kept"]);
    assert_eq!(on_relay(&relay, &bob).len(), 1, "kept by the config");
    // --keep on the command line still means: never acknowledge.
    alice.run(&["send", "--to", "bob", "again"]).ok();
    assert_eq!(bodies(&bob.run(&["recv", "--keep"]).ok()), ["again"]);
    assert_eq!(on_relay(&relay, &bob).len(), 2);
    // A bad duration is a usage error, from the flag or the file.
    bob.run(&["recv", "--keep-for", "soon"]).code(2);
    std::fs::write(bob.path("config.toml"), "[recv]\nkeep_for = \"7x\"\n").unwrap();
    bob.run(&["recv"]).code(2);
    bob.run(&["recv", "--keep", "--keep-for", "1h"]).code(2);

    // Without keep_for, recv acknowledges what it received, as before (here also what an
    // earlier run kept).
    std::fs::remove_file(bob.path("config.toml")).unwrap();
    alice.run(&["send", "--to", "bob", "plain"]).ok();
    assert_eq!(bodies(&bob.run(&["recv"]).ok()), ["plain"]);
    assert!(on_relay(&relay, &bob).is_empty());
}

#[test]
fn follow_acknowledges_kept_messages_once_they_are_old_enough() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let mut follow = bob
        .cmd(&["recv", "--follow", "--keep-for", "1s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(follow.stdout.take().unwrap());
    let mut line = String::new();
    alice.run(&["send", "--to", "bob", "m1"]).ok();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("\"m1\""), "{line}");
    let m1 = on_relay(&relay, &bob);
    assert_eq!(m1.len(), 1, "kept while young: {:?}", seqs(&m1));
    // Once m1 is old enough, the next page that comes in (m2) has it acknowledged.
    wait_older_than(&m1[0], 1);
    alice.run(&["send", "--to", "bob", "m2"]).ok();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("\"m2\""), "{line}");
    // (m2 may be old enough itself by then on a slow machine: only m1 is asserted.)
    let gone = eventually(Duration::from_secs(10), || {
        on_relay(&relay, &bob).iter().all(|e| e.seq > m1[0].seq)
    });
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(gone, "{:?}", seqs(&on_relay(&relay, &bob)));
}
