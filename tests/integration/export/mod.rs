//! `pigeon export` and `pigeon archive prune` against archives made for real: three users
//! of the real binary, a real relay on loopback, text, unicode, hostile HTML, terminal
//! escapes and attachments with path-like names; the HTML loaded in a real headless
//! Chromium. The memory test fills a big archive through the store API instead (fast).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::users::{Relay, Run, User, pair_on};

mod active;
mod big;
mod files;
mod formats;
mod html;
mod readable;

const HOSTILE_HTML: &str = "<script>document.title='pwned';console.log('pwned-script')</script>\n\
<img src=x onerror=\"document.title='pwned';document.body.appendChild(document.createElement('blink'))\">\n\
<a href=\"javascript:document.title='pwned'\">click me</a> &amp; <b>bold</b>";
const TERMINAL: &str = "red \x1b[31mRED\x1b[0m \x1b]0;owned-title\x07 end\r\nsecond line";
const UNICODE: &str = "unicode: héllo 🐦 日本語 — ok";
const MARKDOWN: &str = "# not a heading\n*not emphasis* [link](javascript:alert(1)) `code`";
/// A name with backslashes: a path on another system, a plain name here.
const PATHLIKE: &str = "..\\..\\evil.txt";
const IMG_NAME: &str = "<img src=x onerror=alert(1)>.txt";
/// The name recv saved it under (`<>` are among the characters FAT and Windows refuse).
const SAVED_IMG_NAME: &str = "_img src=x onerror=alert(1)_.txt";

/// Alice, bob and carol on one relay; bob's archive holds what alice and carol sent him
/// and his answer to alice.
struct Fixture {
    _relay: Relay,
    alice: User,
    bob: User,
    carol_fp: String,
}

fn fixture() -> Fixture {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let carol = User::new();
    carol.run(&["keygen", "--name", "carol"]).ok();
    carol.run(&["relay", "add", &relay.url]).ok();
    let carol_card = String::from_utf8(carol.run(&["card"]).ok().stdout).unwrap();
    let carol_fp = serde_json::from_str::<Value>(&carol_card).unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    bob.add_contact(&carol_card);
    carol.add_contact(&String::from_utf8(bob.run(&["card"]).ok().stdout).unwrap());

    let dir = alice.path("attach");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(PATHLIKE), b"evil bytes").unwrap();
    std::fs::write(dir.join(IMG_NAME), b"img bytes").unwrap();
    for body in ["hello bob", UNICODE, HOSTILE_HTML, TERMINAL, MARKDOWN] {
        alice.run(&["send", "--to", "bob", body]).ok();
    }
    let (f1, f2) = (dir.join(PATHLIKE), dir.join(IMG_NAME));
    alice
        .run(&[
            "send",
            "--to",
            "bob",
            "--file",
            f1.to_str().unwrap(),
            "--file",
            f2.to_str().unwrap(),
            "two files",
        ])
        .ok();
    carol.run(&["send", "--to", "bob", "from carol"]).ok();
    assert_eq!(bob.run(&["recv"]).ok().json().len(), 7);
    let first = bob
        .run(&["export", "--limit", "1", "--with", "alice"])
        .ok()
        .one();
    let hello = first["id"].as_str().unwrap();
    bob.run(&[
        "send",
        "--to",
        "alice",
        "--reply-to",
        hello,
        "reply from bob",
    ])
    .ok();
    Fixture {
        _relay: relay,
        alice,
        bob,
        carol_fp,
    }
}

fn export(u: &User, args: &[&str]) -> Run {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    u.run(&all)
}

fn bodies(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

fn text(r: &Run) -> String {
    String::from_utf8(r.stdout.clone()).unwrap()
}
