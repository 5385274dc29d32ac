//! An ephemeral X25519 key agreement with `ring`: the one step of every stanza of an age
//! file and every Cv25519 PKESK of an OpenPGP message that pigeon builds itself (a group
//! message takes one per member). `ring`'s X25519 (BoringSSL's, its field arithmetic in
//! assembly where the CPU has ADX/BMI2) made the ephemeral key and the agreement in 71 µs
//! per stanza here against 84 µs for the `age` crate's `x25519-dalek` (docs/benchmarks.md).

use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use zeroize::Zeroizing;

/// A fresh ephemeral key's public half and the secret it shares with `theirs`; `None` when
/// the agreement fails or gives the all-zero secret (a low-order key, which would give
/// everyone the same secret, or a failing generator): nothing may be wrapped with it.
pub(crate) fn agree(theirs: &[u8; 32]) -> Option<([u8; 32], Zeroizing<[u8; 32]>)> {
    let rng = ring::rand::SystemRandom::new();
    let esk = EphemeralPrivateKey::generate(&X25519, &rng).ok()?;
    let epk: [u8; 32] = esk.compute_public_key().ok()?.as_ref().try_into().ok()?;
    let shared = agreement::agree_ephemeral(esk, &UnparsedPublicKey::new(&X25519, theirs), |s| {
        <[u8; 32]>::try_from(s).ok().map(Zeroizing::new)
    })
    .ok()??;
    (shared.iter().fold(0, |acc, b| acc | b) != 0).then_some((epk, shared))
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_sides_share_the_secret_and_a_low_order_key_is_refused() {
        let mine = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
        let public = x25519_dalek::PublicKey::from(&mine);
        let (epk, shared) = super::agree(public.as_bytes()).unwrap();
        let theirs = mine.diffie_hellman(&x25519_dalek::PublicKey::from(epk));
        assert_eq!(theirs.as_bytes(), &*shared);
        assert!(super::agree(&[0; 32]).is_none());
        let (other, _) = super::agree(public.as_bytes()).unwrap();
        assert_ne!(other, epk, "a fresh key each time");
    }
}
