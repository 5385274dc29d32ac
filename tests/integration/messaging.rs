//! send and recv end to end: real relays on loopback, the real binary, one PIGEON_HOME each.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;

use crate::users::{Relay, User, pair_on};

fn bodies(msgs: &[Value]) -> Vec<String> {
    msgs.iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

fn archive_counts(u: &User) -> (i64, i64) {
    let c = rusqlite::Connection::open(u.path("pigeon.sqlite")).unwrap();
    c.query_row(
        "SELECT count(*), count(DISTINCT id) FROM messages WHERE direction = 'in'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn text_stdin_and_both_kinds_round_trip_once() {
    let relay = Relay::start();
    for (ka, kb) in [("age", "age"), ("age", "pgp"), ("pgp", "age")] {
        let (alice, bob) = pair_on(&[&relay], ka, kb);
        let sent = alice.run(&["send", "--to", "bob", "from args"]).ok().one();
        assert_eq!(sent["type"], "sent");
        assert_eq!(sent["deliveries"][0]["ok"], true);
        assert_eq!(sent["deliveries"][0]["relay"], relay.url.as_str());
        alice.run_in(&["send", "--to", "bob"], b"from stdin\n").ok();
        let got = bob.run(&["recv"]).ok().json();
        assert_eq!(bodies(&got), ["from args", "from stdin\n"], "{ka}->{kb}");
        assert_eq!(got[0]["id"], sent["id"]);
        assert_eq!(got[0]["from"]["name"], "alice");
        assert_eq!(got[0]["from"]["known"], true);
        assert!(
            got[0].get("card").is_none(),
            "a contact's card is not repeated"
        );
        // A second run prints nothing new, and the relay was emptied.
        assert!(bob.run(&["recv"]).ok().stdout.is_empty());
        bob.run(&["send", "--to", "alice", "answer"]).ok();
        assert_eq!(bodies(&alice.run(&["recv"]).ok().json()), ["answer"]);
    }
}

#[test]
fn json_batch_of_100_and_attachments_survive_the_trip() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "pgp");
    let blob: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(alice.path("data.bin"), &blob).unwrap();
    let mut lines = String::new();
    for i in 0..100 {
        lines.push_str(&format!("{{\"to\":[\"bob\"],\"body\":\"line {i}\"}}\n"));
    }
    let out = alice
        .run_in(&["send", "--json"], lines.as_bytes())
        .ok()
        .json();
    assert_eq!(out.len(), 100);
    assert!(out.iter().all(|l| l["deliveries"][0]["ok"] == true));
    alice
        .run(&[
            "send",
            "--to",
            "bob",
            "--file",
            alice.path("data.bin").to_str().unwrap(),
            "see attached",
        ])
        .ok();
    let got = bob.run(&["recv"]).ok().json();
    assert_eq!(got.len(), 101);
    let expect: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
    assert_eq!(bodies(&got[..100]), expect);
    let file = &got[100]["files"][0];
    assert_eq!(file["name"], "data.bin");
    assert_eq!(file["size"], blob.len());
    let path = file["path"].as_str().unwrap();
    assert!(path.starts_with(bob.path("files").to_str().unwrap()));
    assert_eq!(std::fs::read(path).unwrap(), blob);
    assert_eq!(archive_counts(&bob), (101, 101));
}

#[test]
fn bad_input_is_reported_and_stops_at_the_bad_line() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let input = b"{\"to\":[\"bob\"],\"body\":\"one\"}\n{\"to\":[\"bob\"],\"body\":\"two\"}\nnot json\n{\"to\":[\"bob\"],\"body\":\"four\"}\n";
    let r = alice.run_in(&["send", "--json"], input).code(2);
    let out = r.json();
    assert_eq!(
        out.iter().filter(|l| l["type"] == "sent").count(),
        2,
        "the lines before the bad one were sent and reported"
    );
    assert_eq!(
        (out[2]["type"].as_str(), out[2]["line"].as_u64()),
        (Some("error"), Some(3))
    );
    assert_eq!(out.len(), 3, "nothing after the bad line: {out:?}");
    assert!(r.stderr.contains("line 3"), "{}", r.stderr);

    let r = alice
        .run_in(
            &["send", "--json"],
            b"{\"to\":[\"bob\",\"nobody\"],\"body\":\"x\"}\n",
        )
        .code(5);
    let err = r.one();
    assert_eq!(
        (err["type"].as_str(), err["line"].as_u64()),
        (Some("error"), Some(1))
    );
    alice.run(&["send", "--to", "nobody", "x"]).code(5);
    let r = alice
        .run(&["send", "--to", "bob", "--file", "/nonexistent/file", "x"])
        .code(2);
    assert!(r.stderr.contains("/nonexistent/file"), "{}", r.stderr);
    let r = alice.run_in(&["send", "--to", "bob"], b"").code(2);
    assert!(r.stderr.contains("empty"), "{}", r.stderr);
    alice
        .run_in(&["send", "--to", "bob"], &[0xff, 0xfe])
        .code(2);
    assert_eq!(bodies(&bob.run(&["recv"]).ok().json()), ["one", "two"]);
}

#[test]
fn one_relay_down_is_partial_and_retry_completes_without_duplicates() {
    let r1 = Relay::start();
    let mut r2 = Relay::start();
    let (alice, bob) = pair_on(&[&r1, &r2], "age", "age");
    r2.stop();
    let sent = alice.run(&["send", "--to", "bob", "hello"]).code(6).one();
    let d = sent["deliveries"].as_array().unwrap();
    assert_eq!(d.len(), 2);
    let down: Vec<&Value> = d.iter().filter(|x| x["ok"] == false).collect();
    assert_eq!(down.len(), 1);
    assert_eq!(down[0]["relay"], r2.url.as_str());
    assert_eq!(down[0]["queued"], true);

    // Both down: exit 3, kept in the outbox.
    let mut r1 = r1;
    r1.stop();
    alice.run(&["send", "--to", "bob", "second"]).code(3);
    r1.restart();
    r2.restart();
    let retried = alice.run(&["send", "--retry"]).ok().json();
    assert_eq!(retried.len(), 2, "{retried:?}");
    assert!(retried.iter().all(|l| l["type"] == "retried"));
    assert!(
        alice.run(&["send", "--retry"]).ok().stdout.is_empty(),
        "outbox is empty"
    );

    let got = bob.run(&["recv"]).ok().json();
    assert_eq!(
        bodies(&got),
        ["hello", "second"],
        "each message once, from two relays"
    );
    assert!(bob.run(&["recv"]).ok().stdout.is_empty());
}

#[test]
fn recv_killed_mid_fetch_loses_nothing() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let lines: String = (0..500)
        .map(|i| format!("{{\"to\":[\"bob\"],\"body\":\"m{i}\"}}\n"))
        .collect();
    alice.run_in(&["send", "--json"], lines.as_bytes()).ok();

    let mut child = bob
        .cmd(&["recv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while seen.len() < 30 && reader.read_line(&mut line).unwrap() > 0 {
        let v: Value = serde_json::from_str(&line).unwrap();
        seen.insert(v["body"].as_str().unwrap().to_string());
        line.clear();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.len() >= 30,
        "the first run printed messages before it was killed"
    );
    for m in bob.run(&["recv"]).ok().json() {
        seen.insert(m["body"].as_str().unwrap().to_string());
    }
    assert_eq!(seen.len(), 500, "every message arrived");
    assert_eq!(archive_counts(&bob), (500, 500));
    assert!(bob.run(&["recv"]).ok().stdout.is_empty());
}

#[test]
fn strangers_key_changes_and_contacts_only() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    // Carol is not bob's contact, but she has bob's card.
    let carol = User::new();
    carol.run(&["keygen", "--name", "carol"]).ok();
    carol.add_contact(&String::from_utf8(bob.run(&["card"]).ok().stdout).unwrap());
    carol.run(&["send", "--to", "bob", "hi, I am carol"]).ok();
    // Mallory claims to be alice with another key.
    let mallory = User::new();
    mallory.run(&["keygen", "--name", "alice"]).ok();
    mallory.add_contact(&String::from_utf8(bob.run(&["card"]).ok().stdout).unwrap());
    mallory
        .run(&["send", "--to", "bob", "I am alice, really"])
        .ok();
    alice.run(&["send", "--to", "bob", "the real alice"]).ok();

    let r = bob.run(&["recv", "--from-contacts-only"]).ok();
    assert_eq!(bodies(&r.json()), ["the real alice"]);
    assert!(r.stderr.contains("held back 2"), "{}", r.stderr);

    let r = bob.run(&["recv"]).ok();
    let got = r.json();
    assert_eq!(bodies(&got), ["hi, I am carol", "I am alice, really"]);
    assert_eq!(got[0]["from"]["known"], false);
    assert_eq!(got[1]["from"]["known"], false);
    assert_eq!(got[1]["from"]["key_change"], true);
    assert_eq!(
        got[1]["from"]["name"],
        Value::Null,
        "a stranger's claimed name is not a name"
    );
    assert_eq!(got[1]["from"]["claimed_name"], "alice");
    assert!(r.stderr.contains("WARNING"), "{}", r.stderr);
    // A script can pin the stranger from the card in the message.
    let card = got[0]["card"].to_string();
    let added = bob.run_in(&["contact", "add"], card.as_bytes()).ok().one();
    assert_eq!(added["name"], "carol");
    carol.run(&["send", "--to", "bob", "again"]).ok();
    let got = bob.run(&["recv"]).ok().json();
    assert_eq!(got[0]["from"]["known"], true);
}

#[test]
fn exec_failure_is_retried_next_run() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    alice.run(&["send", "--to", "bob", "first"]).ok();
    alice.run(&["send", "--to", "bob", "second"]).ok();
    let log = bob.path("exec.log");
    let script = format!(
        "read -r line; echo \"$PIGEON_ID $PIGEON_FROM_NAME $(cat \"$PIGEON_BODY_FILE\")\" >> {}; \
         test -e {}",
        log.display(),
        bob.path("ok").display()
    );
    bob.run(&["recv", "--exec", &script]).ok();
    let first = std::fs::read_to_string(&log).unwrap();
    assert_eq!(first.lines().count(), 2, "both ran: {first}");
    assert!(first.contains(" alice first"), "{first}");
    std::fs::write(bob.path("ok"), "").unwrap();
    bob.run(&["recv", "--exec", &script]).ok();
    let second = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        second.lines().count(),
        4,
        "both failed ones came back: {second}"
    );
    bob.run(&["recv", "--exec", &script]).ok();
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 4);
}

#[test]
fn follow_retries_a_failed_exec_while_it_runs() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let log = bob.path("exec.log");
    let script = format!(
        "echo \"$(cat \"$PIGEON_BODY_FILE\")\" >> {}; test -e {}",
        log.display(),
        bob.path("ok").display()
    );
    let mut follow = bob
        .cmd(&["recv", "--follow", "--exec", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    alice.run(&["send", "--to", "bob", "try me"]).ok();
    let attempts = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let wait = std::time::Duration::from_secs(20);
    assert!(
        crate::harness::eventually(wait, || attempts() >= 1),
        "ran once"
    );
    std::fs::write(bob.path("ok"), "").unwrap();
    // Retried by the same process (1 s, then 2 s, … later), and then no more.
    assert!(crate::harness::eventually(wait, || {
        archive_delivered(&bob) == 1
    }));
    let n = attempts();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    follow.kill().unwrap();
    follow.wait().unwrap();
    assert_eq!(attempts(), n, "nothing ran after it succeeded");
    assert!(std::fs::read_to_string(&log).unwrap().contains("try me"));
}

fn archive_delivered(u: &User) -> i64 {
    let c = rusqlite::Connection::open(u.path("pigeon.sqlite")).unwrap();
    c.query_row(
        "SELECT count(*) FROM messages WHERE direction = 'in' AND delivered",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn follow_streams_and_overlapping_runs_wait_or_exit() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let mut follow = bob
        .cmd(&["recv", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(follow.stdout.take().unwrap());
    alice.run(&["send", "--to", "bob", "live one"]).ok();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["body"], "live one");
    // While it runs (it holds the lock: it printed), another recv cannot start.
    let r = bob.run(&["recv", "--no-wait"]).code(7);
    assert!(r.stderr.contains("another pigeon recv"), "{}", r.stderr);
    follow.kill().unwrap();
    follow.wait().unwrap();
    // The lock is free again.
    bob.run(&["recv", "--no-wait"]).ok();
}

#[test]
fn follow_reconnects_when_the_relay_comes_back() {
    let mut relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let mut follow = bob
        .cmd(&["recv", "--follow", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(follow.stdout.take().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(300));
    relay.restart();
    alice.run(&["send", "--to", "bob", "after restart"]).ok();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    follow.kill().unwrap();
    follow.wait().unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["body"], "after restart");
}

#[test]
fn keep_leaves_messages_on_the_relay_and_text_is_for_people() {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    alice.run(&["send", "--to", "bob", "kept\x1b[31m"]).ok();
    let text = bob.run(&["recv", "--keep", "--format", "text"]).ok();
    let out = String::from_utf8(text.stdout).unwrap();
    assert!(out.starts_with("From: alice ("), "{out}");
    assert!(out.contains("kept"), "{out}");
    assert!(
        !out.contains('\x1b'),
        "terminal escapes are neutralised: {out:?}"
    );
    // Already archived here, so nothing new ...
    assert!(bob.run(&["recv"]).ok().stdout.is_empty());
    // ... but still on the relay: a second device with the same identity gets it.
    let device = User::new();
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    };
    copy(&bob.path("identity"), &device.path("identity"));
    let got = device.run(&["recv"]).ok().json();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]["from"]["known"], false,
        "the device has no contacts yet"
    );
}

#[test]
fn own_card_and_cardless_recipients() {
    let relay = Relay::start();
    let (alice, _bob) = pair_on(&[&relay], "age", "age");
    let mine = alice.run(&["card"]).ok().stdout;
    alice.run_in(&["contact", "add"], &mine).code(2);
    let carol = User::new();
    alice.add_contact(&carol.keygen("carol", "age"));
    let r = alice.run(&["send", "--to", "carol", "hi"]).code(3);
    let sent = r.one();
    assert!(
        sent["deliveries"][0]["error"]
            .as_str()
            .unwrap()
            .contains("no relay")
    );
}

#[test]
fn pigeond_is_the_relay_alone() {
    let relay = Relay::start_pigeond();
    let (alice, bob) = pair_on(&[&relay], "age", "pgp");
    alice.run(&["send", "--to", "bob", "through pigeond"]).ok();
    assert_eq!(bodies(&bob.run(&["recv"]).ok().json()), ["through pigeond"]);
    bob.run(&["send", "--to", "alice", "and back"]).ok();
    assert_eq!(bodies(&alice.run(&["recv"]).ok().json()), ["and back"]);

    let pigeond = |args: &[&str]| {
        crate::harness::program(crate::harness::PIGEOND, relay.home.path())
            .args(args)
            .output()
            .unwrap()
    };
    // Its subcommands are serve's, on the same database.
    let token = pigeond(&["token", "--label", "carol"]);
    assert!(token.status.success(), "{token:?}");
    let v: Value = serde_json::from_slice(&token.stdout).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["label"].as_str()),
        (Some("token"), Some("carol"))
    );
    // The client is not in it: a client command is a usage error, and help says where to look.
    let keygen = pigeond(&["keygen", "--name", "x"]);
    assert_eq!(keygen.status.code(), Some(2), "{keygen:?}");
    let help = pigeond(&["--help"]);
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("--listen") && help.contains("pigeon-serve(1)"),
        "{help}"
    );
}

#[test]
fn a_send_killed_while_posting_is_in_the_history_and_retried() {
    use std::io::Read as _;
    let mut relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    // The relay's address now answers nothing: a post hangs after its request is sent.
    relay.stop();
    let hang = std::net::TcpListener::bind(relay.addr()).unwrap();
    let mut send = alice
        .cmd(&["send", "--to", "bob", "in flight"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut conn, _) = hang.accept().unwrap();
    let mut first = [0u8; 16];
    conn.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"POST"), "{first:?}");
    send.kill().unwrap();
    send.wait().unwrap();
    drop((conn, hang));

    let line = sent_line(&alice, "in flight");
    assert_eq!(line["deliveries"][0]["queued"], true, "{line}");

    relay.restart();
    let retried = alice.run(&["send", "--retry"]).ok().one();
    assert_eq!(retried["id"], line["id"]);
    assert_eq!(retried["deliveries"][0]["ok"], true);
    assert_eq!(
        sent_line(&alice, "in flight")["deliveries"],
        retried["deliveries"],
        "the history shows the retry's outcome"
    );
    assert_eq!(bodies(&bob.run(&["recv"]).ok().json()), ["in flight"]);
    // A send that finishes replaces the archived line with the one it printed.
    let sent = alice.run(&["send", "--to", "bob", "normal"]).ok().one();
    assert_eq!(sent_line(&alice, "normal"), sent);
}

/// The archived `sent` line of the one message `u` sent with this body.
fn sent_line(u: &User, body: &str) -> Value {
    let c = rusqlite::Connection::open(u.path("pigeon.sqlite")).unwrap();
    let json: String = c
        .query_row(
            "SELECT json FROM messages WHERE direction = 'out' AND body = ?1",
            [body],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&json).unwrap()
}

#[test]
fn follow_says_once_that_a_relay_is_down_and_back_and_nothing_under_quiet() {
    let mut relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    relay.stop();
    let follow = |u: &User, quiet: bool| {
        let mut args = vec!["recv", "--follow"];
        if quiet {
            args.push("--quiet");
        }
        let log = u.path("follow.stderr");
        let child = u
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        (child, log)
    };
    let ((mut loud, loud_log), (mut quiet, quiet_log)) =
        (follow(&bob, false), follow(&alice, true));
    // Refused at once, again 1 s later and 2 s after that (backoff): three failures.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    relay.restart();
    let said = || std::fs::read_to_string(&loud_log).unwrap();
    let back = crate::harness::eventually(std::time::Duration::from_secs(15), || {
        said().contains("reachable again")
    });
    for c in [&mut loud, &mut quiet] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    let loud = said();
    assert!(back, "{loud}");
    assert_eq!(loud.matches("retrying").count(), 1, "{loud}");
    assert_eq!(loud.matches("reachable again").count(), 1, "{loud}");
    assert!(loud.contains(&relay.url), "{loud}");
    assert_eq!(std::fs::read_to_string(&quiet_log).unwrap(), "");
}

#[test]
fn a_delivery_past_its_ttl_is_given_up_and_said() {
    let mut relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    relay.stop();
    // The short-lived one goes last: every `send` first retries the outbox, so a send
    // after it could give it up (a second boundary crossed) before `--retry` looks.
    alice.run(&["send", "--to", "bob", "still fresh"]).code(3);
    let lines = alice
        .run(&["send", "--to", "bob", "--ttl", "1s", "soon stale"])
        .code(3)
        .json();
    // It first retried "still fresh" (one `retried` line), then sent the new one.
    let queued = lines.iter().find(|l| l["type"] == "sent").unwrap().clone();
    assert_eq!(queued["deliveries"][0]["queued"], true);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    relay.restart();
    let lines = alice.run(&["send", "--retry"]).code(6).json();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["type"], "expired");
    assert_eq!(lines[0]["id"], queued["id"]);
    assert_eq!(lines[0]["deliveries"][0]["ok"], false);
    assert_eq!(lines[0]["deliveries"][0]["queued"], false);
    assert_eq!(
        (
            lines[1]["type"].as_str(),
            lines[1]["deliveries"][0]["ok"].as_bool()
        ),
        (Some("retried"), Some(true))
    );
    assert!(alice.run(&["send", "--retry"]).ok().stdout.is_empty());
    assert_eq!(bodies(&bob.run(&["recv"]).ok().json()), ["still fresh"]);
    assert_eq!(
        sent_line(&alice, "soon stale")["deliveries"],
        lines[0]["deliveries"]
    );
}
