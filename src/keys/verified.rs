//! The OpenPGP signatures verified by earlier runs (`crypto::verified_signatures`), kept in
//! `pgp-verified.cache` in the data folder (0600), so a `send` to a group does not verify
//! the same two dozen member certs again every time. The file only says which signatures
//! verified; whoever can write it can write the pinned contacts beside it too. A missing
//! or damaged file costs only time.

use std::path::PathBuf;

use anyhow::Result;

use crate::home::{Home, write_atomic};

fn path(home: &Home) -> PathBuf {
    home.data.join("pgp-verified.cache")
}

/// Hands the saved signatures to sequoia (nothing when there are none).
pub fn load(home: &Home) {
    if let Ok(bytes) = std::fs::read(path(home)) {
        crate::crypto::restore_verified_signatures(&bytes);
    }
}

/// Saves what this process verified, with what it loaded, when it verified anything new
/// and the data folder exists (a command that failed before making it leaves none).
pub fn save(home: &Home) -> Result<()> {
    if !home.data.is_dir() {
        return Ok(());
    }
    match crate::crypto::verified_signatures() {
        Some(bytes) => write_atomic(&path(home), &bytes, 0o600),
        None => Ok(()),
    }
}
