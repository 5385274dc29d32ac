//! Subcommands: one file each. This is the only layer that reads stdin or writes stdout.

pub mod serve;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::error::Exit;
use crate::home::Home;

/// What every subcommand gets besides its own arguments.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub home: Home,
    pub quiet: bool,
}

impl Ctx {
    /// A note for people on stderr, unless `--quiet`.
    pub fn say(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }
}

pub fn dispatch(cli: Cli) -> Result<Exit> {
    let ctx = Ctx {
        home: Home::from_env()?,
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Serve(a) => serve::run(&ctx, a),
        _ => Err(crate::error::fail(Exit::Failure, "not built yet")),
    }
}
