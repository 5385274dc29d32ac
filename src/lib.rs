//! pigeon: an end-to-end encrypted, store-and-forward messenger for the command line.
//!
//! Module map (arrows are the only allowed dependencies):
//!
//! ```text
//! main.rs ─► run() ─► cli (clap definitions only, imports nothing of the crate)
//!                  └► cmd/* (the only layer that knows stdin/stdout)
//!                        ├► message  build, seal, open and check messages ─► keys, crypto
//!                        ├► keys     identities, cards, contacts on disk ─► crypto
//!                        ├► store    local SQLite archive, outbox, cursors
//!                        ├► delivery posting to many relays at once ─► client
//!                        ├► client   HTTP client for relays; speaks only wire types
//!                        ├► relay/*  the server: routes, storage, limits, admission
//!                        └► output   JSON Lines writer, terminal sanitising
//! crypto   age + OpenPGP, bytes in / bytes out, no I/O (a leaf)
//! wire     serde types that cross the network (shared by client and relay)
//! error    exit-code enum and the error printer
//! ```
//! The relay never imports `keys` or `crypto`: it handles opaque bytes and checks Ed25519
//! request signatures only.

pub mod cli;
pub mod client;
pub mod cmd;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod error;
pub mod home;
pub mod keys;
pub mod message;
pub mod output;
pub mod relay;
pub mod store;
pub mod wire;

use std::ffi::OsString;

use clap::Parser;

/// Runs pigeon with these arguments and returns the process exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return if e.use_stderr() {
                error::Exit::Usage.code()
            } else {
                error::Exit::Ok.code()
            };
        }
    };
    match cmd::dispatch(cli) {
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
