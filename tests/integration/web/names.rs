//! The card-name fixtures (tests/fixtures/card-names.json) against the CLI: each card, signed
//! by a key that is not the pinned `alice`'s, goes through the real `pigeon contact add`, and
//! the verdict must be the fixture's. The web client's `npm test` reads the same file
//! (web/test/names.test.ts), so the two clients cannot drift apart on names; both are run here.

use std::path::Path;

use base64::Engine;
use pigeon::crypto::CARD_DOMAIN;
use pigeon::home::Home;
use pigeon::keys::Identity;
use pigeon::keys::card::card_signing_bytes;
use serde_json::Value;

use super::{npm_ready, web_dir};
use crate::users::User;

fn fixtures() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/card-names.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// What `contact add` did with a card, in the fixtures' words.
fn verdict(me: &User, card: &Value) -> String {
    let r = me.run_in(&["contact", "add"], card.to_string().as_bytes());
    match r.code {
        0 => {
            let fp = card["fingerprint"].as_str().unwrap();
            me.run(&["contact", "remove", fp]).ok();
            "added".into()
        }
        4 if r.stderr.contains("KEY CHANGE") => "key-change".into(),
        4 if r.stderr.contains("does not verify") => "bad-card".into(),
        2 if r.stderr.contains("invalid name") => "bad-name".into(),
        _ => format!("exit {}: {}", r.code, r.stderr),
    }
}

#[test]
fn card_name_fixtures_get_the_same_verdicts_from_the_cli_and_the_web_client() {
    let f = fixtures();
    let me = User::new();
    me.keygen("me", "age");
    let pinned = User::new();
    me.add_contact(&pinned.keygen(f["pinned"].as_str().unwrap(), "age"));
    let other = User::new();
    other.keygen("carol", "age");
    let id = Identity::load(&Home::at(other.dir.path()), None).unwrap();
    let base = serde_json::to_value(id.card().unwrap()).unwrap();

    let mut cases: Vec<(Value, Vec<String>, &Value)> = Vec::new();
    for c in f["names"].as_array().unwrap() {
        cases.push((serde_json::json!({"name": c["name"]}), vec![], c));
    }
    for c in f["cards"].as_array().unwrap() {
        let mut set = c["set"].clone();
        set["name"] = c["name"].clone();
        let unset = c["unset"].as_array().unwrap();
        let unset = unset.iter().map(|u| u.as_str().unwrap().to_string());
        cases.push((set, unset.collect(), c));
    }
    assert!(cases.len() > 40);
    let mut wrong = Vec::new();
    for (set, unset, c) in cases {
        let mut card = base.clone();
        for (k, v) in set.as_object().unwrap() {
            card[k] = v.clone();
        }
        for k in &unset {
            card.as_object_mut().unwrap().remove(k);
        }
        let sig = id
            .secret
            .sign(CARD_DOMAIN, &card_signing_bytes(&card))
            .unwrap();
        card["sig"] = base64::engine::general_purpose::STANDARD.encode(sig).into();
        let got = verdict(&me, &card);
        if got != c["verdict"] {
            wrong.push(format!("{set}: {} ({}), got {got}", c["verdict"], c["why"]));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The same file through the web client's checks, and its other unit tests.
    let node = npm_ready();
    let web = web_dir();
    let run = |args: &[&str]| super::node_ok(&node, &web, args);
    run(&["build.mjs", "--tests"]);
    run(&[
        "--test",
        ".test-build/names.test.mjs",
        ".test-build/inbox.test.mjs",
    ]);
}
