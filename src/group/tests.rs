use serde_json::json;

use super::*;

fn fp(c: char) -> String {
    c.to_string().repeat(40)
}

fn member(c: char) -> GroupMember {
    GroupMember {
        fingerprint: fp(c),
        card: json!({"fingerprint": fp(c)}),
    }
}

fn card_fp(card: &serde_json::Value) -> Result<String> {
    Ok(card["fingerprint"].as_str().unwrap_or("").to_string())
}

/// a creates {a, b, c}; returns a's state.
fn created() -> Group {
    Group::create("ops", member('a'), vec![member('b'), member('c')]).unwrap()
}

/// What `me` holds after receiving the announcement of `g` (made by `change`, from `by`).
fn receive(
    held: Option<&Group>,
    me: char,
    by: char,
    g: &Group,
    change: Change,
    subj: &[char],
) -> Result<Applied> {
    let subjects: Vec<String> = subj.iter().map(|&c| fp(c)).collect();
    let m = g.announce(change, &subjects);
    apply(held, &fp(me), &fp(by), &new_id(), &m, &card_fp)
}

fn next(a: Applied) -> Group {
    match a {
        Applied::Next(g) => *g,
        Applied::Again => panic!("expected a new state"),
    }
}

fn err(r: Result<Applied>) -> String {
    format!("{:#}", r.expect_err("refused"))
}

#[test]
fn create_then_every_change_applies_in_order() {
    let a = created();
    assert_eq!(a.version, 1);
    assert_eq!(a.role(&fp('a')), "admin");
    let b = next(receive(None, 'b', 'a', &a, Change::Added, &['b', 'c']).unwrap());
    assert_eq!((b.version, b.role(&fp('b'))), (1, "member"));
    let a2 = a
        .next(Change::Added, &[fp('d')], &fp('a'), &[member('d')])
        .unwrap();
    let b = next(receive(Some(&b), 'b', 'a', &a2, Change::Added, &['d']).unwrap());
    // The newcomer starts from the announced state.
    let d = next(receive(None, 'd', 'a', &a2, Change::Added, &['d']).unwrap());
    assert_eq!(d.members.len(), 4);
    let a3 = a2.next(Change::Admin, &[fp('b')], &fp('a'), &[]).unwrap();
    let b = next(receive(Some(&b), 'b', 'a', &a3, Change::Admin, &['b']).unwrap());
    assert_eq!(b.role(&fp('b')), "admin");
    // b, now an admin, removes c (who followed every change); then revokes a.
    let b4 = b.next(Change::Removed, &[fp('c')], &fp('b'), &[]).unwrap();
    let mut c = next(receive(None, 'c', 'a', &a, Change::Added, &['b', 'c']).unwrap());
    c = next(receive(Some(&c), 'c', 'a', &a2, Change::Added, &['d']).unwrap());
    c = next(receive(Some(&c), 'c', 'a', &a3, Change::Admin, &['b']).unwrap());
    c = next(receive(Some(&c), 'c', 'b', &b4, Change::Removed, &['c']).unwrap());
    assert_eq!(c.role(&fp('c')), "removed");
    let b5 = b4.next(Change::Revoked, &[fp('a')], &fp('b'), &[]).unwrap();
    assert!(!b5.is_admin(&fp('a')));
    assert_eq!(b5.version, 5);
}

#[test]
fn non_admins_stale_and_skipped_versions_are_refused() {
    let a = created();
    let b = next(receive(None, 'b', 'a', &a, Change::Added, &['b', 'c']).unwrap());
    // c pretends to be an admin (tampered local state) and removes b.
    let mut forged = b.clone();
    forged.admins.push(fp('c'));
    let f = forged
        .next(Change::Removed, &[fp('b')], &fp('c'), &[])
        .unwrap();
    assert!(err(receive(Some(&b), 'b', 'c', &f, Change::Removed, &['b'])).contains("not an admin"));
    // The same version twice (a conflicting change), and one from the past.
    let a2 = a.next(Change::Admin, &[fp('b')], &fp('a'), &[]).unwrap();
    let b2 = next(receive(Some(&b), 'b', 'a', &a2, Change::Admin, &['b']).unwrap());
    let other = a.next(Change::Removed, &[fp('c')], &fp('a'), &[]).unwrap();
    assert!(
        err(receive(
            Some(&b2),
            'b',
            'a',
            &other,
            Change::Removed,
            &['c']
        ))
        .contains("stale")
    );
    // A version that skips one.
    let a3 = a2.next(Change::Admin, &[fp('c')], &fp('a'), &[]).unwrap();
    let a4 = a3.next(Change::Revoked, &[fp('c')], &fp('a'), &[]).unwrap();
    assert!(err(receive(Some(&b2), 'b', 'a', &a4, Change::Revoked, &['c'])).contains("skips"));
    // Lists that do not follow from the change.
    let mut m = a3.announce(Change::Admin, &[fp('c')]);
    m.members.push(member('e'));
    assert!(
        format!(
            "{:#}",
            apply(Some(&b2), &fp('b'), &fp('a'), &new_id(), &m, &card_fp).unwrap_err()
        )
        .contains("do not follow")
    );
}

#[test]
fn the_same_message_again_is_no_conflict() {
    let a = created();
    let m = a.announce(Change::Added, &[fp('b'), fp('c')]);
    let id = new_id();
    let b = next(apply(None, &fp('b'), &fp('a'), &id, &m, &card_fp).unwrap());
    assert!(matches!(
        apply(Some(&b), &fp('b'), &fp('a'), &id, &m, &card_fp).unwrap(),
        Applied::Again
    ));
}

#[test]
fn a_ban_holds_for_every_admin() {
    let a = created();
    let a2 = a.next(Change::Banned, &[fp('c')], &fp('a'), &[]).unwrap();
    assert!(!a2.is_member(&fp('c')));
    let e = a2
        .next(Change::Added, &[fp('c')], &fp('a'), &[member('c')])
        .unwrap_err();
    assert!(format!("{e:#}").contains("banned"));
    // Even a message that claims it: b refuses to apply a re-add.
    let b = next(receive(None, 'b', 'a', &a, Change::Added, &['b', 'c']).unwrap());
    let b = next(receive(Some(&b), 'b', 'a', &a2, Change::Banned, &['c']).unwrap());
    let mut readd = a2.clone();
    readd.version += 1;
    readd.banned.clear();
    readd.members.push(member('c'));
    assert!(err(receive(Some(&b), 'b', 'a', &readd, Change::Added, &['c'])).contains("banned"));
}

#[test]
fn leaving_is_only_for_oneself_and_ends_membership() {
    let a = created();
    let b = next(receive(None, 'b', 'a', &a, Change::Added, &['b', 'c']).unwrap());
    let left = b.next(Change::Left, &[fp('b')], &fp('b'), &[]).unwrap();
    let a2 = next(receive(Some(&a), 'a', 'b', &left, Change::Left, &['b']).unwrap());
    assert!(!a2.is_member(&fp('b')));
    assert!(b.next(Change::Left, &[fp('c')], &fp('b'), &[]).is_err());
    // After leaving, b takes no more changes (until invited again).
    let mut b_left = left.clone();
    b_left.status = Status::Left;
    let a3 = a2.next(Change::Admin, &[fp('c')], &fp('a'), &[]).unwrap();
    assert!(
        err(receive(Some(&b_left), 'b', 'a', &a3, Change::Admin, &['c'])).contains("no longer")
    );
    let a4 = a3
        .next(Change::Added, &[fp('b')], &fp('a'), &[member('b')])
        .unwrap();
    let back = next(receive(Some(&b_left), 'b', 'a', &a4, Change::Added, &['b']).unwrap());
    assert_eq!((back.status, back.version), (Status::Member, 4));
}

#[test]
fn an_invitation_must_come_from_an_admin_it_lists() {
    let a = created();
    let m = a.announce(Change::Added, &[fp('b'), fp('c')]);
    assert!(apply(None, &fp('b'), &fp('c'), &new_id(), &m, &card_fp).is_err());
    assert!(apply(None, &fp('e'), &fp('a'), &new_id(), &m, &card_fp).is_err());
}

#[test]
fn the_stanza_guess_follows_the_senders_order() {
    let age = |c: char| GroupMember {
        fingerprint: fp(c),
        card: json!({"kind": "age"}),
    };
    let pgp = |c: char| GroupMember {
        fingerprint: fp(c),
        card: json!({"kind": "pgp"}),
    };
    let g = Group::create("ops", age('c'), vec![age('a'), pgp('b'), age('e')]).unwrap();
    // Age members a, c, e: c is at 1 of 3 (a pgp sender), or of 2 (an age sender) at 1
    // (e sends) or 0 (a sends).
    let order = stanza_order([&g], &fp('c'));
    assert_eq!(order[&3], [1]);
    assert_eq!(order[&2], [1, 0]);
    let order = stanza_order([&g], &fp('e'));
    assert_eq!(order[&3], [2]);
    assert_eq!(order[&2], [1]);
    assert!(
        stanza_order([&g], &fp('b')).is_empty(),
        "a pgp member has no stanza"
    );
}

#[test]
fn the_likelier_of_an_age_senders_two_places_is_tried_first() {
    let age = |c: char| GroupMember {
        fingerprint: fp(c),
        card: json!({"kind": "age"}),
    };
    let others = vec![age('a'), age('b'), age('d')];
    let g = Group::create("ops", age('c'), others).unwrap();
    // Age members a, b, c, d: c is at rank 2, with two members below it and one above, so
    // an age sender is likelier below (mine at 1) than above (mine at 2).
    assert_eq!(stanza_order([&g], &fp('c'))[&3], [1, 2]);
    // b (rank 1) has two above: at 1 first.
    assert_eq!(stanza_order([&g], &fp('b'))[&3], [1, 0]);
}
