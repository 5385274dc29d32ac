//! One request per relay for an envelope that goes to many of its mailboxes (a group
//! message): `/v1/fanout` carries the payload once and the relay stores it once. A relay
//! that does not know the endpoint (older than it) gets the same deliveries as a batch.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, OnceLock};

use super::{Delivery, Outcome, batch_outcome};
use crate::client::{Client, RelayError};
use crate::wire::{self, Envelope, FanoutItem, FanoutRequest};

/// Relays that answered 404 or 405 to `/v1/fanout` in this process: asked once, then
/// sent batches without the extra round trip.
fn old_relays() -> &'static Mutex<HashSet<String>> {
    static OLD: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    OLD.get_or_init(Default::default)
}

/// Posts `chunk` through `/v1/fanout` when some envelope in it goes to more than one
/// mailbox. `None` when it should go as a batch instead: nothing shared, or a relay
/// without the endpoint (or one that refused the request as a whole; the batch then
/// gets its own answer).
pub(super) fn post(
    client: &Client,
    relay: &str,
    token: Option<&str>,
    deliveries: &[Delivery<'_>],
    chunk: &[usize],
) -> Option<Vec<(usize, Outcome)>> {
    // Same id and bytes: one item. Compared whole, not by id alone: two envelopes under
    // one id (one per key kind) are two items.
    let mut items: Vec<(&Envelope, Vec<usize>)> = Vec::new();
    let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in chunk {
        let env = deliveries[i].2;
        let same = by_id.entry(env.id.as_str()).or_default();
        match same.iter().find(|&&k| items[k].0 == env) {
            Some(&k) => items[k].1.push(i),
            None => {
                same.push(items.len());
                items.push((env, vec![i]));
            }
        }
    }
    if items.len() == chunk.len() {
        return None;
    }
    if old_relays().lock().ok()?.contains(relay) {
        return None;
    }
    let req = FanoutRequest {
        v: wire::V,
        items: items
            .iter()
            .map(|(env, idx)| FanoutItem {
                mailboxes: idx.iter().map(|&i| deliveries[i].1.to_string()).collect(),
                envelope: (*env).clone(),
            })
            .collect(),
    };
    match client.fanout(relay, &req, token) {
        Ok(reply)
            if reply.results.len() == items.len()
                && reply
                    .results
                    .iter()
                    .zip(&items)
                    .all(|(r, (_, idx))| r.len() == idx.len()) =>
        {
            let mut out = Vec::with_capacity(chunk.len());
            for (results, (_, idx)) in reply.results.into_iter().zip(items) {
                for (r, i) in results.into_iter().zip(idx) {
                    out.push((i, batch_outcome(r)));
                }
            }
            Some(out)
        }
        Ok(_) => {
            let e = RelayError::Protocol("fanout answer has the wrong shape".into());
            Some(chunk.iter().map(|&i| (i, Err(e.clone()))).collect())
        }
        Err(RelayError::Status {
            status: 404 | 405, ..
        }) => {
            if let Ok(mut old) = old_relays().lock() {
                old.insert(relay.to_string());
            }
            None
        }
        Err(RelayError::Status {
            status: 400 | 413, ..
        }) => None,
        Err(e) => Some(chunk.iter().map(|&i| (i, Err(e.clone()))).collect()),
    }
}
