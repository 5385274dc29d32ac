//! Signed-request headers: `relay::auth::verify` with arbitrary header values, method, path,
//! query and clock. And the honest path on arbitrary values: what `wire::sign_request` signs
//! verifies once, is a replay the second time, and fails when the query or method changes.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue, header::HOST};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use pigeon::relay::auth::{AuthError, ReplayCache, SKEW, Signed, verify};
use pigeon::relay::names::Names;
use pigeon::wire;

#[derive(Arbitrary, Debug)]
struct Input {
    method: String,
    host: String,
    path: String,
    query: String,
    /// Extra or replacing headers, raw.
    headers: Vec<(String, Vec<u8>)>,
    now: u64,
    skew: i16,
    key_seed: u8,
}

fn cache() -> &'static ReplayCache {
    static C: std::sync::OnceLock<ReplayCache> = std::sync::OnceLock::new();
    C.get_or_init(ReplayCache::default)
}

/// A relay on all interfaces without a public URL: any host on its port is its own.
fn names() -> &'static Names {
    static N: std::sync::OnceLock<Names> = std::sync::OnceLock::new();
    N.get_or_init(|| Names::new("0.0.0.0:7447".parse().unwrap(), &[]))
}

fn check(h: &HeaderMap, method: &str, path: &str, query: &str, mbox: &str, now: u64) -> Result<u64, AuthError> {
    let req = Signed { headers: h, method, path, query };
    verify(&req, mbox, names(), now, cache())
}

fuzz_target!(|input: Input| {
    let key = ed25519_dalek::SigningKey::from_bytes(&[input.key_seed; 32]);
    let mbox = wire::mailbox_id(key.verifying_key().as_bytes());
    let now = input.now % (1 << 40);
    let time = now.saturating_add_signed(input.skew.into());

    // Arbitrary headers alone: never a panic, and never accepted without a signature by the
    // key of this mailbox (the fuzzer cannot sign).
    let mut raw = HeaderMap::new();
    for (name, value) in &input.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            raw.append(n, v);
        }
    }
    let r = check(&raw, &input.method, &input.path, &input.query, &mbox, now);
    assert!(r.is_err(), "unsigned headers accepted");

    // The honest path.
    // A Host header is ASCII (HeaderValue takes more, but `to_str` gives it back only then).
    let Ok(host) = HeaderValue::from_str(&input.host) else {
        return;
    };
    if !input.host.is_ascii() {
        return;
    }
    let mut h = HeaderMap::new();
    h.insert(HOST, host);
    for (k, v) in wire::sign_request(
        &key,
        &input.method,
        &input.host,
        &input.path,
        &input.query,
        time,
    ) {
        h.insert(k, HeaderValue::from_str(&v).unwrap());
    }
    let first = check(&h, &input.method, &input.path, &input.query, &mbox, now);
    if time.abs_diff(now) > SKEW {
        assert_eq!(first, Err(AuthError::Stale));
        return;
    }
    if !names().accepts(&input.host) {
        assert!(matches!(first, Err(AuthError::WrongRelay(_))), "{first:?}");
        return;
    }
    assert_eq!(first, Ok(time), "an honest signed request was refused");
    let again = check(&h, &input.method, &input.path, &input.query, &mbox, now);
    assert_eq!(again, Err(AuthError::Replay));
    let h2 = {
        let mut h2 = HeaderMap::new();
        h2.insert(HOST, HeaderValue::from_str(&input.host).unwrap());
        for (k, v) in wire::sign_request(
            &key,
            &input.method,
            &input.host,
            &input.path,
            &input.query,
            time,
        ) {
            h2.insert(k, HeaderValue::from_str(&v).unwrap());
        }
        h2
    };
    let other_query = format!("{}&x", input.query);
    assert_eq!(
        check(&h2, &input.method, &input.path, &other_query, &mbox, now),
        Err(AuthError::BadSignature)
    );
    let other_method = format!("{}X", input.method);
    assert_eq!(
        check(&h2, &other_method, &input.path, &input.query, &mbox, now),
        Err(AuthError::BadSignature)
    );
});
