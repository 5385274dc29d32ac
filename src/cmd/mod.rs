//! Subcommands: one file each. This is the only layer that reads stdin or writes stdout.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use zeroize::Zeroizing;

use crate::cli::{Cli, Command};
use crate::error::Exit;
use crate::home::Home;

pub mod archive;
pub mod attach;
pub mod card;
pub mod contact;
pub mod export;
pub mod generate;
pub mod group;
pub mod handover;
pub mod keygen;
pub mod open;
pub mod outbox;
pub mod recv;
pub mod relay;
pub mod rename;
pub mod seal;
pub mod send;
pub mod serve;
pub mod show;
pub mod tracker;
pub mod tracker_client;
pub mod web;

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
            eprintln!("{}", crate::output::sanitize(msg.as_ref()));
        }
    }

    /// The identity passphrase: the flag's file, else `PIGEON_PASSPHRASE`, else the
    /// config file's `identity.passphrase_file`.
    pub fn passphrase(&self, flag: Option<&Path>) -> Result<Option<Zeroizing<String>>> {
        if let Some(p) = crate::keys::passphrase::read(flag, Some("PIGEON_PASSPHRASE"))? {
            return Ok(Some(p));
        }
        let cfg = crate::config::Config::load(&self.home)?;
        crate::keys::passphrase::read(cfg.identity.passphrase_file.as_deref(), None)
    }

    /// Loads and unlocks my identity.
    pub fn identity(&self, passphrase_flag: Option<&Path>) -> Result<crate::keys::Identity> {
        let pass = self.passphrase(passphrase_flag)?;
        let mut id = crate::keys::Identity::load(&self.home, pass.as_deref().map(String::as_str))?;
        id.refresh_card(&self.home)?;
        Ok(id)
    }
}

/// Writes one JSON line to stdout.
pub fn emit<T: serde::Serialize>(value: &T) -> Result<()> {
    crate::output::json_line(&mut std::io::stdout().lock(), value)
}

/// The bytes of a file, or of stdin when the path is absent or `-`.
pub fn read_input(path: Option<&Path>) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    match path {
        Some(p) if p != Path::new("-") => {
            buf = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        }
        _ => {
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .context("cannot read stdin")?;
        }
    }
    Ok(buf)
}

/// `pigeond`: the `serve` subcommand on its own.
pub fn dispatch_relay(cli: crate::cli::RelayCli) -> Result<Exit> {
    let ctx = Ctx {
        home: Home::from_env()?,
        quiet: cli.quiet,
    };
    match cli.into_serve() {
        Ok(args) => serve::run(&ctx, args),
        Err(tracker_alone) => tracker::serve(&ctx, &tracker_alone),
    }
}

pub fn dispatch(cli: Cli) -> Result<Exit> {
    let ctx = Ctx {
        home: Home::from_env()?,
        quiet: cli.quiet,
    };
    // Commands that use others' OpenPGP certs start from the signatures earlier runs
    // verified. Not `recv` or `open`: they verify a new signature on every OpenPGP message,
    // which would fill the cache with signatures never seen again.
    let certs = matches!(
        cli.command,
        Command::Send(_) | Command::Group(_) | Command::Contact(_)
    );
    if certs {
        crate::keys::verified::load(&ctx.home);
    }
    let result = run_command(&ctx, cli.command);
    if certs && let Err(e) = crate::keys::verified::save(&ctx.home) {
        // Only time is lost: the next run verifies the certs again.
        ctx.say(format!(
            "pigeon: cannot keep the verified OpenPGP signatures: {e:#}"
        ));
    }
    result
}

fn run_command(ctx: &Ctx, command: Command) -> Result<Exit> {
    match command {
        Command::Keygen(a) => keygen::run(ctx, a),
        Command::Card(a) => card::run(ctx, a),
        Command::Rename(a) => rename::run(ctx, a),
        Command::Contact(c) => contact::run(ctx, c),
        Command::Relay(c) => relay::run(ctx, c),
        Command::Seal(a) => seal::run(ctx, a),
        Command::Open(a) => open::run(ctx, a),
        Command::Send(a) => send::run(ctx, a),
        Command::Recv(a) => recv::run(ctx, a),
        Command::Serve(a) => serve::run(ctx, a),
        Command::Export(a) => export::run(ctx, a),
        Command::Archive(c) => archive::run(ctx, c),
        Command::Tracker(c) => tracker::run(ctx, c),
        Command::Gen(a) => generate::run(ctx, a),
        Command::Group(c) => group::run(ctx, c),
        Command::Web(c) => web::run(ctx, c),
        Command::Outbox(c) => outbox::run(ctx, c),
    }
}
