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

/// Every plan sealed, in order, on up to four threads (each taking the next plan).
pub(super) fn seal_all(
    id: &Identity,
    card_json: &[u8],
    plans: &[Plan],
) -> Vec<Result<Vec<Sealed>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if plans.len() < 2 || threads < 2 {
        return plans.iter().map(|p| seal_one(id, card_json, p)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<Result<Vec<Sealed>>>> = (0..plans.len()).map(|_| None).collect();
    let done: Vec<Vec<(usize, Result<Vec<Sealed>>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.min(plans.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(p) = plans.get(i) else { break mine };
                        mine.push((i, seal_one(id, card_json, p)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("sealing thread"))
            .collect()
    });
    for (i, r) in done.into_iter().flatten() {
        out[i] = Some(r);
    }
    out.into_iter()
        .map(|r| r.expect("every plan was sealed"))
        .collect()
}
