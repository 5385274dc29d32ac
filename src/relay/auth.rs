//! Signed mailbox requests: only the holder of a mailbox key reads or deletes its mailbox.
//!
//! The client signs [`wire::request_signing_bytes`] (method, path, query as sent, time and a
//! nonce) with its Ed25519 mailbox key; see [`wire::sign_request`]. The relay checks the key
//! hashes to the mailbox, the time is within [`SKEW`] of its clock, the signature verifies,
//! and that it has not seen the signature before while it could still be accepted.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::http::HeaderMap;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};

use super::names::Names;
use crate::wire;

/// Seconds a request's time may differ from the relay's clock, either way.
pub const SKEW: u64 = 300;

/// Signatures remembered at most (about 10 MB). Past it the oldest are forgotten first:
/// many addresses flooding signed requests for their own mailboxes can then shorten the
/// window in which a captured request is refused as a replay (a replayed read shows
/// ciphertext the eavesdropper could already see; a replayed delete is a no-op), but
/// cannot stop anyone else's reads. At the default rate limit one address adds 30 000.
const REPLAY_CAP: usize = 200_000;

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// A header is missing or unreadable (which one).
    Malformed(String),
    /// The key does not hash to this mailbox.
    WrongKey,
    /// The time is outside the skew window.
    Stale,
    /// The signed `Host` is not one of this relay's names (what they are).
    WrongRelay(String),
    BadSignature,
    Replay,
}

impl AuthError {
    /// The JSON error code.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Malformed(_) => "unauthorized",
            AuthError::WrongKey => "wrong_key",
            AuthError::Stale => "stale",
            AuthError::WrongRelay(_) => "wrong_relay",
            AuthError::BadSignature => "bad_signature",
            AuthError::Replay => "replay",
        }
    }

    pub fn message(&self) -> String {
        match self {
            AuthError::Malformed(m) => m.clone(),
            AuthError::WrongKey => "this key does not own this mailbox".into(),
            AuthError::Stale => {
                format!("the request time is more than {SKEW} s from the relay's clock")
            }
            AuthError::WrongRelay(names) => format!(
                "this request was signed for another relay; this one is {names} \
                 (behind a proxy, its operator sets --public-url)"
            ),
            AuthError::BadSignature => "the request signature does not verify".into(),
            AuthError::Replay => "this signed request was already used".into(),
        }
    }

    /// Whether this counts as a failed attempt towards lockout: only a signature that does
    /// not verify is a guess; an old clock or a retried request is an honest mistake.
    pub fn is_failure(&self) -> bool {
        matches!(self, AuthError::BadSignature)
    }
}

/// Signatures seen recently, with the time after which they could no longer be accepted.
pub struct ReplayCache {
    cap: usize,
    seen: Mutex<Seen>,
}

/// The signatures, and the same keys in the order they came (oldest first).
#[derive(Default)]
struct Seen {
    expires: HashMap<[u8; 16], u64>,
    order: VecDeque<[u8; 16]>,
}

impl Default for ReplayCache {
    fn default() -> Self {
        ReplayCache::with_cap(REPLAY_CAP)
    }
}

impl ReplayCache {
    fn with_cap(cap: usize) -> ReplayCache {
        ReplayCache {
            cap,
            seen: Mutex::default(),
        }
    }

    /// Records the signature; an error if it was already there.
    fn insert(&self, sig: &[u8; 64], expires: u64) -> Result<(), AuthError> {
        // Half of an Ed25519 signature is as unguessable as the whole, and halves the memory.
        let mut key = [0u8; 16];
        key.copy_from_slice(&sig[..16]);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.expires.contains_key(&key) {
            return Err(AuthError::Replay);
        }
        // Full: let go of the oldest (the front is roughly in expiry order, so expired ones
        // go first). Constant work per request, even while a flood keeps it full; the full
        // sweep of expired entries is `prune`'s, on a timer.
        while seen.expires.len() >= self.cap {
            let Some(oldest) = seen.order.pop_front() else {
                break;
            };
            seen.expires.remove(&oldest);
        }
        seen.expires.insert(key, expires);
        seen.order.push_back(key);
        Ok(())
    }

    /// Forgets signatures too old to be accepted anyway.
    pub fn prune(&self, now: u64) {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .forget_expired(now);
    }
}

impl Seen {
    fn forget_expired(&mut self, now: u64) {
        self.expires.retain(|_, exp| *exp >= now);
        let live = &self.expires;
        self.order.retain(|k| live.contains_key(k));
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Result<&'a str, AuthError> {
    h.get(name)
        .ok_or_else(|| {
            AuthError::Malformed(format!(
                "missing header {name}; mailbox reads and deletes are signed"
            ))
        })?
        .to_str()
        .map_err(|_| AuthError::Malformed(format!("header {name} is not text")))
}

/// The key a signed request claims, when its header is readable (for counting failures
/// per key).
pub fn claimed_key(headers: &HeaderMap) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    let text = headers.get(wire::HDR_KEY)?.to_str().ok()?;
    hex::decode_to_slice(text, &mut key).ok()?;
    Some(key)
}

/// A request to check, as received: `path` and `query` exactly as sent (query without `?`,
/// empty when none).
pub struct Signed<'a> {
    pub headers: &'a HeaderMap,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
}

/// Checks a signed request for `mbox` (64 hex digits) made for one of `names`; returns the
/// signed time (a delete reaches no envelope that arrived after it).
pub fn verify(
    req: &Signed<'_>,
    mbox: &str,
    names: &Names,
    now: u64,
    cache: &ReplayCache,
) -> Result<u64, AuthError> {
    let Signed {
        headers,
        method,
        path,
        query,
    } = *req;
    let key_hex = header(headers, wire::HDR_KEY)?;
    let time_text = header(headers, wire::HDR_TIME)?;
    let nonce = header(headers, wire::HDR_NONCE)?;
    let sig_text = header(headers, wire::HDR_SIG)?;

    let mut key = [0u8; 32];
    hex::decode_to_slice(key_hex, &mut key)
        .map_err(|_| AuthError::Malformed(format!("{} must be 64 hex digits", wire::HDR_KEY)))?;
    if wire::mailbox_id(&key) != mbox {
        return Err(AuthError::WrongKey);
    }
    let time: u64 = time_text
        .parse()
        .map_err(|_| AuthError::Malformed(format!("{} must be unix seconds", wire::HDR_TIME)))?;
    if time.abs_diff(now) > SKEW {
        return Err(AuthError::Stale);
    }
    if nonce.is_empty() || nonce.len() > 64 || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AuthError::Malformed(format!(
            "{} must be 1 to 64 letters or digits",
            wire::HDR_NONCE
        )));
    }
    let sig_bytes: [u8; 64] = base64::engine::general_purpose::STANDARD
        .decode(sig_text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(AuthError::BadSignature)?;
    // The Host header as received is what was signed; it must also name this relay, or one
    // relay could replay its users' requests to another.
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !names.accepts(host) {
        return Err(AuthError::WrongRelay(names.describe()));
    }
    let vk = VerifyingKey::from_bytes(&key).map_err(|_| AuthError::BadSignature)?;
    let msg = wire::request_signing_bytes(method, host, path, query, time, nonce);
    vk.verify_strict(&msg, &Signature::from_bytes(&sig_bytes))
        .map_err(|_| AuthError::BadSignature)?;
    cache.insert(&sig_bytes, time + SKEW)?;
    Ok(time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use ed25519_dalek::SigningKey;

    fn signed(key: &SigningKey, method: &str, path: &str, query: &str, t: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in wire::sign_request(key, method, "relay.test", path, query, t) {
            h.insert(
                axum::http::header::HOST,
                HeaderValue::from_static("relay.test"),
            );
            h.insert(k, HeaderValue::from_str(&v).unwrap());
        }
        h
    }

    fn verify(
        h: &HeaderMap,
        method: &str,
        path: &str,
        query: &str,
        mbox: &str,
        now: u64,
        cache: &ReplayCache,
    ) -> Result<(), AuthError> {
        let names = Names::new(
            "127.0.0.1:1".parse().unwrap(),
            &["http://relay.test".into()],
        );
        let req = Signed {
            headers: h,
            method,
            path,
            query,
        };
        super::verify(&req, mbox, &names, now, cache).map(|_| ())
    }

    #[test]
    fn a_host_that_is_not_this_relay_is_wrong_relay_and_not_a_failure() {
        let key = SigningKey::from_bytes(&[1u8; 32]);
        let mbox = wire::mailbox_id(key.verifying_key().as_bytes());
        let path = format!("/v1/mailboxes/{mbox}");
        let mut h = signed(&key, "GET", &path, "", 1000);
        h.insert(
            axum::http::header::HOST,
            HeaderValue::from_static("elsewhere.test"),
        );
        let names = Names::new(
            "127.0.0.1:1".parse().unwrap(),
            &["http://relay.test".into()],
        );
        let req = Signed {
            headers: &h,
            method: "GET",
            path: &path,
            query: "",
        };
        let e = super::verify(&req, &mbox, &names, 1000, &ReplayCache::default()).unwrap_err();
        assert_eq!(e.code(), "wrong_relay");
        assert!(!e.is_failure());
    }

    #[test]
    fn good_bad_stale_replayed_and_foreign() {
        let key = SigningKey::from_bytes(&[1u8; 32]);
        let mbox = wire::mailbox_id(key.verifying_key().as_bytes());
        let path = format!("/v1/mailboxes/{mbox}");
        let cache = ReplayCache::default();
        let now = 1_000_000;

        let h = signed(&key, "GET", &path, "after=0", now);
        assert_eq!(
            verify(&h, "GET", &path, "after=0", &mbox, now, &cache),
            Ok(())
        );
        assert_eq!(
            verify(&h, "GET", &path, "after=0", &mbox, now, &cache),
            Err(AuthError::Replay)
        );
        // The signature covers the query and the method.
        let h = signed(&key, "GET", &path, "after=0", now);
        assert_eq!(
            verify(&h, "GET", &path, "after=5", &mbox, now, &cache),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            verify(&h, "DELETE", &path, "after=0", &mbox, now, &cache),
            Err(AuthError::BadSignature)
        );
        let h = signed(&key, "GET", &path, "", now - SKEW - 1);
        assert_eq!(
            verify(&h, "GET", &path, "", &mbox, now, &cache),
            Err(AuthError::Stale)
        );
        let h = signed(&key, "GET", &path, "", now + SKEW);
        assert_eq!(verify(&h, "GET", &path, "", &mbox, now, &cache), Ok(()));

        let other = SigningKey::from_bytes(&[2u8; 32]);
        let h = signed(&other, "GET", &path, "", now);
        assert_eq!(
            verify(&h, "GET", &path, "", &mbox, now, &cache),
            Err(AuthError::WrongKey)
        );

        let mut h = signed(&key, "GET", &path, "", now);
        h.remove(wire::HDR_SIG);
        assert!(matches!(
            verify(&h, "GET", &path, "", &mbox, now, &cache),
            Err(AuthError::Malformed(_))
        ));
        assert!(AuthError::BadSignature.is_failure());
        assert!(!AuthError::Stale.is_failure());
    }

    #[test]
    fn replay_cache_forgets_old_entries() {
        let c = ReplayCache::default();
        c.insert(&[9u8; 64], 10).unwrap();
        c.prune(11);
        assert!(c.insert(&[9u8; 64], 20).is_ok());
    }

    #[test]
    fn a_full_replay_cache_forgets_its_oldest_instead_of_refusing() {
        let c = ReplayCache::with_cap(3);
        for i in 1..=5u8 {
            assert_eq!(c.insert(&[i; 64], 100), Ok(()), "signature {i}");
        }
        // The newest are still refused as replays; the oldest were let go.
        assert_eq!(c.insert(&[5; 64], 100), Err(AuthError::Replay));
        assert_eq!(c.insert(&[3; 64], 100), Err(AuthError::Replay));
        assert_eq!(c.insert(&[1; 64], 100), Ok(()));
        // The timer's prune drops expired ones wherever they are, so a full cache then
        // keeps every live one.
        let c = ReplayCache::with_cap(2);
        c.insert(&[1; 64], 100).unwrap();
        c.insert(&[2; 64], 10).unwrap();
        c.prune(20);
        c.insert(&[3; 64], 100).unwrap();
        assert_eq!(c.insert(&[1; 64], 100), Err(AuthError::Replay));
        assert_eq!(c.insert(&[3; 64], 100), Err(AuthError::Replay));
    }
}
