//! `pigeon card`: print my signed card.

use anyhow::Result;

use super::Ctx;
use crate::cli::CardArgs;
use crate::error::Exit;

pub fn run(ctx: &Ctx, args: CardArgs) -> Result<Exit> {
    let id = ctx.identity(args.passphrase_file.as_deref())?;
    super::emit(&id.card()?)?;
    Ok(Exit::Ok)
}
