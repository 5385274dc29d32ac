//! `pigeon group`: make groups and change their members. A change is applied to my copy of
//! the group by the same rules every member applies (`crate::group`), saved, and then
//! announced as a signed `membership` message to every member old and new.

use anyhow::Result;

use super::Ctx;
use super::send::Announcer;
use crate::cli::{GroupCommand, GroupMembersArgs, GroupSendArgs};
use crate::error::{Exit, WithHint, fail};
use crate::group::{Change, Group, Groups, Status};
use crate::keys::{Contacts, IdentityMeta, normalize_fingerprint};
use crate::wire::GroupMember;

pub(crate) mod view;

pub fn run(ctx: &Ctx, cmd: GroupCommand) -> Result<Exit> {
    let groups = Groups::open(&ctx.home);
    let contacts = Contacts::open(&ctx.home);
    match cmd {
        GroupCommand::Create(a) => {
            crate::keys::validate_name(&a.name)?;
            let an = Announcer::open(
                ctx,
                a.send.passphrase_file.as_deref(),
                a.send.ttl.as_deref(),
            )?;
            let me = an.me()?;
            let mut members: Vec<GroupMember> = Vec::new();
            for key in &a.member {
                let m = contact_member(&contacts, key)?;
                if m.fingerprint != me.fingerprint
                    && !members.iter().any(|x| x.fingerprint == m.fingerprint)
                {
                    members.push(m);
                }
            }
            if members.is_empty() {
                return Err(fail(Exit::Usage, "a group needs a member besides you"));
            }
            let g = Group::create(&a.name, me.clone(), members)?;
            let subjects: Vec<String> = g.members[1..]
                .iter()
                .map(|m| m.fingerprint.clone())
                .collect();
            announce(
                ctx,
                an,
                &groups,
                &contacts,
                g.clone(),
                &g,
                Change::Added,
                subjects,
            )
        }
        GroupCommand::Add(a) => members_change(ctx, &groups, &contacts, a, Change::Added),
        GroupCommand::Remove(a) => members_change(ctx, &groups, &contacts, a, Change::Removed),
        GroupCommand::Ban(a) => members_change(ctx, &groups, &contacts, a, Change::Banned),
        GroupCommand::Leave(a) => {
            let old = groups.find(&a.group)?;
            let an = opened(ctx, &a.send)?;
            let me = an.me()?.fingerprint;
            let next = old.next(Change::Left, std::slice::from_ref(&me), &me, &[])?;
            announce(
                ctx,
                an,
                &groups,
                &contacts,
                old,
                &next,
                Change::Left,
                vec![me],
            )
        }
        GroupCommand::Admin(a) => {
            let old = groups.find(&a.group)?;
            let fp = member_fingerprint(&contacts, &old, &a.member, false)?;
            let change = if a.revoke {
                Change::Revoked
            } else {
                Change::Admin
            };
            let an = opened(ctx, &a.send)?;
            let me = an.me()?.fingerprint;
            let next = old.next(change, std::slice::from_ref(&fp), &me, &[])?;
            announce(ctx, an, &groups, &contacts, old, &next, change, vec![fp])
        }
        GroupCommand::List => {
            let me = my_fingerprint(ctx)?;
            for g in groups.list()? {
                let mut v = view::group(&contacts, &me, &g)?;
                v["members"] = serde_json::json!(g.members.len());
                for k in ["admins", "banned"] {
                    if let Some(o) = v.as_object_mut() {
                        o.remove(k);
                    }
                }
                super::emit(&v)?;
            }
            Ok(Exit::Ok)
        }
        GroupCommand::Show { group } => {
            let g = groups.find(&group)?;
            super::emit(&view::group(&contacts, &my_fingerprint(ctx)?, &g)?)?;
            Ok(Exit::Ok)
        }
    }
}

fn opened(ctx: &Ctx, a: &GroupSendArgs) -> Result<Announcer> {
    Announcer::open(ctx, a.passphrase_file.as_deref(), a.ttl.as_deref())
}

fn my_fingerprint(ctx: &Ctx) -> Result<String> {
    Ok(IdentityMeta::load(&ctx.home)?.fingerprint)
}

/// `add`, `remove` and `ban`: one change about every member named.
fn members_change(
    ctx: &Ctx,
    groups: &Groups,
    contacts: &Contacts,
    a: GroupMembersArgs,
    change: Change,
) -> Result<Exit> {
    let old = groups.find(&a.group)?;
    let mut subjects = Vec::new();
    let mut joiners = Vec::new();
    for key in &a.members {
        let fp = if change == Change::Added {
            let m = contact_member(contacts, key)?;
            let fp = m.fingerprint.clone();
            joiners.push(m);
            fp
        } else {
            member_fingerprint(contacts, &old, key, change == Change::Banned)?
        };
        if !subjects.contains(&fp) {
            subjects.push(fp);
        }
    }
    let an = opened(ctx, &a.send)?;
    let me = an.me()?.fingerprint;
    let next = old.next(change, &subjects, &me, &joiners)?;
    announce(ctx, an, groups, contacts, old, &next, change, subjects)
}

/// Saves the new state, prints the change, and sends it to every member old and new.
#[allow(clippy::too_many_arguments)]
fn announce(
    ctx: &Ctx,
    an: Announcer,
    groups: &Groups,
    contacts: &Contacts,
    old: Group,
    next: &Group,
    change: Change,
    subjects: Vec<String>,
) -> Result<Exit> {
    let me = an.me()?.fingerprint;
    let mut next = next.clone();
    if !next.is_member(&me) {
        next.status = Status::Left;
    }
    groups.save(&next)?;
    let m = next.announce(change, &subjects);
    super::emit(&view::membership(contacts, &me, &m, &next.name, &me)?)?;
    let mut to = old.members;
    to.extend(next.members.iter().cloned());
    let code = an.send(&next, &to, &m)?;
    if code != Exit::Ok {
        ctx.say(
            "the change is saved here; members not reached get it when `pigeon send --retry` \
             (or any later send) delivers the outbox",
        );
    }
    Ok(code)
}

/// A contact as a new member, with the card I pinned.
fn contact_member(contacts: &Contacts, key: &str) -> Result<GroupMember> {
    let c = contacts.get(key)?;
    c.checked()?;
    Ok(GroupMember {
        fingerprint: c.fingerprint,
        card: c.card,
    })
}

/// A member named by my contact name for them, the name on their card (when only one
/// member has it), or their fingerprint (8+ digits). With `any`, someone who is not a
/// member may be named too (a ban can come first), by contact or full fingerprint.
fn member_fingerprint(contacts: &Contacts, g: &Group, key: &str, any: bool) -> Result<String> {
    if let Some(c) = contacts.find(key)?
        && (any || g.is_member(&c.fingerprint))
    {
        return Ok(c.fingerprint);
    }
    let fp = normalize_fingerprint(key);
    let hits: Vec<&GroupMember> = g
        .members
        .iter()
        .filter(|m| {
            m.card["name"].as_str() == Some(key)
                || (fp.len() >= 8 && m.fingerprint.to_lowercase().starts_with(&fp))
        })
        .collect();
    match hits.as_slice() {
        [m] => Ok(m.fingerprint.clone()),
        [] if any && fp.len() >= 32 && fp.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(fp),
        [] => Err(fail(
            Exit::NotFound,
            format!(
                "{:?} is not a member of group {}",
                crate::output::sanitize(key),
                g.name
            ),
        ))
        .hint("see the members with `pigeon group show GROUP`"),
        _ => Err(fail(
            Exit::Usage,
            format!(
                "{:?} names more than one member",
                crate::output::sanitize(key)
            ),
        ))
        .hint("give the fingerprint"),
    }
}
