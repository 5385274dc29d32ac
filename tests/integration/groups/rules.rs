//! Changes that break the rules, made with real keys by members whose local state was
//! tampered with: a non-admin's change, a stale version, a message from a non-member.
//! Each is rejected and reported, never shown as good, and changes nobody's state.

use serde_json::json;

use super::{Person, bodies, change, memberships};
use crate::users::Relay;

fn rejected(p: &Person, reason: &str) {
    let r = p.u.run(&["recv", "--show-rejected"]).code(4);
    let lines = r.json();
    assert!(memberships(&lines).is_empty(), "{lines:?}");
    assert!(bodies(&lines).is_empty(), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "rejected" && l["reason"].as_str().unwrap().contains(reason)),
        "{} wanted a rejection for {reason:?}: {lines:?}",
        p.name
    );
    assert!(r.stderr.contains("rejected"), "{}", r.stderr);
}

/// alice (age, the admin), bob (pgp) and carol (age), who all know each other, in group
/// "ops" that alice created and both others joined; and its id.
fn ops(relay: &Relay) -> (Person, Person, Person, String) {
    let alice = Person::new("alice", "age", &[relay]);
    let bob = Person::new("bob", "pgp", &[relay]);
    let carol = Person::new("carol", "age", &[relay]);
    for (p, q) in [(&alice, &bob), (&alice, &carol), (&bob, &carol)] {
        p.knows(q);
        q.knows(p);
    }
    let (m, _) = change(
        &alice,
        &[
            "group", "create", "ops", "--member", "bob", "--member", "carol",
        ],
    );
    let id = m["group"].as_str().unwrap().to_string();
    bob.recv();
    carol.recv();
    (alice, bob, carol, id)
}

#[test]
fn forged_stale_and_outsider_messages_are_rejected() {
    let relay = Relay::start();
    let (alice, bob, carol, id) = ops(&relay);

    // bob, no admin, makes himself one in his own copy and removes carol.
    let honest = std::fs::read(bob.state_file(&id)).unwrap();
    bob.tamper(&id, |g| {
        g["admins"].as_array_mut().unwrap().push(json!(bob.fp()))
    });
    change(&bob, &["group", "remove", "ops", "carol"]);
    rejected(&alice, "not an admin");
    rejected(&carol, "not an admin");
    assert_eq!(carol.show("ops")["role"], "member");
    assert_eq!(alice.show("ops")["version"], 1);
    std::fs::write(bob.state_file(&id), honest).unwrap();

    // bob becomes an admin for real (version 2), then replays the past: his copy set
    // back to version 1, he announces a version 2 of his own.
    change(&alice, &["group", "admin", "ops", "bob"]);
    assert_eq!(memberships(&bob.recv()).len(), 1);
    assert_eq!(memberships(&carol.recv()).len(), 1);
    let honest = std::fs::read(bob.state_file(&id)).unwrap();
    bob.tamper(&id, |g| g["version"] = json!(1));
    change(&bob, &["group", "remove", "ops", "carol"]);
    rejected(&alice, "stale");
    rejected(&carol, "stale");
    assert_eq!(carol.show("ops")["role"], "member");
    std::fs::write(bob.state_file(&id), honest).unwrap();

    // carol is removed for real; then she pretends to be a member and writes to the group.
    change(&alice, &["group", "remove", "ops", "carol"]);
    assert_eq!(memberships(&carol.recv()).len(), 1);
    bob.recv();
    carol.tamper(&id, |g| {
        g["status"] = json!("member");
        let me = g["members"].as_array().unwrap().len();
        assert_eq!(me, 2);
    });
    // Her copy lists alice and bob only, so she is not even a recipient of her own idea.
    carol.u.run(&["send", "--group", "ops", "still here"]).ok();
    rejected(&alice, "not a member");
    rejected(&bob, "not a member");

    // A message to a group someone is not in at all: carol sends with a made-up copy.
    let dave = Person::new("dave", "age", &[&relay]);
    dave.knows(&alice);
    alice.knows(&dave);
    std::fs::create_dir_all(dave.u.path("groups")).unwrap();
    let mut copy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(alice.state_file(&id)).unwrap()).unwrap();
    copy["members"]
        .as_array_mut()
        .unwrap()
        .push(json!({"fingerprint": dave.fp(), "card": serde_json::from_str::<serde_json::Value>(&dave.card).unwrap()}));
    std::fs::write(dave.state_file(&id), serde_json::to_vec(&copy).unwrap()).unwrap();
    dave.u.run(&["send", "--group", "ops", "let me in"]).ok();
    rejected(&alice, "not a member");
    // Good messages still pass.
    alice.u.run(&["send", "--group", "ops", "fine"]).ok();
    assert_eq!(bodies(&bob.recv()), ["fine"]);
}

/// A group message names no recipient (`v` 2, `to` empty): the group does. A copy of one,
/// signed by a member and sealed by someone else to an outsider or to a removed member, is
/// refused as theirs to read; so is an empty `to` outside a group message, a membership
/// change without recipients, and a version this pigeon does not know.
#[test]
fn a_group_message_forwarded_outside_the_group_is_refused() {
    use crate::adversarial_client::{craft, identity, post};
    let relay = Relay::start();
    let (alice, bob, carol, id) = ops(&relay);
    let dave = Person::new("dave", "age", &[&relay]);
    dave.knows(&alice);
    alice.knows(&dave);
    alice.u.run(&["send", "--group", "ops", "hello ops"]).ok();
    let got = bob.recv();
    assert_eq!(bodies(&got), ["hello ops"]);
    assert_eq!(got[0]["group"], id.as_str());
    assert_eq!(got[0]["to"], json!([]), "the group names the recipients");

    let from = identity(&alice.u);
    let as_group = |i: &mut pigeon::wire::Inner| {
        i.v = pigeon::wire::GROUP_V;
        i.to.clear();
        i.group = Some(id.clone());
    };
    // dave was never in the group.
    let (mid, ct) = craft(&from, &dave.u, "forwarded", as_group);
    post(&relay, &dave.u, &mid, &ct);
    rejected(&dave, "which I am not in");

    // carol was, and is removed: what is sent after that is not hers.
    change(&alice, &["group", "remove", "ops", "carol"]);
    assert_eq!(memberships(&carol.recv()).len(), 1);
    assert_eq!(memberships(&bob.recv()).len(), 1);
    let (mid, ct) = craft(&from, &carol.u, "after carol", as_group);
    post(&relay, &carol.u, &mid, &ct);
    rejected(&carol, "no longer in");

    // An empty `to` is a group's only: not for a message to persons, nor for a change.
    let (mid, ct) = craft(&from, &dave.u, "to nobody", |i| {
        i.v = pigeon::wire::GROUP_V;
        i.to.clear();
    });
    post(&relay, &dave.u, &mid, &ct);
    rejected(&dave, "addressed to someone else");
    let (mid, ct) = craft(&from, &bob.u, "{}", |i| {
        as_group(i);
        i.kind = "membership".into();
    });
    post(&relay, &bob.u, &mid, &ct);
    rejected(&bob, "addressed to someone else");
    let (mid, ct) = craft(&from, &bob.u, "from the future", |i| i.v = 3);
    post(&relay, &bob.u, &mid, &ct);
    rejected(&bob, "upgrade pigeon");
}
