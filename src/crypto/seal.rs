//! Sign-then-encrypt of pigeon messages, and opening of anything age or OpenPGP made.
//!
//! The plaintext frame is JSON `{"pigeon":1,"msg":…,"card":…,"sig":…,"pad":"   "}`, padded so
//! its length is a size bucket. One age file covers all age recipients, one OpenPGP message all
//! pgp recipients.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use zeroize::Zeroizing;

use super::{Kind, MSG_DOMAIN, PublicIdentity, SecretIdentity, age_kind, pgp_kind};

/// One ciphertext for a group of recipients of the same kind.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub kind: Kind,
    /// Indexes into the `recipients` slice given to [`seal`].
    pub recipients: Vec<usize>,
    pub ciphertext: Vec<u8>,
}

/// What [`open`] found inside a ciphertext.
#[derive(Debug, Clone)]
pub enum Opened {
    /// A pigeon frame. The caller verifies `sig` against the identity built from `card`.
    Pigeon {
        inner: Vec<u8>,
        card: Vec<u8>,
        sig: Vec<u8>,
    },
    /// Anything else that decrypted (e.g. made by `age -r` or `gpg --sign --encrypt`).
    /// `signer` is the fingerprint of a known cert whose OpenPGP signature verified.
    Foreign {
        plaintext: Vec<u8>,
        signer: Option<String>,
    },
}

const MIB: usize = 1 << 20;

/// The padded size for a frame of `len` bytes: the next power of two (minimum 512), and above
/// 1 MiB the next multiple of 1 MiB.
pub(crate) fn bucket(len: usize) -> usize {
    if len <= 512 {
        512
    } else if len <= MIB {
        len.next_power_of_two()
    } else {
        len.div_ceil(MIB) * MIB
    }
}

#[derive(Serialize)]
struct Frame<'a> {
    pigeon: u32,
    msg: &'a str,
    card: &'a str,
    sig: &'a str,
    pad: &'a str,
}

/// Builds the padded plaintext frame.
pub(crate) fn build_frame(inner: &[u8], card: &[u8], sig: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let msg = std::str::from_utf8(inner).context("the inner message must be UTF-8 JSON")?;
    let card = std::str::from_utf8(card).context("the sender card must be UTF-8 JSON")?;
    let sig = B64.encode(sig);
    let mut frame = Frame {
        pigeon: 1,
        msg,
        card,
        sig: &sig,
        pad: "",
    };
    let bare = serde_json::to_vec(&frame)?.len();
    let target = bucket(bare);
    let pad = " ".repeat(target - bare);
    frame.pad = &pad;
    let out = Zeroizing::new(serde_json::to_vec(&frame)?);
    debug_assert_eq!(out.len(), target);
    Ok(out)
}

/// Sign then encrypt `inner` (exact bytes) with the sender's `card` to `recipients`.
pub fn seal(
    me: &SecretIdentity,
    recipients: &[&PublicIdentity],
    inner: &[u8],
    card: &[u8],
    armor: bool,
) -> Result<Vec<Sealed>> {
    if recipients.is_empty() {
        bail!("no recipients to seal the message to");
    }
    let sig = me
        .sign(MSG_DOMAIN, inner)
        .context("could not sign the message")?;
    let frame = build_frame(inner, card, &sig)?;
    let idx = |kind: Kind| -> Vec<usize> {
        (0..recipients.len())
            .filter(|&i| recipients[i].kind() == kind)
            .collect()
    };
    let (age_idx, pgp_idx) = (idx(Kind::Age), idx(Kind::Pgp));
    let seal_age = || -> Result<Option<Sealed>> {
        if age_idx.is_empty() {
            return Ok(None);
        }
        let keys: Vec<_> = age_idx
            .iter()
            .filter_map(|&i| recipients[i].age_recipient_key())
            .collect();
        let ciphertext = age_kind::encrypt(&keys, &frame, armor)
            .context("could not encrypt to the age recipients")?;
        Ok(Some(Sealed {
            kind: Kind::Age,
            recipients: age_idx.clone(),
            ciphertext,
        }))
    };
    let seal_pgp = || -> Result<Option<Sealed>> {
        if pgp_idx.is_empty() {
            return Ok(None);
        }
        let certs: Vec<_> = pgp_idx
            .iter()
            .filter_map(|&i| recipients[i].pgp_cert())
            .collect();
        let ciphertext = pgp_kind::encrypt(&certs, me.pgp_cert(), &frame, armor)
            .context("could not encrypt to the OpenPGP recipients")?;
        Ok(Some(Sealed {
            kind: Kind::Pgp,
            recipients: pgp_idx.clone(),
            ciphertext,
        }))
    };
    // Every recipient costs a key agreement: for a large mixed group (a hundred members)
    // the two kinds are sealed on two cores at once.
    let (age, pgp) =
        if age_idx.len() + pgp_idx.len() >= 16 && !age_idx.is_empty() && !pgp_idx.is_empty() {
            std::thread::scope(|s| {
                let pgp = s.spawn(seal_pgp);
                let age = seal_age();
                (age, pgp.join().expect("pgp sealing thread"))
            })
        } else {
            (seal_age(), seal_pgp())
        };
    let out: Vec<Sealed> = [age?, pgp?].into_iter().flatten().collect();
    Ok(out)
}

/// Decrypts `ciphertext` without interpreting it: the plaintext and a verified OpenPGP signer.
// Kept with its first signature for callers content with the default bound.
#[allow(dead_code)]
pub(crate) fn decrypt_raw(
    me: &SecretIdentity,
    ciphertext: &[u8],
    known_pgp: &[PublicIdentity],
) -> Result<(Zeroizing<Vec<u8>>, Option<String>)> {
    decrypt_raw_limited(
        me,
        ciphertext,
        known_pgp,
        super::MAX_PLAINTEXT,
        &Default::default(),
    )
}

/// [`decrypt_raw`], refusing (without reading further) a plaintext over `limit` bytes.
fn decrypt_raw_limited(
    me: &SecretIdentity,
    ciphertext: &[u8],
    known_pgp: &[PublicIdentity],
    limit: usize,
    first: &super::StanzaOrder,
) -> Result<(Zeroizing<Vec<u8>>, Option<String>)> {
    if age_kind::looks_like_age(ciphertext) {
        let id = me.age_identity().ok_or_else(|| {
            anyhow!(
                "this is an age message, but identity {} is of kind pgp: it was not sent to it",
                me.fingerprint()
            )
        })?;
        Ok((
            Zeroizing::new(age_kind::decrypt_limited(
                &age_kind::FirstTry { id, first },
                ciphertext,
                limit,
            )?),
            None,
        ))
    } else if pgp_kind::looks_like_pgp(ciphertext) {
        let cert = me.pgp_cert().ok_or_else(|| {
            anyhow!(
                "this is an OpenPGP message, but identity {} is of kind age: it was not sent to it",
                me.fingerprint()
            )
        })?;
        let known: Vec<_> = known_pgp
            .iter()
            .filter_map(|p| p.pgp_cert().cloned())
            .collect();
        let (plaintext, signer) = pgp_kind::decrypt_limited(cert, ciphertext, &known, limit)?;
        Ok((Zeroizing::new(plaintext), signer))
    } else {
        bail!("not an age or OpenPGP message (neither binary nor armored); cannot open it")
    }
}

/// Detects age vs OpenPGP input (binary or armored) and decrypts it with `me`.
pub fn open(
    me: &SecretIdentity,
    ciphertext: &[u8],
    known_pgp: &[PublicIdentity],
) -> Result<Opened> {
    open_limited(me, ciphertext, known_pgp, super::MAX_PLAINTEXT)
}

/// [`open`] with a smaller bound on the plaintext (`recv` keeps what it holds in memory
/// small); a message over it is refused after reading `limit + 1` bytes of it.
pub fn open_limited(
    me: &SecretIdentity,
    ciphertext: &[u8],
    known_pgp: &[PublicIdentity],
    limit: usize,
) -> Result<Opened> {
    open_ordered(me, ciphertext, known_pgp, limit, &Default::default())
}

/// [`open_limited`], an age identity trying the stanzas `first` names before the others.
pub fn open_ordered(
    me: &SecretIdentity,
    ciphertext: &[u8],
    known_pgp: &[PublicIdentity],
    limit: usize,
    first: &super::StanzaOrder,
) -> Result<Opened> {
    let limit = limit.min(super::MAX_PLAINTEXT);
    let (plaintext, signer) = decrypt_raw_limited(me, ciphertext, known_pgp, limit, first)?;
    match parse_frame(&plaintext)? {
        Some(opened) => Ok(opened),
        None => Ok(Opened::Foreign {
            plaintext: plaintext.to_vec(),
            signer,
        }),
    }
}

/// A pigeon frame if `plaintext` is one, `None` for anything that is not pigeon JSON, and an
/// error for a frame that claims to be pigeon but is malformed.
fn parse_frame(plaintext: &[u8]) -> Result<Option<Opened>> {
    if !plaintext.starts_with(b"{") {
        return Ok(None);
    }
    let Ok(serde_json::Value::Object(obj)) = serde_json::from_slice(plaintext) else {
        return Ok(None);
    };
    let Some(version) = obj.get("pigeon") else {
        return Ok(None);
    };
    if version.as_u64() != Some(1) {
        bail!("unsupported pigeon frame version {version}; upgrade pigeon to read this message");
    }
    let field = |name: &str| {
        obj.get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| anyhow!("malformed pigeon frame: field {name:?} is missing"))
    };
    let inner = field("msg")?.as_bytes().to_vec();
    let card = field("card")?.as_bytes().to_vec();
    let sig = B64
        .decode(field("sig")?)
        .map_err(|_| anyhow!("malformed pigeon frame: \"sig\" is not base64"))?;
    Ok(Some(Opened::Pigeon { inner, card, sig }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        assert_eq!(bucket(0), 512);
        assert_eq!(bucket(512), 512);
        assert_eq!(bucket(513), 1024);
        assert_eq!(bucket(70_000), 131_072);
        assert_eq!(bucket(MIB), MIB);
        assert_eq!(bucket(MIB + 1), 2 * MIB);
        assert_eq!(bucket(3 * MIB + 5), 4 * MIB);
        assert_eq!(bucket(5 * MIB + 5), 6 * MIB);
    }

    #[test]
    fn frame_is_padded_exactly_and_parses_back() {
        let inner = br#"{"v":1,"body":"h\u00e9llo \"q\"\n"}"#;
        for extra in [0usize, 400, 600, 5000] {
            let card = format!("{{\"name\":\"{}\"}}", "x".repeat(extra));
            let frame = build_frame(inner, card.as_bytes(), b"sig!").unwrap();
            assert_eq!(frame.len(), bucket(frame.len()));
            assert!(frame.len() >= 512 && frame.len().is_power_of_two());
            match parse_frame(&frame).unwrap() {
                Some(Opened::Pigeon {
                    inner: i,
                    card: c,
                    sig,
                }) => {
                    assert_eq!(i, inner);
                    assert_eq!(c, card.as_bytes());
                    assert_eq!(sig, b"sig!");
                }
                other => panic!("not a pigeon frame: {other:?}"),
            }
        }
        assert!(parse_frame(b"hello").unwrap().is_none());
        assert!(parse_frame(br#"{"other":1}"#).unwrap().is_none());
        assert!(parse_frame(br#"{"pigeon":2,"msg":"","card":"","sig":""}"#).is_err());
        assert!(parse_frame(br#"{"pigeon":1,"card":"","sig":""}"#).is_err());
    }
}
