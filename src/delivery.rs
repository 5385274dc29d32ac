//! Posting envelopes to relays: every relay in parallel over one connection pool, several
//! envelopes for one relay in batch requests of bounded size. Knows nothing of the outbox
//! or of stdout; `cmd::send` keeps the books.

use std::collections::BTreeMap;

use crate::client::{Client, RelayError};

mod fanout;
use crate::wire::{self, BatchItem, BatchRequest, BatchResult, Envelope};

/// One envelope to post: (relay URL, mailbox id, envelope).
pub type Delivery<'a> = (&'a str, &'a str, &'a Envelope);

/// What became of one delivery.
pub type Outcome = Result<(), RelayError>;

/// Posts every delivery and returns the outcomes in the same order. `tokens` maps a relay
/// URL to the password or token it wants for posting.
pub fn post_all(
    client: &Client,
    tokens: &BTreeMap<String, String>,
    deliveries: &[Delivery<'_>],
) -> Vec<Outcome> {
    let mut by_relay: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, d) in deliveries.iter().enumerate() {
        by_relay.entry(d.0).or_default().push(i);
    }
    let mut results: Vec<Option<Outcome>> = vec![None; deliveries.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = by_relay
            .into_iter()
            .map(|(relay, idx)| {
                let token = tokens.get(relay).map(String::as_str);
                scope.spawn(move || post_to_relay(client, relay, token, deliveries, &idx))
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("delivery thread") {
                results[i] = Some(r);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(RelayError::Protocol("not attempted".into()))))
        .collect()
}

/// Posts the envelopes `idx` to one relay: alone when single, else in batch requests of
/// bounded size. Returns (index, outcome) pairs.
fn post_to_relay(
    client: &Client,
    relay: &str,
    token: Option<&str>,
    deliveries: &[Delivery<'_>],
    idx: &[usize],
) -> Vec<(usize, Outcome)> {
    const MAX_ITEMS: usize = 100;
    // Under the 1 MiB a relay takes by default, with room for the JSON around the
    // payloads: a group message to a hundred members is one request per relay.
    const MAX_BYTES: usize = 960 * 1024;
    let mut out = Vec::with_capacity(idx.len());
    let mut chunk: Vec<usize> = Vec::new();
    let mut bytes = 0;
    let mut prev: Option<&Envelope> = None;
    for &i in idx {
        // The same envelope as the one before goes once in a fanout request; a relay
        // without fanout that finds the batch too large splits it (413, below).
        let env = deliveries[i].2;
        let size = if prev == Some(env) {
            0
        } else {
            env.payload.len()
        };
        prev = Some(env);
        if !chunk.is_empty() && (chunk.len() >= MAX_ITEMS || bytes + size > MAX_BYTES) {
            post_chunk(client, relay, token, deliveries, &chunk, &mut out);
            chunk.clear();
            bytes = 0;
        }
        chunk.push(i);
        bytes += size;
    }
    post_chunk(client, relay, token, deliveries, &chunk, &mut out);
    out
}

/// One request for `chunk`; a batch the relay finds too large (413: it takes less than
/// the default) is split in two and tried again, so no envelope fails for its company.
fn post_chunk(
    client: &Client,
    relay: &str,
    token: Option<&str>,
    deliveries: &[Delivery<'_>],
    chunk: &[usize],
    out: &mut Vec<(usize, Outcome)>,
) {
    match chunk {
        [] => {}
        [i] => {
            let (_, mailbox, envelope) = deliveries[*i];
            let r = client.post(relay, mailbox, envelope, token).map(|_| ());
            out.push((*i, r));
        }
        many => {
            if let Some(done) = fanout::post(client, relay, token, deliveries, many) {
                out.extend(done);
                return;
            }
            let req = BatchRequest {
                v: wire::V,
                items: many
                    .iter()
                    .map(|&i| BatchItem {
                        mailbox: deliveries[i].1.to_string(),
                        envelope: deliveries[i].2.clone(),
                    })
                    .collect(),
            };
            match client.batch(relay, &req, token) {
                Ok(reply) if reply.results.len() == many.len() => {
                    for (&i, r) in many.iter().zip(reply.results) {
                        out.push((i, batch_outcome(r)));
                    }
                }
                Ok(_) => {
                    let e = RelayError::Protocol("batch answer has the wrong length".into());
                    out.extend(many.iter().map(|&i| (i, Err(e.clone()))));
                }
                Err(RelayError::Status { status: 413, .. }) => {
                    let (a, b) = many.split_at(many.len() / 2);
                    post_chunk(client, relay, token, deliveries, a, out);
                    post_chunk(client, relay, token, deliveries, b, out);
                }
                Err(e) => out.extend(many.iter().map(|&i| (i, Err(e.clone())))),
            }
        }
    }
}

pub(crate) fn batch_outcome(r: BatchResult) -> Result<(), RelayError> {
    if (200..300).contains(&r.status) {
        return Ok(());
    }
    let (code, message) = r
        .error
        .map(|e| (e.code, e.message))
        .unwrap_or_else(|| ("http".into(), String::new()));
    Err(RelayError::Status {
        status: r.status,
        code,
        message,
        retry_after: None,
    })
}

/// Errors that a retry cannot fix: the relay refused the envelope itself.
pub fn is_permanent(e: &RelayError) -> bool {
    match e {
        RelayError::Status { status, .. } => {
            matches!(status, 400 | 404 | 405 | 413 | 414 | 415 | 422)
        }
        _ => false,
    }
}
