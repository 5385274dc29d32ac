//! Posting tokens: `pgt1.<label, base64url>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`,
//! the MAC keyed by the relay's secret. `pigeon serve token` makes them; admission checks them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A token: `pgt1.<label, base64url>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`.
pub const TOKEN_PREFIX: &str = "pgt1";

fn mac(secret: &[u8; 32], label: &str, expires: u64) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(format!("pigeon-token-v1\n{label}\n{expires}").as_bytes());
    m
}

/// Makes a posting token for `label`, valid until `expires` (unix seconds).
pub fn make_token(secret: &[u8; 32], label: &str, expires: u64) -> String {
    let tag = mac(secret, label, expires).finalize().into_bytes();
    format!(
        "{TOKEN_PREFIX}.{}.{expires}.{}",
        B64URL.encode(label),
        B64URL.encode(tag)
    )
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not made with this relay's secret (or damaged): counts as a failed attempt.
    Forged,
    /// Genuine, but past its expiry.
    Expired,
}

/// Checks a token; returns its label.
pub fn verify_token(secret: &[u8; 32], token: &str, now: u64) -> Result<String, TokenError> {
    let mut parts = token.split('.');
    let (Some(TOKEN_PREFIX), Some(label), Some(expires), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(TokenError::Forged);
    };
    let label = B64URL
        .decode(label)
        .ok()
        .and_then(|l| String::from_utf8(l).ok())
        .ok_or(TokenError::Forged)?;
    let expires: u64 = expires.parse().map_err(|_| TokenError::Forged)?;
    let tag = B64URL.decode(tag).map_err(|_| TokenError::Forged)?;
    mac(secret, &label, expires)
        .verify_slice(&tag)
        .map_err(|_| TokenError::Forged)?;
    if now >= expires {
        return Err(TokenError::Expired);
    }
    Ok(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_expire_and_resist_forgery() {
        let s = [5u8; 32];
        let t = make_token(&s, "bob", 2000);
        assert_eq!(verify_token(&s, &t, 1000), Ok("bob".into()));
        assert_eq!(verify_token(&s, &t, 2000), Err(TokenError::Expired));
        assert_eq!(verify_token(&[6u8; 32], &t, 1000), Err(TokenError::Forged));
        // Moving the expiry or the label breaks the MAC.
        let later = t.replace(".2000.", ".9999.");
        assert_eq!(verify_token(&s, &later, 1000), Err(TokenError::Forged));
        let eve = make_token(&s, "eve", 2000);
        let swapped = format!(
            "{}.{}",
            eve.rsplit_once('.').unwrap().0,
            t.rsplit_once('.').unwrap().1
        );
        assert_eq!(verify_token(&s, &swapped, 1000), Err(TokenError::Forged));
        assert_eq!(verify_token(&s, "pgt1.x", 1000), Err(TokenError::Forged));
    }
}
