//! Strict input and consistent answers (issue 22): `send --json` refuses a typo instead of
//! sending an empty message, an empty message is refused however stdin is empty, an
//! unknown group is exit 5 everywhere, a missing tracker is one exit code, each failed
//! delivery is one stderr line, and `recv` neither litters a home without an identity nor
//! waits on another's lock without saying so.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::groups::{Person, change};
use crate::harness::eventually;
use crate::users::{Relay, User, pair_on};

fn bodies(msgs: &[Value]) -> Vec<&str> {
    msgs.iter().map(|m| m["body"].as_str().unwrap()).collect()
}

#[test]
fn a_typo_or_an_empty_line_in_send_json_is_refused_with_an_error_line() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let input = b"{\"to\":[\"bob\"],\"body\":\"one\"}\n\
                  {\"to\":[\"bob\"],\"text\":\"typo\"}\n\
                  {\"to\":[\"bob\"],\"body\":\"three\"}\n";
    let r = alice.run_in(&["send", "--json"], input).code(2);
    let out = r.json();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["type"], "sent");
    assert_eq!(out[1]["type"], "error");
    assert_eq!(out[1]["line"], 2);
    assert!(
        out[1]["error"].as_str().unwrap().contains("`text`"),
        "{out:?}"
    );
    assert!(r.stderr.contains("line 2"), "{}", r.stderr);

    for line in [
        &b"{\"to\":[\"bob\"]}\n"[..],
        b"{\"to\":[\"bob\"],\"body\":\" \\n\"}\n",
    ] {
        let r = alice.run_in(&["send", "--json"], line).code(2);
        let err = r.one();
        assert_eq!(
            (err["type"].as_str(), err["line"].as_u64()),
            (Some("error"), Some(1))
        );
        assert!(err["error"].as_str().unwrap().contains("empty"), "{err}");
    }
    assert_eq!(bodies(&bob.run(&["recv"]).ok().json()), ["one"]);
}

#[test]
fn an_empty_message_is_refused_alike_from_a_blank_line_and_from_dev_null() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let blank = alice.run_in(&["send", "--to", "bob"], b"\n").code(2);
    let out = alice
        .cmd(&["send", "--to", "bob"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), blank.stderr);
    assert!(
        blank.stderr.contains("empty") && blank.stderr.contains("hint:"),
        "{}",
        blank.stderr
    );
    alice.run(&["send", "--to", "bob", ""]).code(2);
    // A file is a message without text.
    std::fs::write(alice.path("a.txt"), "attached").unwrap();
    let file = alice.path("a.txt");
    let out = alice
        .cmd(&["send", "--to", "bob", "--file", file.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = bob.run(&["recv"]).ok().json();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["files"][0]["name"], "a.txt");
}

#[test]
fn an_unknown_group_is_exit_5_in_recv_and_export_and_a_group_sent_line_names_it() {
    let relay = Relay::start();
    let alice = Person::new("alice", "age", &[&relay]);
    let bob = Person::new("bob", "age", &[&relay]);
    alice.knows(&bob);
    bob.knows(&alice);
    for args in [
        &["recv", "--group", "nosuch"][..],
        &["export", "--group", "nosuch"],
    ] {
        let r = bob.u.run(args).code(5);
        assert!(r.stdout.is_empty());
        assert!(r.stderr.contains("no group"), "{}", r.stderr);
    }
    let ops = change(&alice, &["group", "create", "ops", "--member", "bob"]).1;
    assert!(
        ops["group"].is_string(),
        "a membership's sent line names its group: {ops}"
    );
    let id = ops["group"].as_str().unwrap();
    let sent = alice.u.run(&["send", "--group", "ops", "hi"]).ok().one();
    assert_eq!(sent["group"], id);
    let lines = b"{\"group\":\"ops\",\"body\":\"a\"}\n{\"to\":[\"bob\"],\"body\":\"b\"}\n";
    let sent = alice.u.run_in(&["send", "--json"], lines).ok().json();
    assert_eq!(sent[0]["group"], id);
    assert!(sent[1].get("group").is_none(), "{:?}", sent[1]);
    // A group whose invitation arrives in the run is still found.
    let got = bob.u.run(&["recv", "--group", "ops"]).ok().json();
    assert_eq!(bodies(&got[1..]), ["hi", "a"]);
    bob.u.run(&["export", "--group", "ops"]).ok();
}

#[test]
fn no_tracker_configured_is_exit_2_wherever_it_is_met() {
    let u = User::new();
    u.run(&["keygen", "--name", "alice"]).ok();
    for args in [
        &["send", "--to", "bob@tracker", "x"][..],
        &["tracker", "lookup", "bob"],
        &["tracker", "announce"],
    ] {
        let r = u.run(args).code(2);
        assert!(
            r.stderr.contains("no tracker configured"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("hint: name one with --tracker"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn each_failed_delivery_is_one_line_on_stderr_and_quiet_keeps_only_what_is_lost() {
    let r1 = Relay::start();
    let mut r2 = Relay::start();
    let (alice, _bob) = pair_on(&[&r1, &r2], "age", "age");
    r2.stop();
    let r = alice.run(&["send", "--to", "bob", "hello"]).code(6);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(
        lines[0].contains(&r2.url) && lines[0].contains("bob") && lines[0].contains("left queued"),
        "{}",
        r.stderr
    );
    let r = alice
        .run(&["--quiet", "send", "--to", "bob", "again"])
        .code(6);
    assert_eq!(r.stderr, "", "a queued delivery is not lost");
}

#[test]
fn recv_without_an_identity_leaves_the_home_as_it_was() {
    let u = User::new();
    let r = u.run(&["recv"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("keygen"), "{}", r.stderr);
    let left: Vec<_> = std::fs::read_dir(u.dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_recv_waiting_on_another_says_whose_lock_it_waits_for() {
    let relay = Relay::start();
    let (_alice, bob) = pair_on(&[&relay], "age", "age");
    let mut follow = bob
        .cmd(&["recv", "--follow"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = bob.path("recv.lock");
    let pid = follow.id().to_string();
    let holds = eventually(Duration::from_secs(30), || {
        std::fs::read_to_string(&lock).is_ok_and(|s| s.trim() == pid)
    });
    assert!(holds, "the holder writes its pid");
    let log = bob.path("second.stderr");
    let mut second = bob
        .cmd(&["recv"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let said = eventually(Duration::from_secs(30), || {
        std::fs::read_to_string(&log)
            .is_ok_and(|s| s.contains(&format!("waiting for recv pid {pid}")))
    });
    follow.kill().unwrap();
    follow.wait().unwrap();
    let status = second.wait().unwrap();
    assert!(said, "{}", std::fs::read_to_string(&log).unwrap());
    assert!(status.success());
    let busy = bob.run(&["recv", "--no-wait"]);
    assert_eq!(busy.code, 0, "nothing holds the lock now: {}", busy.stderr);
}
