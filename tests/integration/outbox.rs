//! The outbox (issue 22): a send delivers its new message first and gives what earlier
//! sends left queued only a short deadline, a relay asking to wait minutes leaves the
//! delivery queued and says so, and `pigeon outbox list|drop` show and give up deliveries.

use std::io::Read as _;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{agent, eventually, reply};
use crate::users::{Relay, User, pair_on};

/// A third user on `relay`, whose card `of` pins.
fn carol_on(relay: &Relay, of: &User) -> User {
    let carol = User::new();
    carol.run(&["keygen", "--name", "carol"]).ok();
    carol.run(&["relay", "add", &relay.url]).ok();
    of.add_contact(&String::from_utf8(carol.run(&["card"]).ok().stdout).unwrap());
    carol
}

fn bodies(msgs: &[Value]) -> Vec<&str> {
    msgs.iter().map(|m| m["body"].as_str().unwrap()).collect()
}

#[test]
fn a_relay_that_never_answers_holds_up_neither_a_new_message_nor_the_send() {
    let working = Relay::start();
    let mut hung = Relay::start();
    let (alice, bob) = pair_on(&[&working], "age", "age");
    let carol = carol_on(&hung, &alice);
    // A post waits 10 minutes for a relay: only the retry's deadline can end it sooner.
    std::fs::write(alice.path("config.toml"), "[send]\ntimeout = 600\n").unwrap();
    hung.stop();
    let queued = alice.run(&["send", "--to", "carol", "old"]).code(3).one();
    assert_eq!(queued["deliveries"][0]["queued"], true, "{queued}");
    // Carol's relay now accepts connections and never answers.
    let listener = TcpListener::bind(hung.addr()).unwrap();

    let mut send = alice
        .cmd(&["send", "--to", "bob", "new"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The retry of the old message reaches the hung relay only after the new one was
    // delivered: it is on Bob's relay by then.
    let (mut conn, _) = listener.accept().unwrap();
    let mut first = [0u8; 4];
    conn.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"POST");
    assert_eq!(bodies(&bob.run(&["recv"]).ok().json()), ["new"]);
    // The send ends while the hung relay still holds the connection, unanswered (a bound
    // far above the deadline and far below the 600 s a post would wait).
    let ended = eventually(Duration::from_secs(120), || {
        send.try_wait().unwrap().is_some()
    });
    if !ended {
        send.kill().unwrap();
    }
    let out = send.wait_with_output().unwrap();
    assert!(ended, "the send waited on the hung relay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "one line for one new message: {stdout}"
    );
    let sent: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(sent["type"], "sent");
    assert!(
        stderr.contains(&format!(
            "queued message {}",
            queued["id"].as_str().unwrap()
        )) && stderr.contains("left queued"),
        "{stderr}"
    );
    drop(conn);

    let list = alice.run(&["outbox", "list"]).ok().json();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["type"], "queued");
    assert_eq!(list[0]["id"], queued["id"]);
    assert_eq!(list[0]["to"], "carol");
    assert_eq!(list[0]["relay"], hung.url.as_str());
    assert_eq!(list[0]["attempts"], 2, "the first send's and the retry's");
    assert!(list[0]["last_error"].as_str().is_some(), "{list:?}");
    assert!(list[0]["queued_since"].as_u64().is_some(), "{list:?}");
    drop(listener);
    drop(carol);
}

/// One figure of a relay's `/metrics`.
fn metric(url: &str, name: &str) -> u64 {
    let r = reply(agent().get(format!("{url}/metrics")).call());
    r.text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_relay_asking_to_wait_100_s_leaves_the_delivery_queued_and_says_so() {
    let h = crate::harness::home();
    std::fs::write(h.path().join("pass"), "pw\n").unwrap();
    let pass = h.path().join("pass");
    let relay = crate::harness::Relay::start(
        h.path(),
        &[
            "--password-file",
            pass.to_str().unwrap(),
            "--lockout",
            "100s",
        ],
    );
    let (alice, bob) = (User::new(), User::new());
    for (u, name) in [(&alice, "alice"), (&bob, "bob")] {
        u.run(&["keygen", "--name", name]).ok();
        u.run(&["relay", "add", &relay.url]).ok();
    }
    alice.add_contact(&String::from_utf8(bob.run(&["card"]).ok().stdout).unwrap());
    let mailbox = bob.run(&["card"]).ok().one()["mailbox"]
        .as_str()
        .unwrap()
        .to_string();
    // Three wrong passwords from this address lock it out for 100 s.
    for _ in 0..3 {
        let r = crate::adversarial_relay::post(&relay.url, &mailbox, b"x", None, Some("guess"));
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let refused = |u: &str| metric(u, "pigeon_rejects_total{reason=\"locked_out\"}");
    let before = refused(&relay.url);
    let r = alice.run(&["send", "--to", "bob", "hello"]).code(3);
    let sent = r.one();
    let d = &sent["deliveries"][0];
    assert_eq!(
        (d["ok"].as_bool(), d["queued"].as_bool()),
        (Some(false), Some(true))
    );
    assert!(
        d["error"].as_str().unwrap().contains("asks to wait 100 s"),
        "{sent}"
    );
    assert_eq!(
        refused(&relay.url) - before,
        1,
        "asked once, not again after sleeping out part of the lockout"
    );
    let said: Vec<&str> = r.stderr.lines().filter(|l| l.contains("bob")).collect();
    assert_eq!(said.len(), 1, "{}", r.stderr);
    assert!(
        said[0].contains("asks to wait 100 s") && said[0].contains("left queued"),
        "{}",
        r.stderr
    );
    let list = alice.run(&["outbox", "list"]).ok().json();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], sent["id"]);
}

#[test]
fn outbox_drop_gives_up_one_message_and_the_history_says_so() {
    let mut relay = Relay::start();
    let (alice, _bob) = pair_on(&[&relay], "age", "age");
    relay.stop();
    let one = alice.run(&["send", "--to", "bob", "one"]).code(3).one();
    let two = alice.run(&["send", "--to", "bob", "two"]).code(3).one();
    let ids = |u: &User| -> Vec<String> {
        (u.run(&["outbox", "list"]).ok().json().iter())
            .map(|l| l["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&alice),
        [one["id"].as_str().unwrap(), two["id"].as_str().unwrap()]
    );
    let dropped = alice
        .run(&["outbox", "drop", one["id"].as_str().unwrap()])
        .ok()
        .one();
    assert_eq!(dropped["type"], "dropped");
    assert_eq!(dropped["deliveries"][0]["queued"], false);
    assert_eq!(ids(&alice), [two["id"].as_str().unwrap()]);
    let r = alice
        .run(&["outbox", "drop", one["id"].as_str().unwrap()])
        .code(5);
    assert!(r.stderr.contains("nothing queued"), "{}", r.stderr);
    let c = rusqlite::Connection::open(alice.path("pigeon.sqlite")).unwrap();
    let line: String = c
        .query_row(
            "SELECT json FROM messages WHERE id = ?1",
            [one["id"].as_str().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    let line: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        line["deliveries"], dropped["deliveries"],
        "the archived sent line shows the delivery given up"
    );
    // Only the other one is tried again.
    relay.restart();
    let retried = alice.run(&["send", "--retry"]).ok().json();
    assert_eq!(retried.len(), 1, "{retried:?}");
    assert_eq!(retried[0]["id"], two["id"]);
    assert!(ids(&alice).is_empty());
}

#[test]
fn a_bad_recipient_is_refused_before_the_outbox_is_touched() {
    let working = Relay::start();
    let mut hung = Relay::start();
    let (alice, _bob) = pair_on(&[&working], "age", "age");
    let _carol = carol_on(&hung, &alice);
    hung.stop();
    alice.run(&["send", "--to", "carol", "old"]).code(3);
    let listener = TcpListener::bind(hung.addr()).unwrap();
    listener.set_nonblocking(true).unwrap();
    alice.run(&["send", "--to", "nobody", "x"]).code(5);
    alice
        .run(&["send", "--to", "bob", "--reply-to", "not-an-id", "x"])
        .code(2);
    alice.run_in(&["send", "--to", "bob"], b"\n").code(2);
    // Nothing connected to the queued delivery's relay.
    assert!(listener.accept().is_err());
}
