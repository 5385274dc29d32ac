//! `pigeon open`: decrypt and verify one ciphertext from pigeon, age or gpg.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::cli::OpenArgs;
use crate::error::{Exit, WithHint, fail};
use crate::keys::Contacts;
use crate::message::{self, Unsealed};

pub fn run(ctx: &Ctx, args: OpenArgs) -> Result<Exit> {
    let ciphertext = super::read_input(args.file.as_deref())?;
    let id = ctx.identity(args.passphrase_file.as_deref())?;
    let contacts = Contacts::open(&ctx.home);
    let known_pgp = message::pgp_contacts(&contacts)?;
    match message::unseal(&id, &known_pgp, &ciphertext)? {
        Unsealed::Pigeon(v) => {
            let (inner, card) = (&v.inner, &v.card);
            // A group message is mine only if I am in its group (`recv` applies the same
            // rule): its `to` may be empty, the group naming the recipients.
            if let Some(gid) = inner
                .group
                .as_deref()
                .filter(|_| inner.kind != "membership")
            {
                let held = crate::group::Groups::open(&ctx.home).get(gid)?;
                if let Some(why) = crate::group::refuse_message(held.as_ref(), gid, &inner.from) {
                    return Err(fail(Exit::Crypto, why));
                }
            }
            let sender = message::classify(&contacts, &card.fingerprint, &card.name)?;
            if sender.key_change {
                ctx.say(format!(
                    "WARNING: {} is pinned to another key; this message is from key {}",
                    sender.name, sender.fingerprint
                ));
            }
            super::emit(&super::show::message_json(
                inner,
                &sender,
                &v.card_json,
                None,
                &[],
            ))?;
        }
        Unsealed::Foreign { plaintext, signer } => {
            let from = match &signer {
                Some(fp) => {
                    let c = contacts.by_fingerprint(fp)?;
                    json!({
                        "name": c.as_ref().map(|c| c.name.clone()),
                        "fingerprint": fp,
                        "known": c.is_some(),
                        "verified": c.is_some_and(|c| c.verified),
                    })
                }
                None if args.allow_unsigned => serde_json::Value::Null,
                None => {
                    return Err(fail(
                        Exit::Crypto,
                        "this ciphertext is not signed: who wrote it cannot be known",
                    ))
                    .hint("add --allow-unsigned to print it anyway, marked \"signed\":false");
                }
            };
            let (body, encoding) = match String::from_utf8(plaintext) {
                Ok(s) => (s, "utf-8"),
                Err(e) => (
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        e.as_bytes(),
                    ),
                    "base64",
                ),
            };
            super::emit(&json!({
                "type": "message",
                "format": "foreign",
                "signed": signer.is_some(),
                "from": from,
                "body": body,
                "encoding": encoding,
            }))?;
        }
    }
    Ok(Exit::Ok)
}
