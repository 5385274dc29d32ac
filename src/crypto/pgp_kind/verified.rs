//! sequoia's cache of verified signatures, carried from one process to the next.
//!
//! A certificate is only usable once its self-signatures verify (the binding of each user
//! id and subkey), and sequoia verifies them the first time a process uses the cert. A
//! `send` to a group with two dozen OpenPGP members spent about a third of its CPU on
//! those verifications, every run, for the same certs. sequoia keeps what verified in a
//! cache, keyed by a hash of the signature, the digest of what it signs and the key, so a
//! cert that changed in any way misses it and is verified again; only signatures that
//! verified are in it. This module hands that cache out as bytes and takes it back.

use openpgp::packet::signature::cache::{Entry, SignatureVerificationCache as Cache};
use sequoia_openpgp as openpgp;

/// Bytes of one entry (sequoia's opaque value).
pub(crate) const ENTRY_BYTES: usize = 32;

/// Entries kept from one run to the next: 512 KiB, tens of thousands of certs.
pub(crate) const MAX_ENTRIES: usize = 16 * 1024;

/// Loads entries saved by [`to_save`] and waits until sequoia has them (it restores on a
/// thread of its own). Bytes that are not whole entries are ignored.
pub(crate) fn restore(bytes: &[u8]) {
    let entries: Vec<Vec<u8>> = bytes
        .chunks_exact(ENTRY_BYTES)
        .take(MAX_ENTRIES)
        .map(<[u8]>::to_vec)
        .collect();
    if entries.is_empty() {
        return;
    }
    let (done, wait) = std::sync::mpsc::channel();
    Cache::restore(entries.into_iter(), move || {
        let _ = done.send(());
    });
    let _ = wait.recv();
}

/// The cache as bytes to keep, when this process verified something it did not hold
/// (`None`: nothing new to write). Past [`MAX_ENTRIES`], what this process used or added
/// is kept first.
pub(crate) fn to_save() -> Option<Vec<u8>> {
    if Cache::insertions() == 0 {
        return None;
    }
    let mut entries: Vec<Entry> = Cache::dump().into_iter().collect();
    if entries.len() > MAX_ENTRIES {
        entries.sort_by_key(|e| !(e.accessed() || e.inserted()));
        entries.truncate(MAX_ENTRIES);
    }
    Some(entries.iter().flat_map(|e| e.value().to_vec()).collect())
}
