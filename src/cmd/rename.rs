//! `pigeon rename NAME`: a new name on my card, the same keys.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::cli::RenameArgs;
use crate::error::{Exit, WithHint};
use crate::keys::{IdentityMeta, validate_name};

pub fn run(ctx: &Ctx, args: RenameArgs) -> Result<Exit> {
    validate_name(&args.name).hint("pick a simple name, e.g. `pigeon rename alice-smith`")?;
    crate::card::check_card_name(&args.name)?;
    let mut meta = IdentityMeta::load(&ctx.home)?;
    let previous = std::mem::replace(&mut meta.name, args.name.clone());
    if previous != meta.name {
        // A higher seq: trackers and contacts take the new card over the old one.
        meta.bump();
        meta.save(&ctx.home)?;
    }
    super::emit(
        &json!({"type": "identity", "name": meta.name, "previous": previous,
        "fingerprint": meta.fingerprint, "seq": meta.seq}),
    )?;
    if previous != meta.name {
        ctx.say(
            "your card changed: announce it (pigeon tracker announce) or give your contacts \
             the new one (pigeon card)",
        );
    }
    Ok(Exit::Ok)
}
