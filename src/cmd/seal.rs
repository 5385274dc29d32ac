//! `pigeon seal`: encrypt and sign a message offline; the ciphertext goes to stdout.

use std::io::{IsTerminal, Write};

use anyhow::Result;

use super::Ctx;
use crate::cli::SealArgs;
use crate::crypto::PublicIdentity;
use crate::error::{Exit, WithHint, fail};
use crate::keys::Contacts;
use crate::message;
use crate::wire::{self, Inner};

pub fn run(ctx: &Ctx, args: SealArgs) -> Result<Exit> {
    let stdout = std::io::stdout();
    if !args.armor && stdout.is_terminal() {
        return Err(fail(
            Exit::Usage,
            "refusing to write binary ciphertext to a terminal",
        ))
        .hint("redirect to a file (> msg.age) or add --armor");
    }
    let id = ctx.identity(args.passphrase_file.as_deref())?;
    let contacts = Contacts::open(&ctx.home);
    let mut publics: Vec<PublicIdentity> = Vec::new();
    let mut to = Vec::new();
    for name in &args.to {
        let (card, public) = contacts.get(name)?.checked()?;
        to.push(card.fingerprint);
        publics.push(public);
    }
    let body = match args.body {
        Some(b) => b,
        None => String::from_utf8(super::read_input(None)?)
            .map_err(|_| fail(Exit::Usage, "the message on stdin is not UTF-8 text"))?,
    };
    let inner = Inner {
        v: wire::V,
        id: message::new_id(),
        from: id.meta.fingerprint.clone(),
        to,
        group: None,
        ts: crate::keys::now(),
        kind: "text".into(),
        body,
        files: Vec::new(),
        reply_to: None,
    };
    let card = serde_json::to_vec(&id.card()?)?;
    let refs: Vec<&PublicIdentity> = publics.iter().collect();
    let sealed = message::seal(&id, &card, &refs, &inner, args.armor)?;
    if sealed.len() != 1 {
        return Err(fail(
            Exit::Usage,
            "these recipients mix age and pgp identities, which need two ciphertexts",
        ))
        .hint(
            "seal once for the age contacts and once for the pgp contacts, or use `pigeon send`",
        );
    }
    let mut out = stdout.lock();
    out.write_all(&sealed[0].ciphertext)?;
    out.flush()?;
    ctx.say(format!(
        "sealed message {} ({} bytes)",
        inner.id,
        sealed[0].ciphertext.len()
    ));
    Ok(Exit::Ok)
}
