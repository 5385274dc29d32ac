//! `pigeon contact …`: pin, list, show, remove and verify contacts.

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::Ctx;
use crate::cli::ContactCommand;
use crate::error::{Exit, Fail, WithHint};
use crate::keys::{Contact, Contacts};

pub fn run(ctx: &Ctx, cmd: ContactCommand) -> Result<Exit> {
    let contacts = Contacts::open(&ctx.home);
    match cmd {
        ContactCommand::Add {
            file,
            as_name,
            accept_new_key,
        } => {
            let bytes = super::read_input(file.as_deref())?;
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(anyhow::Error::from)
                .context(Fail(
                    Exit::Usage,
                    "this is not a pigeon card (bad JSON)".into(),
                ))?;
            if let Ok(me) = crate::keys::IdentityMeta::load(&ctx.home)
                && value.get("fingerprint").and_then(Value::as_str) == Some(&me.fingerprint)
            {
                return Err(crate::error::fail(Exit::Usage, "this is your own card"))
                    .hint("give it to your contacts; add theirs here");
            }
            let (c, status) = contacts.add(&value, as_name.as_deref(), accept_new_key)?;
            super::emit(&view(&c, Some(status.as_str()), false))?;
            ctx.say(format!(
                "{} {} ({})",
                status.as_str(),
                c.name,
                c.fingerprint
            ));
        }
        ContactCommand::List => {
            for c in contacts.list()? {
                super::emit(&view(&c, None, false))?;
            }
        }
        ContactCommand::Show { name } => {
            let c = contacts.get(&name)?;
            super::emit(&view(&c, None, true))?;
        }
        ContactCommand::Remove { name } => {
            let c = contacts.remove(&name)?;
            super::emit(&view(&c, Some("removed"), false))?;
        }
        ContactCommand::Verify { name, fingerprint } => {
            let c = contacts.verify(&name, &fingerprint)?;
            super::emit(&view(&c, Some("verified"), false))?;
        }
    }
    Ok(Exit::Ok)
}

pub(super) fn view(c: &Contact, status: Option<&str>, with_card: bool) -> Value {
    let mut v = json!({
        "type": "contact",
        "name": c.name,
        "fingerprint": c.fingerprint,
        "kind": c.kind,
        "verified": c.verified,
        "relays": c.card.get("relays").cloned().unwrap_or(Value::Null),
        "seq": c.card.get("seq").cloned().unwrap_or(Value::Null),
    });
    if let Some(d) = c.card.get("draining") {
        v["draining"] = d.clone();
    }
    if let Some(s) = status {
        v["status"] = json!(s);
    }
    if with_card {
        v["card"] = c.card.clone();
    }
    v
}
