//! pigeon: an end-to-end encrypted, store-and-forward messenger for the command line.
//!
//! Module map (arrows are the only allowed dependencies):
//!
//! ```text
//! main.rs ─► run() ─► cli (clap definitions only, imports nothing of the crate)
//!                  └► cmd/* (the only layer that knows stdin/stdout)
//!                        ├► message  build, seal, open and check messages ─► keys, crypto
//!                        ├► keys     identities, cards, contacts on disk ─► crypto
//!                        ├► group    group state and membership rules (pure) + on disk
//!                        ├► store    local SQLite archive, outbox, cursors
//!                        ├► delivery posting to many relays at once ─► client
//!                        ├► client   HTTP client for relays and trackers; speaks only wire types
//!                        ├► directory cards from trackers, verified ─► client, keys
//!                        ├► relay/*  the server: routes, storage, limits, admission
//!                        ├► tracker/* signed cards and relays on the relay's plumbing ─► card
//!                        └► output   JSON Lines writer, terminal sanitising
//! crypto   age + OpenPGP, bytes in / bytes out, no I/O (a leaf but for `par`)
//! par      independent work over the cores, results in order (pure)
//! card     checking signed cards (no disk, no secrets) ─► crypto; keys re-exports it
//! wire     serde types that cross the network (shared by client and relay)
//! error    exit-code enum and the error printer
//! ```
//! The relay never imports `keys` or `crypto`: it handles opaque bytes and checks Ed25519
//! request signatures only. That is what lets `bin/pigeond.rs` (`run_relay()`, the
//! `serve` subcommand alone) link without the client. The tracker verifies card signatures
//! (`card` ─► `crypto`'s verification, never a secret key or a decryption), so a relay that
//! mounts it (`serve --tracker`) links the OpenPGP library too.

pub mod card;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod directory;
pub mod error;
pub mod group;
pub mod home;
pub mod keys;
pub mod message;
pub mod output;
pub mod par;
pub mod relay;
pub mod store;
pub mod tracker;
pub mod wire;

use std::ffi::OsString;

use clap::Parser;

/// Runs pigeon with these arguments and returns the process exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    match cli::Cli::try_parse_from(args) {
        Ok(cli) => finish(cmd::dispatch(cli)),
        Err(e) => usage_error(e),
    }
}

/// Runs `pigeond` (the relay alone) with these arguments; returns the exit code.
pub fn run_relay<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    match cli::RelayCli::try_parse_from(args) {
        Ok(cli) => finish(cmd::dispatch_relay(cli)),
        Err(e) => usage_error(e),
    }
}

fn usage_error(e: clap::Error) -> i32 {
    // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
    let _ = e.print();
    if e.use_stderr() {
        error::Exit::Usage.code()
    } else {
        error::Exit::Ok.code()
    }
}

fn finish(result: anyhow::Result<error::Exit>) -> i32 {
    match result {
        Ok(code) => code.code(),
        Err(err) => {
            if error::is_broken_pipe(&err) {
                return error::Exit::Ok.code();
            }
            error::report(&err);
            error::exit_code(&err).code()
        }
    }
}
