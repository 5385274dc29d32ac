//! Two real trackers hold one name for two keys: a conflict no `seq` settles. Lookups and
//! `send --to NAME@tracker` refuse it (exit 4) whatever the order of the trackers, pin
//! nothing, and list every candidate; the user chooses by fingerprint.

use serde_json::Value;

use super::real::tracker;
use crate::users::{Relay, User};

fn fingerprint(card: &str) -> String {
    let v: Value = serde_json::from_str(card).unwrap();
    v["fingerprint"].as_str().unwrap().to_string()
}

fn card(u: &User) -> String {
    String::from_utf8(u.run(&["card"]).ok().stdout).unwrap()
}

#[test]
fn a_name_held_for_two_keys_is_refused_until_the_user_chooses() {
    let r = Relay::start();
    let (t1, t2) = (tracker(), tracker());
    let (alice, mallory, bob) = (User::new(), User::new(), User::new());
    alice.keygen("alice", "age");
    alice.run(&["relay", "add", &r.url]).ok();
    alice
        .run(&["tracker", "announce", "--tracker", &t1.url])
        .ok();
    // A stranger claims the name on the second tracker, with a far higher seq.
    mallory.keygen("alice", "age");
    for port in 9..14 {
        mallory
            .run(&["relay", "add", &format!("http://127.0.0.1:{port}")])
            .ok();
    }
    let cm = card(&mallory);
    assert!(serde_json::from_str::<Value>(&cm).unwrap()["seq"].as_u64() > Some(2));
    mallory
        .run(&["tracker", "announce", "--tracker", &t2.url])
        .ok();
    let (fa, fm) = (fingerprint(&card(&alice)), fingerprint(&cm));
    bob.keygen("bob", "age");

    let mut answers = Vec::new();
    for order in [[&t1.url, &t2.url], [&t2.url, &t1.url]] {
        let list = format!("{},{}", order[0], order[1]);
        for add in [true, false] {
            let mut args = vec!["tracker", "lookup", "alice"];
            if add {
                args.push("--add");
            }
            let out = bob
                .cmd(&args)
                .env("PIGEON_TRACKER", &list)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            assert_eq!(out.status.code(), Some(4), "{order:?} add={add}: {err}");
            for (fp, t) in [(&fa, &t1.url), (&fm, &t2.url)] {
                assert!(
                    err.lines().any(|l| l.contains("CONFLICT")
                        && l.contains(fp)
                        && l.contains(t.as_str())),
                    "{err}"
                );
            }
            assert!(
                err.contains("--fingerprint"),
                "the hint says how to choose: {err}"
            );
            let line: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(line["type"], "conflict");
            let c = line["candidates"].as_array().unwrap();
            assert_eq!(c.len(), 2, "{line}");
            answers.push(String::from_utf8(out.stdout).unwrap());
        }
        // send --to alice@tracker refuses too, before anything is sent.
        let s = bob
            .cmd(&["send", "--to", "alice@tracker", "hello"])
            .env("PIGEON_TRACKER", &list)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&s.stderr);
        assert_eq!(s.status.code(), Some(4), "{err}");
        assert!(err.contains(&fa) && err.contains(&fm), "{err}");
        assert!(s.stdout.is_empty());
        assert!(
            bob.run(&["contact", "list"]).ok().json().is_empty(),
            "nothing was pinned"
        );
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "the same answer whatever the order: {answers:?}"
    );

    // The user chooses alice's key by fingerprint: pinned, under her name.
    let both = format!("{},{}", t2.url, t1.url);
    let lines = bob
        .cmd(&["tracker", "lookup", "alice", "--fingerprint", &fa, "--add"])
        .env("PIGEON_TRACKER", &both)
        .output()
        .unwrap();
    assert_eq!(
        lines.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&lines.stderr)
    );
    let pinned = bob.run(&["contact", "show", "alice"]).ok().one();
    assert_eq!(pinned["fingerprint"], fa.as_str());
    // A key no tracker holds the name for is not found.
    let other = "ab".repeat(32);
    let none = bob
        .cmd(&["tracker", "lookup", "alice", "--fingerprint", &other])
        .env("PIGEON_TRACKER", &both)
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(5));
    // For send, the choice is FP@tracker: carol reaches alice's key, not mallory's.
    let carol = User::new();
    carol.keygen("carol", "age");
    let sent = carol
        .cmd(&["send", "--to", &format!("{fa}@tracker"), "hello"])
        .env("PIGEON_TRACKER", &both)
        .output()
        .unwrap();
    assert_eq!(
        sent.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let c = carol.run(&["contact", "show", "alice"]).ok().one();
    assert_eq!(c["fingerprint"], fa.as_str());
}
