//! Whether a card may be stored: fully checked by [`crate::card`], then held to the
//! tracker's limits (size, a bounded lifetime, few bytes of fields this version does not
//! know). The same checks for a person's `PUT`, a peer's push and this tracker's pull.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::Value;

use super::Tracker;
use super::store::name_key;
use super::writer::NewCard;
use crate::card::{CardError, check_card};
use crate::relay::reply::ApiErr;
use crate::wire;

/// Longest relay URL taken from an announcement or a card into the relay list.
const MAX_URL: usize = 256;
/// Relays taken from one card into the relay list: anyone can sign cards listing hundreds
/// of made-up relays, and the list is what newcomers pick from.
pub const MAX_CARD_RELAYS: usize = 16;
/// Bytes of top-level fields this tracker does not know (name and JSON value), at most.
/// They are signed and served as they are, for newer clients; without a cap every card
/// could be padded to `--max-card` with them.
pub const MAX_EXTRA_BYTES: usize = 2048;

/// The card fields of this version ([`wire::Card`]).
const KNOWN: [&str; 15] = [
    "type",
    "v",
    "name",
    "kind",
    "fingerprint",
    "age",
    "pgp",
    "mailbox_key",
    "mailbox",
    "relays",
    "draining",
    "seq",
    "issued",
    "expires",
    "sig",
];

/// Checks a card fully and turns it into a row to store. `fp`, when given, must be the
/// card's fingerprint (the path of a PUT).
pub fn accept(t: &Tracker, raw: &[u8], fp: Option<&str>) -> Result<NewCard, ApiErr> {
    let value = parse(t, raw)?;
    check(t, raw.trim_ascii(), &value, fp)
}

/// [`accept`] for async code: an Ed25519 signature is checked in tens of microseconds, in
/// place; an OpenPGP one takes longer, on a blocking thread, so a page of mirrored cards or
/// a burst of publishes does not hold up the runtime's other requests.
pub async fn accept_async<B: AsRef<[u8]> + Send + 'static>(
    t: &Arc<Tracker>,
    raw: B,
    fp: Option<String>,
) -> Result<NewCard, ApiErr> {
    let value = parse(t, raw.as_ref())?;
    if !needs_blocking_thread(&value) {
        return check(t, raw.as_ref().trim_ascii(), &value, fp.as_deref());
    }
    let t = t.clone();
    tokio::task::spawn_blocking(move || check(&t, raw.as_ref().trim_ascii(), &value, fp.as_deref()))
        .await
        .map_err(|e| ApiErr::unavailable(e.to_string()))?
}

/// Decided on the parsed card, never on its bytes: JSON may spell `"pgp"` as
/// `"p\u0067p"`. Only a card whose kind is plainly `age` is checked in place; any other
/// kind (OpenPGP, or one the check will refuse) goes to the blocking pool.
pub fn needs_blocking_thread(card: &Value) -> bool {
    card.get("kind").and_then(Value::as_str) != Some("age")
}

/// The size limit, then the JSON (kept byte for byte by the caller, but for the white
/// space around it: a card file's last newline).
fn parse(t: &Tracker, raw: &[u8]) -> Result<Value, ApiErr> {
    if raw.len() as u64 > t.cfg.max_card {
        return Err(ApiErr::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!(
                "a card is at most {} bytes here; publish a smaller card",
                t.cfg.max_card
            ),
        ));
    }
    serde_json::from_slice(raw.trim_ascii()).map_err(|e| bad(format!("not a card (bad JSON: {e})")))
}

fn bad(m: String) -> ApiErr {
    ApiErr::new(StatusCode::BAD_REQUEST, "bad_card", &m)
}

fn check(t: &Tracker, bytes: &[u8], value: &Value, fp: Option<&str>) -> Result<NewCard, ApiErr> {
    let extra = extra_bytes(value);
    if extra > MAX_EXTRA_BYTES {
        return Err(ApiErr::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!(
                "the card has {extra} bytes of fields this tracker does not know, more than \
                 {MAX_EXTRA_BYTES}; publish the card `pigeon card` makes"
            ),
        ));
    }
    let (card, _public) = check_card(value, true).map_err(|e| match e {
        CardError::Malformed(_) => bad(format!("not a valid card: {e}")),
        CardError::BadSignature(_) => ApiErr::new(
            StatusCode::BAD_REQUEST,
            "bad_signature",
            &format!("the card's signature does not verify: forged or altered ({e})"),
        ),
        CardError::Expired => ApiErr::new(StatusCode::BAD_REQUEST, "expired", &e.to_string()),
    })?;
    let days = t.cfg.max_lifetime / 86_400;
    let Some(expires) = card.expires else {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            "bad_expiry",
            &format!(
                "the card has no `expires`: this tracker keeps cards for at most {days} days; \
                 publish a card made by a current pigeon (`pigeon tracker announce`)"
            ),
        ));
    };
    if expires > wire::now().saturating_add(t.cfg.max_lifetime) {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            "bad_expiry",
            &format!(
                "the card expires more than {days} days from now, the longest this tracker \
                 keeps a card; publish one that expires sooner"
            ),
        ));
    }
    if let Some(fp) = fp
        && fp != card.fingerprint
    {
        return Err(bad(format!(
            "the path names fingerprint {fp} but the card is {}",
            card.fingerprint
        )));
    }
    Ok(NewCard {
        fp: card.fingerprint,
        seq: card.seq,
        expires: Some(expires),
        name: name_key(&card.name),
        mailbox: card.mailbox,
        relays: card
            .relays
            .into_iter()
            .filter(|u| listable(u).is_ok())
            .take(MAX_CARD_RELAYS)
            .collect(),
        bytes: bytes.to_vec(),
    })
}

/// Bytes of the top-level fields not in [`KNOWN`], each its name and its JSON.
fn extra_bytes(card: &Value) -> usize {
    let Some(map) = card.as_object() else {
        return 0;
    };
    map.iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
        .map(|(k, v)| k.len() + serde_json::to_string(v).map_or(0, |s| s.len()))
        .sum()
}

/// Whether a relay URL may go on the list newcomers pick from: a relay's base URL, not too
/// long, and not an unspecified address (`http://0.0.0.0:7447` is where a relay listens,
/// never where anyone reaches it).
pub fn listable(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL {
        return Err("the URL is too long".into());
    }
    crate::relay::names::check_public_url(url)?;
    let auth = wire::url_authority(url);
    let host = match auth.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => auth.split(':').next().unwrap_or(""),
    };
    if host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified())
    {
        return Err(format!(
            "{url:?} is an unspecified address: announce the URL clients reach the relay by (--public-url)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Where a body's check runs, as [`accept_async`] decides it from the bytes received.
    fn offloaded(raw: &[u8]) -> bool {
        needs_blocking_thread(&serde_json::from_slice(raw).unwrap())
    }

    /// The kind is read from the parsed card: an escape in the JSON text does not move an
    /// OpenPGP check onto the runtime's workers.
    #[test]
    fn the_offload_is_decided_on_the_parsed_kind() {
        assert!(offloaded(br#"{"kind":"p\u0067p","name":"x"}"#));
        assert!(offloaded(br#"{"kind":"pgp"}"#));
        assert!(offloaded(br#"{"kind":"PGP"}"#));
        assert!(offloaded(b"{}"));
        // "pgp" elsewhere in an age card is only a name.
        assert!(!offloaded(br#"{"kind":"age","name":"pgp"}"#));
    }

    #[test]
    fn extra_fields_are_counted_by_name_and_value() {
        let c = json!({"type": "card", "name": "a", "pad": "xxxx", "more": [1, 2]});
        assert_eq!(extra_bytes(&c), "pad".len() + 6 + "more".len() + 5);
        assert_eq!(extra_bytes(&json!({"draining": ["x"], "sig": "y"})), 0);
    }
}
