//! `pigeon keygen`: create or import an identity.

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;
use crate::cli::{KeygenArgs, KindArg};
use crate::crypto::{Kind, SecretIdentity};
use crate::error::{Exit, WithHint, fail};
use crate::keys::{Identity, passphrase, validate_name};

pub fn run(ctx: &Ctx, args: KeygenArgs) -> Result<Exit> {
    let kind = match args.kind {
        KindArg::Age => Kind::Age,
        KindArg::Pgp => Kind::Pgp,
    };
    if let Some(name) = &args.name {
        validate_name(name)?;
    }
    let protect = ctx.passphrase(args.passphrase_file.as_deref())?;
    let secret = match &args.import {
        Some(path) => {
            if kind != Kind::Pgp {
                return Err(fail(Exit::Usage, "--import reads OpenPGP keys"))
                    .hint("add --kind pgp");
            }
            let bytes = super::read_input(Some(path))?;
            let pass = passphrase::read(
                args.import_passphrase_file.as_deref(),
                Some("PIGEON_GPG_PASSPHRASE"),
            )?;
            SecretIdentity::import_pgp(&bytes, pass.as_deref().map(String::as_str)).context(
                crate::error::Fail(Exit::Crypto, "cannot import the OpenPGP key".into()),
            )?
        }
        None => {
            let name = args.name.as_deref().ok_or_else(|| {
                fail(Exit::Usage, "--name is required")
                    .context(crate::error::Hint("pigeon keygen --name alice".into()))
            })?;
            SecretIdentity::generate(kind, name)?
        }
    };
    let name = match args.name.or_else(|| secret.pgp_user_name()) {
        Some(n) => n,
        None => {
            return Err(fail(Exit::Usage, "the imported key has no name")).hint("add --name NAME");
        }
    };
    validate_name(&name).hint("pick a simple name with --name")?;
    let id = Identity::create(
        &ctx.home,
        secret,
        &name,
        protect.as_deref().map(String::as_str),
        args.force,
    )?;
    let m = &id.meta;
    super::emit(&json!({
        "type": "identity",
        "kind": m.kind,
        "name": m.name,
        "fingerprint": m.fingerprint,
        "mailbox": m.mailbox,
        "protected": m.protected,
    }))?;
    ctx.say(format!(
        "created {} identity {} ({}) in {}\nshare your card: pigeon card > {}.card",
        m.kind,
        m.name,
        m.fingerprint,
        ctx.home.identity_dir().display(),
        m.name
    ));
    if !m.protected {
        ctx.say("note: the secret keys are not protected by a passphrase (set PIGEON_PASSPHRASE to protect them)");
    }
    Ok(Exit::Ok)
}
