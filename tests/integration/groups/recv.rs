//! Reading groups: `recv --group` hands over one group's messages and keeps the rest for
//! a later run; `send --json` lines name a group; `--exec` gets PIGEON_GROUP; names are
//! local, so two groups of one name are told apart by id.

use super::{Person, bodies, change};
use crate::users::Relay;

#[test]
fn recv_group_json_lines_exec_and_ambiguous_names() {
    let relay = Relay::start();
    let alice = Person::new("alice", "pgp", &[&relay]);
    let bob = Person::new("bob", "age", &[&relay]);
    alice.knows(&bob);
    bob.knows(&alice);
    let ops = change(&alice, &["group", "create", "ops", "--member", "bob"]).0;
    let ops = ops["group"].as_str().unwrap().to_string();
    let dev = change(&alice, &["group", "create", "dev", "--member", "bob"]).0;
    let dev = dev["group"].as_str().unwrap().to_string();
    let lines = "{\"group\":\"ops\",\"body\":\"o1\"}\n{\"group\":\"dev\",\"body\":\"d1\"}\n\
                 {\"to\":[\"bob\"],\"body\":\"direct\"}\n{\"group\":\"ops\",\"body\":\"o2\"}\n";
    let sent = alice
        .u
        .run_in(&["send", "--json"], lines.as_bytes())
        .ok()
        .json();
    assert_eq!(sent.len(), 4);
    let bad = alice.u.run_in(
        &["send", "--json"],
        b"{\"group\":\"ops\",\"to\":[\"bob\"]}\n",
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);

    // Only ops: its membership and its two messages; the others wait.
    let got = bob.u.run(&["recv", "--group", "ops"]).ok().json();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|m| m["group"] == ops.as_str()), "{got:?}");
    assert_eq!(bodies(&got), ["o1", "o2"]);
    let log = bob.u.path("exec.log");
    let exec = format!(
        "printf '%s|%s|%s\\n' \"$PIGEON_GROUP\" \"$PIGEON_GROUP_NAME\" \"$PIGEON_KIND\" >> {}",
        log.display()
    );
    bob.u.run(&["recv", "--exec", &exec]).ok();
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            format!("{dev}|dev|membership"),
            format!("{dev}|dev|text"),
            "||text".to_string(),
        ],
        "{log}"
    );

    // A second group called ops: the name is ambiguous, the ids are not.
    let ops2 = change(&alice, &["group", "create", "ops", "--member", "bob"]).0;
    let ops2 = ops2["group"].as_str().unwrap().to_string();
    let r = alice.u.run(&["send", "--group", "ops", "which?"]).code(2);
    assert!(
        r.stderr.contains(&ops) && r.stderr.contains(&ops2),
        "{}",
        r.stderr
    );
    alice.u.run(&["send", "--group", &ops2, "this one"]).ok();
    let got = bob.u.run(&["recv", "--group", &ops2]).ok().json();
    assert_eq!(bodies(&got), ["this one"]);
    let r = bob.u.run(&["recv", "--group", "ops"]).code(2);
    assert!(r.stderr.contains(&ops2), "{}", r.stderr);
    let list = bob.u.run(&["group", "list"]).ok().json();
    assert_eq!(list.len(), 3);
    assert!(
        list.iter()
            .all(|g| g["role"] == "member" && g["members"] == 2)
    );
    let r = bob.u.run(&["group", "show", "nope"]).code(5);
    assert!(r.stderr.contains("no group"), "{}", r.stderr);
}

#[test]
fn a_batch_too_large_for_a_relay_is_split_not_lost() {
    // A relay that takes at most 16 KiB per request: four 6 KiB envelopes do not fit in
    // one batch, and each fits alone.
    let home = crate::harness::home();
    let relay = crate::harness::Relay::start(home.path(), &["--max-body", "16384"]);
    let alice = Person::on("alice", "age", &[&relay.url]);
    let names = ["bob", "carol", "dave", "erin"];
    let members: Vec<Person> = names
        .iter()
        .map(|n| Person::on(n, "age", &[&relay.url]))
        .collect();
    let mut create = vec!["group", "create", "big"];
    for (p, n) in members.iter().zip(names) {
        alice.knows(p);
        create.extend(["--member", n]);
    }
    change(&alice, &create);
    let body = "y".repeat(3000);
    let sent = alice.u.run(&["send", "--group", "big", &body]).ok().one();
    let deliveries = sent["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 4);
    assert!(deliveries.iter().all(|d| d["ok"] == true), "{sent}");
    for p in &members {
        assert_eq!(bodies(&p.recv()), std::slice::from_ref(&body), "{}", p.name);
    }
}
