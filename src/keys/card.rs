//! Cards: the signed public half of an identity. Signing needs the secret key and lives
//! here; checking is pure and lives in [`crate::card`] (the tracker uses it too), re-exported
//! so callers keep using `keys::card`.

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::crypto::{CARD_DOMAIN, SecretIdentity};
use crate::wire::Card;

pub use crate::card::{
    MAX_CARD_NAME, card_signing_bytes, check_card_name, verify_card, verify_card_json,
    verify_pinned_card,
};

/// Signs `card` in place with the identity's key.
pub fn sign_card(card: &mut Card, secret: &SecretIdentity) -> Result<()> {
    card.sig.clear();
    let value = serde_json::to_value(&*card)?;
    let sig = secret
        .sign(CARD_DOMAIN, &card_signing_bytes(&value))
        .context("cannot sign the card")?;
    card.sig = B64.encode(sig);
    Ok(())
}
