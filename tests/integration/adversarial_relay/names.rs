//! Signed requests bound to this relay; deletes bounded by their signing time; URLs read one way.

use super::*;

#[test]
fn a_request_signed_for_relay_a_is_refused_by_relay_b_and_not_counted() {
    let (ha, hb) = (home(), home());
    let a = Relay::start(ha.path(), &[]);
    let b = Relay::start(hb.path(), &["--max-failures", "1"]);
    let alice = Owner::new();
    assert_eq!(post(&b.url, &alice.mbox, b"kept", None, None).status, 201);
    // Relay A replays to B what Alice signed for A: Host A, a valid signature.
    for _ in 0..3 {
        let r = signed_raw(&b.addr(), &a.addr(), &alice, "DELETE", "upto=100", now());
        assert_eq!(
            (r.status, code(&r.body)),
            (401, "wrong_relay"),
            "{}",
            r.text
        );
        let r = signed_raw(&b.addr(), &a.addr(), &alice, "GET", "after=0", now());
        assert_eq!(
            (r.status, code(&r.body)),
            (401, "wrong_relay"),
            "{}",
            r.text
        );
    }
    // Not a failed attempt: with --max-failures 1 one would have locked Alice out.
    let r = signed_raw(&b.addr(), &b.addr(), &alice, "GET", "after=0", now());
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["envelopes"].as_array().unwrap().len(), 1);
    // localhost names a loopback relay too.
    let port = b.addr().rsplit_once(':').unwrap().1.to_string();
    let r = signed_raw(
        &b.addr(),
        &format!("localhost:{port}"),
        &alice,
        "GET",
        "",
        now(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn a_signature_for_a_public_url_name_is_accepted_and_others_are_not() {
    let h = home();
    let relay = Relay::start(h.path(), &["--public-url", "https://Relay.Example"]);
    let alice = Owner::new();
    let r = signed_raw(
        &relay.addr(),
        "relay.example",
        &alice,
        "GET",
        "after=0",
        now(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = signed_raw(&relay.addr(), "relay.example:443", &alice, "GET", "", now());
    assert_eq!(r.status, 200, "{}", r.text);
    let r = signed_raw(&relay.addr(), "other.example", &alice, "GET", "", now());
    assert_eq!(
        (r.status, code(&r.body)),
        (401, "wrong_relay"),
        "{}",
        r.text
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("relay.example"),
        "{}",
        r.text
    );
}

#[test]
fn a_delete_replayed_after_a_restart_spares_what_arrived_later() {
    let h = home();
    let relay = Relay::start(h.path(), &[]);
    let addr = relay.addr();
    let alice = Owner::new();
    assert_eq!(
        post(&relay.url, &alice.mbox, b"one", None, None).status,
        201
    );
    // What a hostile relay would make recv ask for: everything, forever.
    let t = now();
    let headers = alice.sign("DELETE", &addr, "upto=9223372036854775807", t);
    let target = format!("{}?upto=9223372036854775807", alice.path());
    let del = request("DELETE", &target, &addr, &headers, "");
    let r = raw(&addr, &del);
    assert_eq!(
        (r.status, r.body["deleted"].as_u64()),
        (200, Some(1)),
        "{}",
        r.text
    );
    // A restart empties the replay cache; the signature is still within its time window.
    drop(relay);
    let relay = Relay::start(h.path(), &["--listen", &addr]);
    while now() <= t {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        post(&relay.url, &alice.mbox, b"two", None, None).status,
        201
    );
    let r = raw(&addr, &del);
    assert_eq!(
        (r.status, r.body["deleted"].as_u64()),
        (200, Some(0)),
        "{}",
        r.text
    );
    assert_eq!(
        ids(&relay.url, &alice).len(),
        1,
        "the later envelope is kept"
    );
}

#[test]
fn urls_the_client_and_relay_could_read_differently_are_refused() {
    let h = home();
    let relay = Relay::start(h.path(), &["--max-failures", "100"]);
    let addr = relay.addr();
    let alice = Owner::new();
    let send = |path: &str, query: &str| {
        let headers = alice.sign_path("GET", &addr, path, query, now());
        let target = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        raw(&addr, &request("GET", &target, &addr, &headers, ""))
    };
    assert_eq!(
        send(&alice.path(), "after=0").status,
        200,
        "the canonical form"
    );
    // Percent-encoding the mailbox id: signed as sent, but routed decoded.
    let first = alice.mbox.as_bytes()[0];
    let encoded = format!("/v1/mailboxes/%{first:02X}{}", &alice.mbox[1..]);
    let r = send(&encoded, "after=0");
    assert_eq!(
        (r.status, code(&r.body)),
        (400, "bad_request"),
        "{}",
        r.text
    );
    for q in ["after=0&after=5", "after=+5", "upto=1&upto=2", "limit=%31"] {
        let r = send(&alice.path(), q);
        assert_eq!(
            (r.status, code(&r.body)),
            (400, "bad_request"),
            "{q}: {}",
            r.text
        );
    }
    let upper = format!("/v1/mailboxes/{}", alice.mbox.to_uppercase());
    assert_eq!(send(&upper, "").status, 400);
    let doubled = format!("//v1/mailboxes/{}", alice.mbox);
    assert_ne!(send(&doubled, "").status, 200);
}

#[test]
fn a_second_host_or_another_authority_in_the_target_is_refused() {
    let h = home();
    let relay = Relay::start(h.path(), &[]);
    let addr = relay.addr();
    let alice = Owner::new();
    let headers = alice.sign("GET", &addr, "after=0", now());
    let target = format!("{}?after=0", alice.path());
    let mut two = headers.clone();
    two.push(("Host", "other.example".to_string()));
    let r = raw(&addr, &request("GET", &target, &addr, &two, ""));
    assert_eq!(r.status, 400, "{}", r.text);
    let absolute = format!("http://other.example{target}");
    let r = raw(&addr, &request("GET", &absolute, &addr, &headers, ""));
    assert_eq!(r.status, 400, "{}", r.text);
    // The same headers, sent plainly, are fine (and were not used up by the refusals).
    let r = raw(&addr, &request("GET", &target, &addr, &headers, ""));
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn on_all_interfaces_without_a_public_url_the_relay_warns_and_accepts_its_port() {
    let h = home();
    let relay = Relay::start(h.path(), &["--listen", "0.0.0.0:0"]);
    let port = relay.addr().rsplit_once(':').unwrap().1.to_string();
    let local = format!("127.0.0.1:{port}");
    assert!(
        eventually(Duration::from_secs(5), || relay
            .stderr()
            .contains("--public-url")),
        "{}",
        relay.stderr()
    );
    assert!(relay.stderr().contains("warning"), "{}", relay.stderr());
    let alice = Owner::new();
    let r = signed_raw(
        &local,
        &format!("pi.local:{port}"),
        &alice,
        "GET",
        "",
        now(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = signed_raw(&local, "pi.local:1", &alice, "GET", "", now());
    assert_eq!(
        (r.status, code(&r.body)),
        (401, "wrong_relay"),
        "{}",
        r.text
    );
    // With a public URL it is strict.
    let h = home();
    let relay = Relay::start(
        h.path(),
        &[
            "--listen",
            "0.0.0.0:0",
            "--public-url",
            "http://pi.local:7447",
        ],
    );
    let port = relay.addr().rsplit_once(':').unwrap().1.to_string();
    let local = format!("127.0.0.1:{port}");
    let r = signed_raw(
        &local,
        &format!("pi.local:{port}"),
        &alice,
        "GET",
        "",
        now(),
    );
    assert_eq!(
        (r.status, code(&r.body)),
        (401, "wrong_relay"),
        "{}",
        r.text
    );
    let r = signed_raw(&local, "pi.local:7447", &alice, "GET", "", now());
    assert_eq!(r.status, 200, "{}", r.text);
    let r = signed_raw(&local, &local, &alice, "GET", "", now());
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn the_real_client_works_by_localhost_and_a_copying_relay_cannot_replay_its_requests() {
    use crate::users::User;
    let (ha, hb) = (home(), home());
    let relay = Relay::start(ha.path(), &[]);
    let other = Relay::start(hb.path(), &[]);
    let port = relay.addr().rsplit_once(':').unwrap().1.to_string();
    let url = format!("http://localhost:{port}");
    let (alice, bob) = (User::new(), User::new());
    for (u, name) in [(&alice, "alice"), (&bob, "bob")] {
        u.run(&["keygen", "--name", name]).ok();
        u.run(&["relay", "add", &url]).ok();
    }
    alice.add_contact(&String::from_utf8(bob.run(&["card"]).ok().stdout).unwrap());
    bob.add_contact(&String::from_utf8(alice.run(&["card"]).ok().stdout).unwrap());
    alice.run(&["send", "--to", "bob", "by name"]).ok();
    let got = bob.run(&["recv"]).ok().json();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["body"], "by name");
    // The relay's log of that session, replayed to another relay, is refused there.
    let o = Owner::new();
    let r = signed_raw(
        &other.addr(),
        &format!("localhost:{port}"),
        &o,
        "GET",
        "",
        now(),
    );
    assert_eq!(
        (r.status, code(&r.body)),
        (401, "wrong_relay"),
        "{}",
        r.text
    );
}
