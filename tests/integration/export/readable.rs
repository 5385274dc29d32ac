//! History people can read (issue 22): membership changes as one sentence, groups by
//! name, the recipients of group messages, sent messages that were never delivered or
//! still wait in the outbox, a titled page, and copies that are not made twice.

use super::*;
use crate::groups::Person;

/// Alice made group "ops" with bob and carol and wrote to it; bob has read everything.
fn team() -> (Relay, Person, Person, Person) {
    let relay = Relay::start();
    let alice = Person::new("alice", "age", &[&relay]);
    let bob = Person::new("bob", "age", &[&relay]);
    let carol = Person::new("carol", "pgp", &[&relay]);
    for (p, others) in [
        (&alice, [&bob, &carol]),
        (&bob, [&alice, &carol]),
        (&carol, [&alice, &bob]),
    ] {
        for o in others {
            p.knows(o);
        }
    }
    alice
        .u
        .run(&[
            "group", "create", "ops", "--member", "bob", "--member", "carol",
        ])
        .ok();
    alice.u.run(&["send", "--group", "ops", "hello team"]).ok();
    bob.recv();
    (relay, alice, bob, carol)
}

#[test]
fn membership_changes_are_sentences_and_groups_have_names_and_recipients() {
    let (_relay, alice, bob, _carol) = team();
    for format in ["text", "markdown", "html"] {
        // (Markdown escapes punctuation: read it as a viewer shows it.)
        let t = text(&export(&bob.u, &["--format", format]).ok()).replace('\\', "");
        assert!(
            !t.contains("BEGIN PGP"),
            "{format}: raw membership JSON:\n{t}"
        );
        assert!(
            !t.contains("mailbox_key"),
            "{format}: raw membership JSON:\n{t}"
        );
        assert!(
            t.contains("alice added you, carol in group ops"),
            "{format}:\n{t}"
        );
        assert!(t.contains("group ops"), "{format}:\n{t}");
        assert!(
            t.contains("bob, carol (the group") && t.contains("members now)"),
            "{format}: the group message's recipients:\n{t}"
        );
    }
    // JSONL keeps the signed record as the body, and adds the sentence and the name.
    let lines = export(&bob.u, &[]).ok().json();
    assert_eq!(lines[0]["kind"], "membership");
    assert!(lines[0]["body"].as_str().unwrap().contains("\"members\""));
    assert_eq!(
        lines[0]["summary"],
        "alice added you, carol in group ops (version 1)"
    );
    assert_eq!(lines[1]["group_name"], "ops");
    // The sender's own history shows the same sentence.
    let t = text(&export(&alice.u, &["--format", "text"]).ok());
    assert!(t.contains("you added bob, carol in group ops"), "{t}");
}

#[test]
fn sent_messages_say_when_they_did_not_arrive_and_the_page_says_whose_history() {
    let (relay, alice, bob, _carol) = team();
    // dave's only relay is down: alice's message to him waits in her outbox.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let dave = Person::on("dave", "age", &[dead.as_str()]);
    alice.knows(&dave);
    alice
        .u
        .run(&["send", "--to", "dave", "are you there"])
        .code(3);
    let t = text(&export(&alice.u, &["--format", "text"]).ok());
    let queued: Vec<&str> = t.lines().filter(|l| l.contains("[queued]")).collect();
    assert_eq!(queued.len(), 1, "{t}");
    assert!(queued[0].contains("-> dave"), "{t}");
    let lines = export(&alice.u, &[]).ok().json();
    let delivery: Vec<&str> = lines
        .iter()
        .map(|l| l["delivery"].as_str().unwrap())
        .collect();
    assert_eq!(delivery, ["delivered", "delivered", "queued"], "{lines:?}");

    let page = alice.u.path("page.html");
    export(
        &alice.u,
        &[
            "--format",
            "html",
            "--with",
            "bob",
            "-o",
            page.to_str().unwrap(),
        ],
    )
    .ok();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<title>pigeon export: alice&#39;s history with bob</title>"),
        "{html}"
    );

    // recv --format text says to whom, and the group by name.
    alice.u.run(&["send", "--to", "bob", "direct"]).ok();
    alice.u.run(&["send", "--group", "ops", "to all"]).ok();
    let t = text(&bob.u.run(&["recv", "--format", "text"]).ok());
    assert!(t.contains("To:   you\n"), "{t}");
    assert!(t.contains("Group: ops ("), "{t}");
    drop(relay);
}
