//! Checking cards, with no disk or network: the pure half of `keys::card`, shared by the
//! client (which re-exports it from `keys`) and the tracker (which must verify every card it
//! stores or mirrors but never holds a secret key).
//!
//! A card is signed over `CARD_DOMAIN` followed by its canonical JSON without `sig` (see
//! [`crate::wire::Card`]). Checking works on the JSON as received, so fields added by a
//! newer pigeon are covered by the signature too.

use anyhow::{Context, Result, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use crate::crypto::{CARD_DOMAIN, Kind, PublicIdentity};
use crate::error::{Exit, Fail};
use crate::wire::{self, Card};

/// The bytes a card signature covers.
pub fn card_signing_bytes(card: &Value) -> Vec<u8> {
    let mut unsigned = card.clone();
    if let Some(map) = unsigned.as_object_mut() {
        map.remove("sig");
    }
    wire::canonical_json(&unsigned)
}

/// Longest name a card may claim, in characters.
pub const MAX_CARD_NAME: usize = 64;

/// A card's name is shown to people: one line of at most [`MAX_CARD_NAME`] characters,
/// with no control characters, line separators or bidirectional overrides (which could
/// make a stranger's name print as a second header line or read as someone else's).
pub fn check_card_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > MAX_CARD_NAME {
        anyhow::bail!("the name must be 1 to {MAX_CARD_NAME} characters long (it has {n})");
    }
    if let Some(c) = name.chars().find(|&c| {
        crate::output::is_unsafe_char(c) || c.is_whitespace() && c != ' ' || is_invisible(c)
    }) {
        anyhow::bail!(
            "the name contains the character U+{:04X}, which is not allowed in a name",
            c as u32
        );
    }
    if name.trim() != name {
        anyhow::bail!("the name starts or ends with a space");
    }
    Ok(())
}

/// Unicode's default-ignorable code points (zero-width spaces and joiners, soft hyphen,
/// variation selectors, fillers, tags): they print as nothing, so `alice` followed by one
/// would look like `alice` while being another name on a tracker.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Why a card was refused, for servers that answer each reason with its own code.
#[derive(Debug)]
pub enum CardError {
    /// Not a card, or its fields disagree with each other (what is wrong).
    Malformed(anyhow::Error),
    /// Well-formed, but the signature does not verify: forged or altered.
    BadSignature(anyhow::Error),
    /// Signed, but past its `expires`.
    Expired,
}

impl std::fmt::Display for CardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CardError::Malformed(e) => write!(f, "{e:#}"),
            CardError::BadSignature(e) => write!(f, "bad signature: {e:#}"),
            CardError::Expired => {
                f.write_str("the card expired (ask its owner for a fresh `pigeon card`)")
            }
        }
    }
}

impl std::error::Error for CardError {}

/// Parses and checks a card from JSON bytes (one object; surrounding white space allowed).
pub fn verify_card_json(bytes: &[u8]) -> Result<(Card, PublicIdentity)> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| anyhow!(e))
        .context(Fail(
            Exit::Usage,
            "this is not a pigeon card (bad JSON)".into(),
        ))?;
    verify_card(&value)
}

/// Checks a card: well-formed, keys consistent with the fingerprint and mailbox, signature
/// good, not expired. Every failure is an authentication failure (exit 4).
pub fn verify_card(value: &Value) -> Result<(Card, PublicIdentity)> {
    check_card(value, true)
        .map_err(anyhow::Error::new)
        .context(Fail(Exit::Crypto, "the card does not verify".into()))
}

/// Like [`verify_card`] but accepts an expired card: for a contact pinned long ago, whose
/// key is no less theirs because the card aged (a fresh one comes with their messages).
pub fn verify_pinned_card(value: &Value) -> Result<(Card, PublicIdentity)> {
    check_card(value, false)
        .map_err(anyhow::Error::new)
        .context(Fail(Exit::Crypto, "the card does not verify".into()))
}

/// What a checked card is remembered by: the SHA-256 of its canonical JSON, signature
/// included, so any edit of the bytes makes another digest.
pub type CardDigest = [u8; 32];

/// The digest of a card as [`verify_pinned_card_once`] remembers it.
pub fn card_digest(value: &Value) -> CardDigest {
    use sha2::Digest;
    sha2::Sha256::digest(wire::canonical_json(value)).into()
}

/// [`verify_pinned_card`], except that the signature of a card whose exact bytes verified
/// before (`checked` holds its digest) is not verified again: parsed and checked for
/// consistency only. Returns the digest when the signature was verified now, for the
/// caller to remember. A pinned card comes from my own data dir, as protected as the key
/// beside it; re-verifying its hundred member cards was half of every `send --group`.
pub fn verify_pinned_card_once(
    value: &Value,
    checked: &std::collections::HashSet<CardDigest>,
) -> Result<(Card, PublicIdentity, Option<CardDigest>)> {
    let digest = card_digest(value);
    if checked.contains(&digest) {
        let (card, public) = parse(value)
            .map_err(|e| anyhow::Error::new(CardError::Malformed(e)))
            .context(Fail(Exit::Crypto, "the card does not verify".into()))?;
        return Ok((card, public, None));
    }
    let (card, public) = verify_pinned_card(value)?;
    Ok((card, public, Some(digest)))
}

/// The whole check, with the reason kept apart; `check_expiry` false accepts expired cards.
pub fn check_card(value: &Value, check_expiry: bool) -> Result<(Card, PublicIdentity), CardError> {
    let (card, public) = parse(value).map_err(CardError::Malformed)?;
    B64.decode(&card.sig)
        .map_err(|_| anyhow!("the signature is not base64"))
        .and_then(|sig| public.verify(CARD_DOMAIN, &card_signing_bytes(value), &sig))
        .map_err(CardError::BadSignature)?;
    if check_expiry
        && let Some(exp) = card.expires
        && exp < wire::now()
    {
        return Err(CardError::Expired);
    }
    Ok((card, public))
}

/// Everything but the signature: fields, name, keys, fingerprint and mailbox agree.
fn parse(value: &Value) -> Result<(Card, PublicIdentity)> {
    let card: Card = serde_json::from_value(value.clone()).context("missing or bad fields")?;
    if card.type_ != "card" {
        anyhow::bail!("type is {:?}, not \"card\"", card.type_);
    }
    // A later version may mean its fields differently: read as v1, it could be misread.
    if card.v != wire::V {
        anyhow::bail!(
            "card version {} is not supported (this pigeon reads version {})",
            card.v,
            wire::V
        );
    }
    check_card_name(&card.name)?;
    let kind = Kind::parse(&card.kind).with_context(|| format!("unknown kind {:?}", card.kind))?;
    let key: [u8; 32] = hex::decode(&card.mailbox_key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .context("mailbox_key is not 64 hex digits")?;
    let public = PublicIdentity::from_parts(kind, card.age.as_deref(), card.pgp.as_deref(), &key)?;
    if public.fingerprint() != card.fingerprint {
        anyhow::bail!("the fingerprint does not match the card's keys");
    }
    if wire::mailbox_id(&key) != card.mailbox {
        anyhow::bail!("the mailbox id does not match the mailbox key");
    }
    Ok((card, public))
}
