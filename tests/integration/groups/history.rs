//! Create, message, add, admin, remove, ban, revoke, leave: every member's recv shows the
//! same membership history in the same order (each the part they were a member for).

use serde_json::Value;

use super::{Person, bodies, change, change_key, memberships};
use crate::users::Relay;

#[test]
fn every_member_sees_the_same_membership_history() {
    let (r1, r2) = (Relay::start(), Relay::start());
    let alice = Person::new("alice", "age", &[&r1]);
    let bob = Person::new("bob", "pgp", &[&r1, &r2]);
    let carol = Person::new("carol", "pgp", &[&r2]);
    let dave = Person::new("dave", "age", &[&r1, &r2]);
    // alice knows everyone; bob and carol know alice and each other; dave only alice.
    for (p, others) in [
        (&alice, vec![&bob, &carol, &dave]),
        (&bob, vec![&alice, &carol]),
        (&carol, vec![&alice, &bob]),
        (&dave, vec![&alice]),
    ] {
        for o in others {
            p.knows(o);
        }
    }
    let mut seen: Vec<Vec<Value>> = vec![Vec::new(); 4];
    let (a, b, c, d) = (0, 1, 2, 3);

    let (m, _) = change(
        &alice,
        &[
            "group", "create", "ops", "--member", "bob", "--member", "carol",
        ],
    );
    let id = m["group"].as_str().unwrap().to_string();
    assert_eq!(
        (m["version"].as_u64(), m["change"].as_str()),
        (Some(1), Some("added"))
    );
    seen[a].push(m);
    for (i, p) in [(b, &bob), (c, &carol)] {
        let got = p.recv();
        let ms = memberships(&got);
        assert_eq!(ms.len(), 1, "{got:?}");
        assert_eq!(ms[0]["group"], id.as_str());
        assert_eq!(ms[0]["group_name"], "ops");
        assert_eq!(ms[0]["from"]["name"], "alice");
        assert_eq!(p.show("ops")["role"], "member");
        seen[i].extend(ms);
    }

    // A group message: group id on it, sealed once per kind, to bob and carol.
    let sent = alice
        .u
        .run(&["send", "--group", "ops", "hello team"])
        .ok()
        .one();
    assert_eq!(sent["to"].as_array().unwrap().len(), 2, "{sent}");
    for p in [&bob, &carol] {
        let got = p.recv();
        assert_eq!(bodies(&got), ["hello team"]);
        assert_eq!(got[0]["group"], id.as_str());
        assert_eq!(got[0]["group_name"], "ops");
    }

    // dave joins: bob never pinned him, so bob is warned and sees his card.
    let (m, _) = change(&alice, &["group", "add", "ops", "dave"]);
    seen[a].push(m);
    let r = bob.u.run(&["recv"]).ok();
    assert!(
        r.stderr.contains("WARNING") && r.stderr.contains("never pinned"),
        "{}",
        r.stderr
    );
    let ms = memberships(&r.json());
    assert_eq!(ms[0]["added"][0]["fingerprint"], dave.fp().as_str());
    assert_eq!(ms[0]["added"][0]["known"], false);
    assert_eq!(ms[0]["added"][0]["card"]["name"], "dave");
    seen[b].extend(ms);
    let ms = memberships(&carol.recv());
    assert_eq!(ms[0]["added"][0]["known"], false);
    seen[c].extend(ms);
    // The newcomer gets the membership, not the past.
    let got = dave.recv();
    assert!(bodies(&got).is_empty(), "{got:?}");
    let ms = memberships(&got);
    assert_eq!(ms.len(), 1);
    assert_eq!(dave.show("ops")["version"], 2);
    seen[d].extend(ms);

    // bob becomes an admin and removes carol; carol is told, then gets nothing more.
    seen[a].push(change(&alice, &["group", "admin", "ops", "bob"]).0);
    for (i, p) in [(b, &bob), (c, &carol), (d, &dave)] {
        seen[i].extend(memberships(&p.recv()));
    }
    assert_eq!(bob.show("ops")["role"], "admin");
    seen[b].push(change(&bob, &["group", "remove", "ops", "carol"]).0);
    for (i, p) in [(a, &alice), (c, &carol), (d, &dave)] {
        seen[i].extend(memberships(&p.recv()));
    }
    assert_eq!(carol.show("ops")["role"], "removed");
    let sent = alice
        .u
        .run(&["send", "--group", "ops", "after carol"])
        .ok()
        .one();
    assert!(
        !sent["to"].as_array().unwrap().contains(&"carol".into()),
        "{sent}"
    );
    assert!(carol.recv().is_empty(), "a removed member gets nothing");
    assert_eq!(bodies(&dave.recv()), ["after carol"]);

    // A ban: carol can never be added again, by any admin.
    seen[a].push(change(&alice, &["group", "ban", "ops", "carol"]).0);
    for (i, p) in [(b, &bob), (d, &dave)] {
        seen[i].extend(memberships(&p.recv()));
    }
    for p in [&alice, &bob] {
        let r = p.u.run(&["group", "add", "ops", "carol"]);
        assert_ne!(r.code, 0);
        assert!(r.stderr.contains("banned"), "{}", r.stderr);
    }
    seen[a].push(change(&alice, &["group", "admin", "ops", "bob", "--revoke"]).0);
    for (i, p) in [(b, &bob), (d, &dave)] {
        seen[i].extend(memberships(&p.recv()));
    }
    seen[d].push(change(&dave, &["group", "leave", "ops"]).0);
    for (i, p) in [(a, &alice), (b, &bob)] {
        seen[i].extend(memberships(&p.recv()));
    }
    assert_eq!(dave.show("ops")["role"], "left");
    assert!(carol.recv().is_empty());

    // The history: alice and bob saw all seven changes, the same ones in the same order;
    // carol the first four; dave from his joining (2) to his leaving (7).
    let keys: Vec<Vec<_>> = seen
        .iter()
        .map(|s| s.iter().map(change_key).collect())
        .collect();
    let versions = |k: &Vec<(u64, String, Vec<String>, String)>| -> Vec<u64> {
        k.iter().map(|x| x.0).collect()
    };
    assert_eq!(versions(&keys[a]), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(keys[b], keys[a]);
    assert_eq!(keys[c], keys[a][..4]);
    assert_eq!(keys[d], keys[a][1..]);
    let changes: Vec<&str> = keys[a].iter().map(|k| k.1.as_str()).collect();
    assert_eq!(
        changes,
        [
            "added", "added", "admin", "removed", "banned", "revoked", "left"
        ]
    );
    for p in [&alice, &bob] {
        let g = p.show("ops");
        assert_eq!(g["version"], 7);
        assert_eq!(g["members"].as_array().unwrap().len(), 2, "{g}");
        assert_eq!(g["admins"], serde_json::json!([alice.fp()]));
        assert_eq!(g["banned"], serde_json::json!([carol.fp()]));
    }

    // The archive keeps the group: export --group by name, with the changes in order.
    for (p, n) in [(&alice, 7), (&bob, 7), (&dave, 6)] {
        let out =
            p.u.run(&["export", "--group", "ops", "--kind", "membership"])
                .ok()
                .json();
        assert_eq!(out.len(), n, "{}", p.name);
        assert!(out.iter().all(|r| r["group"] == id.as_str()));
    }
    let msgs = bob
        .u
        .run(&["export", "--group", &id, "--kind", "text"])
        .ok()
        .json();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
}
