//! `pigeon group …`: clap definitions only (kept out of `cli.rs` so it stays one screenful
//! per command family).

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Groups: named sets of members who all get each group message, sealed once
///
/// A group has a random id and members with their keys; its name is yours alone (a
/// group may be called something else by each member, and two may share a name: give
/// the id then). Admins change the members; every change is a signed message to every
/// member, old and new, so everyone sees who joined, left or was removed. A newcomer
/// receives nothing that was sent before they joined, and a removed member nothing after.
/// Every command that changes the group prints {"type":"membership",…} and a "sent" line.
#[derive(Debug, Subcommand)]
#[command(after_help = "Examples:
  pigeon group create ops --member bob --member carol   # you are its first admin
  pigeon send --group ops \"deploy at 5\"
  pigeon group add ops dave           # dave joins; every member is told
  pigeon group remove ops carol       # carol gets nothing after this
  pigeon group ban ops mallory        # removed, and nobody can add them again
  pigeon group admin ops bob          # bob may change members too (--revoke undoes it)
  pigeon group leave ops
  pigeon group show ops | jq .members
  pigeon recv --group ops             # only that group's messages")]
pub enum GroupCommand {
    /// Make a group of contacts, with you as its first admin
    Create(GroupCreateArgs),
    /// Add contacts to a group (admins only)
    Add(GroupMembersArgs),
    /// Remove members from a group (admins only); they receive nothing after it
    Remove(GroupMembersArgs),
    /// Remove members and stop anyone from adding them again (admins only)
    Ban(GroupMembersArgs),
    /// Leave a group: its members are told, and you receive nothing after it
    Leave(GroupLeaveArgs),
    /// Make a member an admin, or with --revoke take it back (admins only)
    Admin(GroupAdminArgs),
    /// List your groups, one JSON line each: {"type":"group","id","name","role","version","members"}
    List,
    /// Show one group: {"type":"group","id","name","role","version","members":[…],"admins","banned"}
    Show {
        /// The group's name or id
        group: String,
    },
}

#[derive(Debug, Args)]
pub struct GroupCreateArgs {
    /// Your name for the group (members see it as the name it was created with)
    pub name: String,
    /// A contact to make a member (name or fingerprint; repeatable)
    #[arg(long, value_name = "CONTACT", required = true)]
    pub member: Vec<String>,
    #[command(flatten)]
    pub send: GroupSendArgs,
}

#[derive(Debug, Args)]
pub struct GroupMembersArgs {
    /// The group's name or id
    pub group: String,
    /// Contacts or members: a name, or a fingerprint (8+ digits are enough for a member)
    #[arg(required = true, value_name = "MEMBER")]
    pub members: Vec<String>,
    #[command(flatten)]
    pub send: GroupSendArgs,
}

#[derive(Debug, Args)]
pub struct GroupLeaveArgs {
    /// The group's name or id
    pub group: String,
    #[command(flatten)]
    pub send: GroupSendArgs,
}

#[derive(Debug, Args)]
pub struct GroupAdminArgs {
    /// The group's name or id
    pub group: String,
    /// The member (a name, or a fingerprint: 8+ digits are enough)
    pub member: String,
    /// Take admin rights away instead of granting them
    #[arg(long)]
    pub revoke: bool,
    #[command(flatten)]
    pub send: GroupSendArgs,
}

/// What a change needs to be sent like any message.
#[derive(Debug, Args)]
pub struct GroupSendArgs {
    /// How long relays keep the announcement: 30m, 12h, 2d (default: the relay's)
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// Read the passphrase from this file (else PIGEON_PASSPHRASE)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}
