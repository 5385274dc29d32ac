//! Sealing planned messages, several at once: a `send --json` of group messages spends
//! nearly all its time in key agreements (one per member and message), and one message's
//! seal only keeps both cores busy while its age and OpenPGP halves last.

use anyhow::Result;

use super::Plan;
use crate::crypto::{PublicIdentity, Sealed};
use crate::keys::Identity;
use crate::message;

/// One message sealed to its recipients (one ciphertext per key kind).
pub(super) fn seal_one(id: &Identity, card_json: &[u8], plan: &Plan) -> Result<Vec<Sealed>> {
    let publics: Vec<&PublicIdentity> = plan.recipients.iter().map(|r| &r.public).collect();
    message::seal(id, card_json, &publics, &plan.inner, false)
}

/// Every plan sealed, in order, several at once.
pub(super) fn seal_all(
    id: &Identity,
    card_json: &[u8],
    plans: &[Plan],
) -> Vec<Result<Vec<Sealed>>> {
    crate::par::map(plans, 1, |p| seal_one(id, card_json, p))
}
