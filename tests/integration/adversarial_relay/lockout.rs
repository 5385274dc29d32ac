//! Lockouts behind a reverse proxy, per (source, key) signature failures, password brute force.

use super::*;

fn password_relay(h: &Path, extra: &[&str]) -> Relay {
    let pass = h.join("pass");
    std::fs::write(&pass, "pw\n").unwrap();
    let mut args = vec!["--password-file", pass.to_str().unwrap()];
    args.extend_from_slice(extra);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Relay::start(h, &args)
}

#[test]
fn behind_a_trusted_proxy_lockout_is_per_forwarded_address() {
    let h = home();
    let relay = password_relay(h.path(), &["--trusted-proxy", "127.0.0.1"]);
    let m = Owner::new().mbox;
    let (eve, bob) = ("203.0.113.7", "198.51.100.1, 203.0.113.8");
    for _ in 0..3 {
        let r = post(&relay.url, &m, b"x", Some(eve), Some("guess"));
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let r = post(&relay.url, &m, b"x", Some(eve), Some("pw"));
    assert_eq!((r.status, rcode(&r)), (429, "locked_out"), "{}", r.text);
    // Bob comes through the same proxy: the right-most address is his, and not locked.
    let r = post(&relay.url, &m, b"x", Some(bob), Some("pw"));
    assert_eq!(r.status, 201, "{}", r.text);
    // Eve cannot hide behind a forged address of her own left of the proxy's.
    let r = post(
        &relay.url,
        &m,
        b"x",
        Some(&format!("192.0.2.1, {eve}")),
        Some("pw"),
    );
    assert_eq!(r.status, 429, "{}", r.text);
}

#[test]
fn without_a_trusted_proxy_forwarded_headers_are_ignored() {
    let h = home();
    let relay = password_relay(h.path(), &[]);
    let m = Owner::new().mbox;
    for i in 0..3 {
        let xff = format!("203.0.113.{i}");
        assert_eq!(
            post(&relay.url, &m, b"x", Some(&xff), Some("guess")).status,
            401
        );
    }
    // The three came from one socket address, whatever they claimed.
    let r = post(&relay.url, &m, b"x", Some("198.51.100.9"), Some("pw"));
    assert_eq!((r.status, rcode(&r)), (429, "locked_out"), "{}", r.text);
}

#[test]
fn a_throwaway_keys_bad_signatures_do_not_stop_another_keys_reads() {
    let h = home();
    let relay = Relay::start(h.path(), &[]);
    let host = relay.addr();
    let (mallory, alice) = (Owner::new(), Owner::new());
    for _ in 0..5 {
        let mut headers = mallory.sign("GET", &host, "", now());
        headers[3].1 = B64.encode([7u8; 64]);
        let target = mallory.path();
        let r = raw(&host, &request("GET", &target, &host, &headers, ""));
        assert!(r.status == 401 || r.status == 429, "{}", r.text);
    }
    // Mallory's key is locked out from here...
    let r = get(&relay.url, &mallory, "", None);
    assert_eq!((r.status, rcode(&r)), (429, "locked_out"), "{}", r.text);
    // ...Alice at the same address reads and posts as before.
    let r = get(&relay.url, &alice, "after=0", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(post(&relay.url, &alice.mbox, b"hi", None, None).status, 201);
}

#[test]
fn password_brute_force_under_concurrency_is_bounded() {
    let h = home();
    let relay = password_relay(
        h.path(),
        &[
            "--max-failures",
            "3",
            "--lockout",
            "1h",
            "--max-lockouts",
            "100",
            "--rate",
            "0",
            // Each guess is a new connection, and the relay may not yet have seen the last
            // one close: the per-source cap (503) is not what this test is about.
            "--max-connections-per-source",
            "1000",
        ],
    );
    let m = Owner::new().mbox;
    let go = Arc::new(Barrier::new(48));
    let threads: Vec<_> = (0..48)
        .map(|i| {
            let (url, m, go) = (relay.url.clone(), m.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                (0..2)
                    .map(|j| post(&url, &m, b"x", None, Some(&format!("guess{i}-{j}"))).status)
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    let statuses: Vec<u16> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let answered = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        answered <= 3,
        "{answered} guesses were answered: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    let r = post(&relay.url, &m, b"x", None, Some("pw"));
    assert_eq!(r.status, 429, "still locked out: {}", r.text);
}

#[test]
fn the_forwarded_header_names_the_client_behind_a_trusted_proxy() {
    let h = home();
    let relay = password_relay(h.path(), &["--trusted-proxy", "127.0.0.0/8"]);
    let m = Owner::new().mbox;
    let send = |forwarded: &str, bearer: &str| {
        let body = envelope(b"x").to_string();
        let headers = [
            ("Forwarded", forwarded.to_string()),
            ("Authorization", format!("Bearer {bearer}")),
        ];
        let target = format!("/v1/mailboxes/{m}");
        raw(
            &relay.addr(),
            &request("POST", &target, &relay.addr(), &headers, &body),
        )
    };
    for _ in 0..3 {
        assert_eq!(send("for=192.0.2.60;proto=https", "guess").status, 401);
    }
    let r = send("for=192.0.2.60", "pw");
    assert_eq!((r.status, code(&r.body)), (429, "locked_out"), "{}", r.text);
    let r = send("for=\"[2001:db8::5]:4711\"", "pw");
    assert_eq!(r.status, 201, "{}", r.text);
}

#[test]
fn a_password_lockout_stops_posting_not_the_addresss_signed_reads() {
    let h = home();
    let relay = password_relay(h.path(), &[]);
    let alice = Owner::new();
    assert_eq!(
        post(&relay.url, &alice.mbox, b"mail", None, Some("pw")).status,
        201
    );
    // Someone behind the same address guesses the password.
    for _ in 0..3 {
        assert_eq!(
            post(&relay.url, &alice.mbox, b"x", None, Some("guess")).status,
            401
        );
    }
    let r = post(&relay.url, &alice.mbox, b"x", None, Some("pw"));
    assert_eq!((r.status, rcode(&r)), (429, "locked_out"), "{}", r.text);
    // Alice, at that address, still reads and acknowledges her mail.
    assert_eq!(ids(&relay.url, &alice).len(), 1);
}
