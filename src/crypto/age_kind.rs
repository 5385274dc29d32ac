//! The age side: X25519 identity files, multi-recipient age files, passphrase (scrypt) files.
//! Everything here goes through the `age` crate, but for the key agreement of the stanzas
//! of a file to many recipients (`stanza`: `ring`'s X25519).

use std::io::{Read, Write};
use std::iter;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::secrecy::{ExposeSecret, SecretString};
use age::x25519;
use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

mod stanza;

/// First line of a binary age file.
const BINARY_MAGIC: &[u8] = b"age-encryption.org/";
/// First line of an armored age file.
const ARMOR_MAGIC: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// True if `data` looks like an age file (binary or ASCII-armored).
pub(crate) fn looks_like_age(data: &[u8]) -> bool {
    let trimmed = trim_leading_ws(data);
    trimmed.starts_with(BINARY_MAGIC) || trimmed.starts_with(ARMOR_MAGIC)
}

fn trim_leading_ws(data: &[u8]) -> &[u8] {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    &data[start..]
}

/// The pigeon fingerprint of an age identity: 40 hex digits of
/// SHA-256("pigeon-fp-v1\n" || recipient || "\n" || mailbox key).
pub(crate) fn fingerprint(recipient: &x25519::Recipient, mailbox: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"pigeon-fp-v1\n");
    h.update(recipient.to_string().as_bytes());
    h.update(b"\n");
    h.update(mailbox);
    let digest = h.finalize();
    hex::encode(&digest[..20])
}

/// An age X25519 recipient with its 32 bytes, decoded once when it is read: every stanza
/// of every message to it is made from them (`stanza::wrap`).
#[derive(Clone)]
pub(crate) struct AgeRecipient {
    pub(crate) key: x25519::Recipient,
    bytes: [u8; 32],
}

impl AgeRecipient {
    /// The recipient of a key the age crate made or parsed: the crate holds X25519 keys of
    /// 32 bytes only, and writes them back in its own lower-case bech32.
    pub(crate) fn from_key(key: x25519::Recipient) -> AgeRecipient {
        let bytes = stanza::recipient_bytes(&key.to_string())
            .expect("the age crate's X25519 recipients are 32 bytes");
        AgeRecipient { key, bytes }
    }
}

/// Parses an `age1…` recipient string.
pub(crate) fn parse_recipient(s: &str) -> Result<AgeRecipient> {
    let s = s.trim();
    let key = x25519::Recipient::from_str(s).map_err(|e| {
        anyhow!("invalid age recipient {s:?}: {e}; expected an X25519 recipient starting with age1")
    })?;
    Ok(AgeRecipient::from_key(key))
}

/// The identity file text in the format `age-keygen` writes, readable by `age -d -i`.
pub(crate) fn identity_file(identity: &x25519::Identity) -> Zeroizing<Vec<u8>> {
    let text = format!(
        "# created: {}\n# public key: {}\n{}\n",
        rfc3339_now(),
        identity.to_public(),
        identity.to_string().expose_secret()
    );
    Zeroizing::new(text.into_bytes())
}

/// Reads the first `AGE-SECRET-KEY-1…` line of an identity file (comments are ignored).
pub(crate) fn parse_identity_file(data: &[u8]) -> Result<x25519::Identity> {
    let text = std::str::from_utf8(data).context("age.key is not UTF-8 text")?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .ok_or_else(|| {
            anyhow!("age.key holds no AGE-SECRET-KEY-1… line; restore it from a backup")
        })?;
    let identity = x25519::Identity::from_str(line).map_err(|e| {
        anyhow!("age.key has an invalid secret key ({e}); restore it from a backup")
    })?;
    // If the file states its public key, it must agree with the secret key.
    let stated = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("# public key:"));
    if stated.is_some_and(|s| s.trim() != identity.to_public().to_string()) {
        bail!("age.key is inconsistent: its '# public key' comment does not match the secret key");
    }
    Ok(identity)
}

/// Encrypts `plaintext` to all `recipients` in one standard age file.
pub(crate) fn encrypt(
    recipients: &[&AgeRecipient],
    plaintext: &[u8],
    armor: bool,
) -> Result<Vec<u8>> {
    let all = OnCores(recipients);
    let encryptor = age::Encryptor::with_recipients(iter::once(&all as &dyn age::Recipient))
        .context("could not set up age encryption to the given recipients")?;
    write_age(encryptor, plaintext, armor)
}

/// Many X25519 recipients as one, wrapping the file key for them on several cores: each
/// wrap is an ephemeral key and a key agreement (70-100 µs here), which made a 75-member
/// group's age file most of a `send --json` to it. The stanzas (`stanza`: the age spec's,
/// agreed by `ring`) are in the order of the recipients (a group member guesses its
/// stanza by that order).
struct OnCores<'a>(&'a [&'a AgeRecipient]);

impl age::Recipient for OnCores<'_> {
    fn wrap_file_key(
        &self,
        file_key: &age_core::format::FileKey,
    ) -> Result<
        (
            Vec<age_core::format::Stanza>,
            std::collections::HashSet<String>,
        ),
        age::EncryptError,
    > {
        let stanzas = crate::par::map(self.0, 8, |r| stanza::wrap(&r.bytes, file_key))
            .into_iter()
            .collect::<Result<_, _>>()?;
        Ok((stanzas, Default::default()))
    }
}

fn write_age(encryptor: age::Encryptor, plaintext: &[u8], armor: bool) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(plaintext.len() + 512);
    let format = if armor {
        Format::AsciiArmor
    } else {
        Format::Binary
    };
    let armored = ArmoredWriter::wrap_output(&mut out, format).context("age armor writer")?;
    let mut writer = encryptor
        .wrap_output(armored)
        .context("age encryption failed")?;
    writer
        .write_all(plaintext)
        .context("age encryption failed")?;
    writer
        .finish()
        .and_then(|w| w.finish())
        .context("age encryption failed to finish")?;
    Ok(out)
}

/// Decrypts an age file (binary or armored) with one identity.
// Kept with its first signature for callers content with the default bound.
#[allow(dead_code)]
pub(crate) fn decrypt(identity: &dyn age::Identity, ciphertext: &[u8]) -> Result<Vec<u8>> {
    decrypt_limited(identity, ciphertext, super::MAX_PLAINTEXT)
}

/// [`decrypt`], refusing a plaintext over `limit` bytes after reading `limit + 1` of it.
pub(crate) fn decrypt_limited(
    identity: &dyn age::Identity,
    ciphertext: &[u8],
    limit: usize,
) -> Result<Vec<u8>> {
    // A binary file (what pigeon sends) gets its header parsed once, not once per line.
    if ciphertext.starts_with(BINARY_MAGIC) {
        let decryptor =
            age::Decryptor::new_buffered(super::age_header::WholeHeader::new(ciphertext))
                .map_err(|e| anyhow!("not a readable age file: {e}"))?;
        return read_limited(decryptor, identity, limit);
    }
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(ciphertext))
        .map_err(|e| anyhow!("not a readable age file: {e}"))?;
    read_limited(decryptor, identity, limit)
}

/// Decrypts with `identity`, refusing a plaintext over `limit` bytes.
fn read_limited<R: std::io::BufRead>(
    decryptor: age::Decryptor<R>,
    identity: &dyn age::Identity,
    limit: usize,
) -> Result<Vec<u8>> {
    let mut reader = decryptor
        .decrypt(iter::once(identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => anyhow!(
                "this age message is not addressed to this identity (no matching key); \
                 it was sent to someone else or to another of your identities"
            ),
            other => anyhow!("age decryption failed: {other}; the message may be corrupted"),
        })?;
    let mut plaintext = Vec::new();
    (&mut reader)
        .take(limit as u64 + 1)
        .read_to_end(&mut plaintext)
        .map_err(|e| {
            anyhow!("age decryption failed: {e}; the message was corrupted or tampered with")
        })?;
    if plaintext.len() > limit {
        bail!("the age message is larger than {limit} bytes; refused");
    }
    Ok(plaintext)
}

/// My identity, trying first the stanzas `first` names for a header of that many X25519
/// stanzas: in a file for many recipients each stanza costs an X25519 agreement to try,
/// and a group's sender orders them so a member can guess where theirs is. Any other
/// stanza is still tried after those, so a wrong guess costs only time.
pub(crate) struct FirstTry<'a, I: age::Identity = x25519::Identity> {
    pub(crate) id: &'a I,
    pub(crate) first: &'a super::StanzaOrder,
}

impl<I: age::Identity> FirstTry<'_, I> {
    /// The stanzas to try first. Counted by X25519 stanzas only: the `age` crate ends every
    /// header with a random "grease" stanza of another type, which a count of all stanzas
    /// would take for one more recipient (and then guess nothing).
    fn guesses(&self, stanzas: &[age_core::format::Stanza]) -> &[usize] {
        let n = stanzas.iter().filter(|s| s.tag == "X25519").count();
        self.first.get(&n).map_or(&[][..], Vec::as_slice)
    }
}

impl<I: age::Identity> age::Identity for FirstTry<'_, I> {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        self.id.unwrap_stanza(stanza)
    }

    fn unwrap_stanzas(
        &self,
        stanzas: &[age_core::format::Stanza],
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        for &i in self.guesses(stanzas) {
            if let Some(found) = stanzas.get(i).and_then(|s| self.id.unwrap_stanza(s)) {
                return Some(found);
            }
        }
        stanzas.iter().find_map(|s| self.id.unwrap_stanza(s))
    }
}

/// Encrypts `secret` with an age scrypt passphrase recipient, ASCII-armored.
pub(crate) fn protect(secret: &[u8], passphrase: &str) -> Result<Vec<u8>> {
    if passphrase.is_empty() {
        bail!("refusing to protect a secret with an empty passphrase; choose a passphrase");
    }
    let encryptor = age::Encryptor::with_user_passphrase(SecretString::from(passphrase.to_owned()));
    write_age(encryptor, secret, true).context("passphrase protection failed")
}

/// Opens a file made by [`protect`] (or by `age -p`).
pub(crate) fn unprotect(data: &[u8], passphrase: &str) -> Result<Vec<u8>> {
    if !looks_like_age(data) {
        bail!("this data is not a passphrase-protected age file; nothing to unlock");
    }
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(data))
        .map_err(|e| anyhow!("not a passphrase-protected age file: {e}"))?;
    if !decryptor.is_scrypt() {
        bail!(
            "this age file is not passphrase-protected (it is encrypted to a key, not a passphrase)"
        );
    }
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    let mut reader = decryptor
        .decrypt(iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::KeyDecryptionFailed => {
                anyhow!("wrong passphrase for the protected secret key; try again")
            }
            other => anyhow!("could not unlock the protected secret key: {other}"),
        })?;
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .context("protected secret key file is corrupted")?;
    Ok(out)
}

/// True if `data` is an age passphrase (scrypt) file.
pub(crate) fn is_protected(data: &[u8]) -> bool {
    if !looks_like_age(data) {
        return false;
    }
    age::Decryptor::new_buffered(ArmoredReader::new(data))
        .map(|d| d.is_scrypt())
        .unwrap_or(false)
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ` (what `age-keygen` writes in its comment).
fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wrapped on several cores, the stanzas still come in the order of the recipients
    /// (what a group member's guess relies on), and each opens for its own identity.
    #[test]
    fn many_recipients_keep_their_stanza_order() {
        struct Which<'a>(&'a x25519::Identity, std::cell::Cell<Option<usize>>);
        impl age::Identity for Which<'_> {
            fn unwrap_stanza(
                &self,
                s: &age_core::format::Stanza,
            ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
                self.0.unwrap_stanza(s)
            }
            fn unwrap_stanzas(
                &self,
                stanzas: &[age_core::format::Stanza],
            ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
                for (i, s) in stanzas.iter().enumerate() {
                    if let Some(found) = self.0.unwrap_stanza(s) {
                        self.1.set(Some(i));
                        return Some(found);
                    }
                }
                None
            }
        }
        let ids: Vec<x25519::Identity> = (0..40).map(|_| x25519::Identity::generate()).collect();
        let pks: Vec<AgeRecipient> = ids
            .iter()
            .map(|i| AgeRecipient::from_key(i.to_public()))
            .collect();
        let refs: Vec<&AgeRecipient> = pks.iter().collect();
        let ct = encrypt(&refs, b"to forty", false).unwrap();
        for (n, id) in ids.iter().enumerate() {
            let which = Which(id, Default::default());
            assert_eq!(decrypt(&which, &ct).unwrap(), b"to forty");
            assert_eq!(which.1.get(), Some(n));
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn identity_file_round_trip_and_consistency_check() {
        let id = x25519::Identity::generate();
        let file = identity_file(&id);
        let text = std::str::from_utf8(&file).unwrap();
        assert!(text.starts_with("# created: "));
        assert!(text.contains(&format!("# public key: {}\n", id.to_public())));
        let back = parse_identity_file(&file).unwrap();
        assert_eq!(back.to_public(), id.to_public());
        let other = x25519::Identity::generate();
        let forged = text.replace(&id.to_public().to_string(), &other.to_public().to_string());
        assert!(parse_identity_file(forged.as_bytes()).is_err());
        assert!(parse_identity_file(b"# nothing here\n").is_err());
    }

    #[test]
    fn detects_age_files() {
        let id = x25519::Identity::generate();
        let me = AgeRecipient::from_key(id.to_public());
        let bin = encrypt(&[&me], b"hi", false).unwrap();
        let arm = encrypt(&[&me], b"hi", true).unwrap();
        assert!(looks_like_age(&bin) && looks_like_age(&arm));
        assert!(arm.starts_with(ARMOR_MAGIC));
        assert!(!looks_like_age(b"-----BEGIN PGP MESSAGE-----"));
        assert_eq!(decrypt(&id, &arm).unwrap(), b"hi");
        assert!(!is_protected(&bin));
    }
}
