//! The operator's tools from outside the running relay (issue 22): lockouts listed and
//! lifted, tokens listed and revoked one at a time, each noticed by the running relay.

use super::*;
use crate::harness::{call_with, run};

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_lockout_is_listed_and_lifted_while_the_relay_runs() {
    let h = home();
    let pass = h.path().join("pass");
    std::fs::write(&pass, "pw\n").unwrap();
    // The default lockout (10 minutes): only the operator can end it within the test.
    let relay = Relay::start(h.path(), &["--password-file", pass.to_str().unwrap()]);
    let m = Owner::new().mbox;
    for _ in 0..3 {
        assert_eq!(post(&relay.url, &m, b"x", None, Some("guess")).status, 401);
    }
    let r = post(&relay.url, &m, b"x", None, Some("pw"));
    assert_eq!((r.status, rcode(&r)), (429, "locked_out"), "{}", r.text);

    let listed = || json_lines(&run(h.path(), &["serve", "blocks"]));
    assert!(
        eventually(Duration::from_secs(10), || !listed().is_empty()),
        "the lockout was never recorded"
    );
    let b = listed();
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(
        (b[0]["type"].as_str(), b[0]["addr"].as_str()),
        (Some("lockout"), Some("127.0.0.1"))
    );
    assert!(b[0]["until"].as_u64().unwrap() > now() + 500, "{b:?}");

    let v = json_lines(&run(h.path(), &["serve", "unblock", "127.0.0.1"]));
    assert_eq!(v[0]["lockout"], true, "{v:?}");
    assert_eq!(v[0]["block"], false, "{v:?}");
    assert!(
        eventually(Duration::from_secs(10), || {
            post(&relay.url, &m, b"x", None, Some("pw")).status == 201
        }),
        "the running relay did not lift the lockout"
    );
    assert!(listed().is_empty());
    assert!(relay.stderr().contains("\"event\":\"unlock\""));
    let again = run(h.path(), &["serve", "unblock", "127.0.0.1"]);
    assert_eq!(again.status.code(), Some(5), "nothing left to lift");
}

#[test]
fn one_token_is_revoked_and_the_others_keep_working() {
    let h = home();
    let relay = Relay::start(h.path(), &["--require-token"]);
    let token = |label: &str| {
        let v = json_lines(&run(h.path(), &["serve", "token", "--label", label]));
        assert!(
            v[0]["expires_at"].as_str().unwrap().ends_with(" UTC"),
            "{v:?}"
        );
        (
            v[0]["id"].as_str().unwrap().to_string(),
            v[0]["token"].as_str().unwrap().to_string(),
        )
    };
    let (bob_id, bob) = token("bob");
    let (_, carol) = token("carol");
    let (_, dave) = token("dave");
    let m = Owner::new().mbox;
    for t in [&bob, &carol, &dave] {
        assert_eq!(post(&relay.url, &m, b"x", None, Some(t)).status, 201);
    }
    let listed = json_lines(&run(h.path(), &["serve", "tokens"]));
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|t| t["state"] == "valid" && t.get("token").is_none())
    );
    let v = json_lines(&run(h.path(), &["serve", "revoke", &bob_id[..8]]));
    assert_eq!(
        (v[0]["type"].as_str(), v[0]["label"].as_str()),
        (Some("revoked"), Some("bob"))
    );
    assert!(
        eventually(Duration::from_secs(10), || {
            post(&relay.url, &m, b"x", None, Some(&bob)).status == 401
        }),
        "the running relay still takes the revoked token"
    );
    let r = post(&relay.url, &m, b"x", None, Some(&bob));
    assert!(r.text.contains("revoked"), "{}", r.text);
    assert_eq!(post(&relay.url, &m, b"x", None, Some(&carol)).status, 201);
    // By the token itself, on stdin.
    let mut child = crate::harness::pigeon(h.path())
        .args(["serve", "revoke", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(carol.as_bytes())
        .unwrap();
    let v = json_lines(&child.wait_with_output().unwrap());
    assert_eq!(v[0]["label"], "carol");
    assert!(eventually(Duration::from_secs(10), || {
        post(&relay.url, &m, b"x", None, Some(&carol)).status == 401
    }));
    assert_eq!(post(&relay.url, &m, b"x", None, Some(&dave)).status, 201);
    let mut states: Vec<String> = json_lines(&run(h.path(), &["serve", "tokens"]))
        .iter()
        .map(|t| {
            format!(
                "{}={}",
                t["label"].as_str().unwrap(),
                t["state"].as_str().unwrap()
            )
        })
        .collect();
    states.sort();
    assert_eq!(states, ["bob=revoked", "carol=revoked", "dave=valid"]);
    // A revoked token survives a restart.
    assert!(relay.terminate().success());
    let relay = Relay::start(h.path(), &["--require-token"]);
    assert_eq!(post(&relay.url, &m, b"x", None, Some(&bob)).status, 401);
    assert_eq!(post(&relay.url, &m, b"x", None, Some(&dave)).status, 201);
}

#[test]
fn join_names_the_public_urls_first_and_the_page_says_where_it_is() {
    let h = home();
    let relay = Relay::start(
        h.path(),
        &["--public-url", "https://pigeon.example.org", "--web"],
    );
    let join: Vec<&str> = relay.listening["join"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(join, ["https://pigeon.example.org", relay.url.as_str()]);
    assert!(
        eventually(Duration::from_secs(10), || relay
            .stderr()
            .contains("web client at https://pigeon.example.org/")),
        "{}",
        relay.stderr()
    );
    // Without --web, / says how to get the page.
    let h2 = home();
    let plain = Relay::start(h2.path(), &[]);
    let r = call_with("GET", &format!("{}/", plain.url), &[]);
    assert_eq!(r.status, 404);
    assert!(r.text.contains("pigeon serve --web"), "{}", r.text);
}

#[test]
fn metrics_can_be_kept_to_local_scrapers_or_turned_off() {
    let h = home();
    let open = Relay::start(h.path(), &["--trusted-proxy", "127.0.0.1"]);
    let remote = |url: &str| {
        reply(
            agent()
                .get(format!("{url}/metrics"))
                .header("x-forwarded-for", "203.0.113.9")
                .call(),
        )
    };
    // The default: open, as the docs say.
    assert_eq!(remote(&open.url).status, 200);
    let h2 = home();
    let local = Relay::start(
        h2.path(),
        &["--trusted-proxy", "127.0.0.1", "--metrics", "local"],
    );
    let r = remote(&local.url);
    assert_eq!(r.status, 403, "{}", r.text);
    let r = call_with("GET", &format!("{}/metrics", local.url), &[]);
    assert_eq!(r.status, 200, "a scraper on this host still reads them");
    assert!(r.text.contains("pigeon_"), "{}", r.text);
    let h3 = home();
    let off = Relay::start(h3.path(), &["--metrics", "off"]);
    assert_eq!(
        call_with("GET", &format!("{}/metrics", off.url), &[]).status,
        404
    );
}
