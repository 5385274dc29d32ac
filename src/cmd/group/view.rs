//! The JSON a person or script sees of groups and membership changes, shared by
//! `pigeon group` (for the change I make) and `recv` (for those others make).

use anyhow::Result;
use serde_json::{Value, json};

use crate::group::{Change, Group};
use crate::keys::Contacts;
use crate::output::one_line;
use crate::wire::Membership;

/// One member as shown: `{"fingerprint","name","known"}`, plus `"card"` when they are not
/// my contact (so a script can pin them) and `"me":true` for me. `card` is the one the
/// group carries, if any.
pub(crate) fn member(
    contacts: &Contacts,
    me: &str,
    fp: &str,
    card: Option<&Value>,
) -> Result<Value> {
    if fp == me {
        return Ok(json!({"fingerprint": fp, "name": null, "known": true, "me": true}));
    }
    Ok(match contacts.by_fingerprint(fp)? {
        Some(c) => json!({"fingerprint": fp, "name": c.name, "known": true}),
        None => {
            let mut v = json!({"fingerprint": fp, "name": null, "known": false});
            if let Some(card) = card {
                v["claimed_name"] = card["name"].clone();
                v["card"] = card.clone();
            }
            v
        }
    })
}

/// `{"type":"membership","group","group_name","version","<change>":[members],"by",
/// "members","admins","banned","body"}`: what a change did, one JSON line. `body` says it
/// in a sentence for people (and `recv --format text`).
pub(crate) fn membership(
    contacts: &Contacts,
    me: &str,
    m: &Membership,
    group_name: &str,
    by: &str,
) -> Result<Value> {
    let card_of = |fp: &str| {
        m.members
            .iter()
            .find(|x| x.fingerprint == fp)
            .map(|x| &x.card)
    };
    let mut subjects = Vec::new();
    for s in &m.subjects {
        subjects.push(member(contacts, me, s, card_of(s))?);
    }
    let by_view = member(contacts, me, by, card_of(by))?;
    let who = |v: &Value| -> String {
        if v["me"] == true {
            return "you".into();
        }
        let name = v["name"].as_str().or_else(|| v["claimed_name"].as_str());
        let fp: String = v["fingerprint"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(16)
            .collect();
        match (name, v["known"] == true) {
            (Some(n), true) => one_line(n),
            (Some(n), false) => format!("{} (unknown key {fp})", one_line(n)),
            (None, _) => format!("unknown key {fp}"),
        }
    };
    let names: Vec<String> = subjects.iter().map(who).collect();
    let verb = match Change::parse(&m.change) {
        Some(Change::Added) => "added",
        Some(Change::Removed) => "removed",
        Some(Change::Left) => "left",
        Some(Change::Banned) => "banned",
        Some(Change::Admin) => "made an admin:",
        Some(Change::Revoked) => "took admin rights from",
        None => "changed",
    };
    let sentence = if m.change == "left" {
        format!("{} left group {}", names.join(", "), one_line(group_name))
    } else {
        format!(
            "{} {verb} {} in group {} (version {})",
            who(&by_view),
            names.join(", "),
            one_line(group_name),
            m.version
        )
    };
    let mut v = json!({
        "type": "membership",
        "group": m.group,
        "group_name": group_name,
        "version": m.version,
        "change": m.change,
        "by": by,
        "members": m.members.iter().map(|x| x.fingerprint.clone()).collect::<Vec<_>>(),
        "admins": m.admins,
        "banned": m.banned,
        "body": sentence,
    });
    v[m.change.as_str()] = Value::Array(subjects);
    Ok(v)
}

/// `{"type":"group","id","name","role","version","members":[…],"admins","banned"}`.
pub(crate) fn group(contacts: &Contacts, me: &str, g: &Group) -> Result<Value> {
    let mut members = Vec::new();
    for m in &g.members {
        let mut v = member(contacts, me, &m.fingerprint, Some(&m.card))?;
        v["admin"] = json!(g.is_admin(&m.fingerprint));
        if let Some(obj) = v.as_object_mut() {
            obj.remove("card");
        }
        members.push(v);
    }
    Ok(json!({
        "type": "group",
        "id": g.id,
        "name": g.name,
        "role": g.role(me),
        "version": g.version,
        "members": members,
        "admins": g.admins,
        "banned": g.banned,
    }))
}
