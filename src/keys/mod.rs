//! Identities, cards and contacts on disk. Uses `crypto` for the keys; knows nothing of
//! stdin/stdout (that is `cmd`'s job).

pub mod card;
pub mod contacts;
pub mod identity;
pub mod passphrase;
pub mod verified;

pub use card::{card_signing_bytes, verify_card, verify_card_json};
pub use contacts::{Contact, Contacts};
pub use identity::{Identity, IdentityMeta};

pub use crate::wire::now;

/// Checks a name given to `keygen --name` or `contact add --as`: one line of printable
/// text, at most 64 characters, usable in file names and shell scripts.
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'));
    if ok {
        Ok(())
    } else {
        Err(crate::error::fail(
            crate::error::Exit::Usage,
            format!(
                "invalid name {:?}: use 1 to 64 letters, digits and . _ - @ + \
                 (not starting with . or -)",
                crate::output::sanitize(name)
            ),
        ))
    }
}

/// Normalises a fingerprint typed by a person: no spaces or colons, lowercase.
pub fn normalize_fingerprint(fp: &str) -> String {
    fp.chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("alice").is_ok());
        assert!(validate_name("bob.smith@home").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("../etc").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("-rf").is_err());
        assert!(validate_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn card_names() {
        use super::card::check_card_name;
        assert!(check_card_name("Gail Smith <gail@example.org>").is_ok());
        assert!(check_card_name("Zoë").is_ok());
        assert!(check_card_name("").is_err());
        assert!(check_card_name(&"x".repeat(65)).is_err());
        assert!(check_card_name("x\nFrom: alice").is_err());
        assert!(check_card_name("a\tb").is_err());
        assert!(check_card_name("a\u{202E}b").is_err());
        assert!(check_card_name("a\u{2028}b").is_err());
        assert!(check_card_name(" alice").is_err());
    }

    /// A card verified once is only parsed the next time; an edit makes another digest,
    /// which is verified again (and fails), whatever was remembered.
    #[test]
    fn a_pinned_card_is_verified_once_and_an_edit_is_verified_again() {
        use crate::card::{card_digest, verify_pinned_card_once};
        use std::collections::HashSet;
        let dir = tempfile::tempdir().unwrap();
        let home = crate::home::Home::at(dir.path());
        let secret =
            crate::crypto::SecretIdentity::generate(crate::crypto::Kind::Age, "a").unwrap();
        let id = Identity::create(&home, secret, "alice", None, false).unwrap();
        let card = serde_json::to_value(id.card().unwrap()).unwrap();

        let mut known = HashSet::new();
        let (c, _, fresh) = verify_pinned_card_once(&card, &known).unwrap();
        assert_eq!(c.name, "alice");
        assert_eq!(fresh, Some(card_digest(&card)), "verified now: remember it");
        known.insert(fresh.unwrap());
        let (_, _, again) = verify_pinned_card_once(&card, &known).unwrap();
        assert_eq!(again, None, "known bytes are not verified again");

        let mut edited = card.clone();
        edited["relays"] = serde_json::json!(["https://evil.example"]);
        assert_ne!(card_digest(&edited), card_digest(&card));
        let err = verify_pinned_card_once(&edited, &known).unwrap_err();
        assert!(format!("{err:#}").contains("does not verify"), "{err:#}");
    }

    #[test]
    fn fingerprints_normalise() {
        assert_eq!(normalize_fingerprint("AB CD:ef"), "abcdef");
    }
}
