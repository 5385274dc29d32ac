//! `recv --keep-for DURATION`: messages stay on the relay (my other devices read them there)
//! and a later run acknowledges them once the relay has held them that long.
//!
//! The cursor still moves past every envelope as usual, so a kept message is fetched,
//! printed and archived once. What is old enough is found by reading the mailbox from its
//! start: the relay holds exactly what nobody acknowledged, oldest first, each with the time
//! it arrived. Everything from the start up to the first envelope that is too young (or that
//! this run has not received yet) is acknowledged; nothing newer ever is. The first read asks
//! for one envelope, so a run with nothing old enough costs one small request.

use std::time::Instant;

use super::{PAGE, Receiver};
use crate::client::RelayError;
use crate::keys::now;
use crate::wire::StoredEnvelope;

/// `--follow` looks for messages old enough at most this often (or every DURATION, if
/// that is shorter).
const FOLLOW_EVERY_SECS: u64 = 60;

/// The highest seq that may be acknowledged: the last of the envelopes from the start of
/// `page` that each arrived at least `keep_for` seconds before `now` and are at or below
/// `cursor` (received and archived by this home); `None` when the first one is not. The bool
/// says whether an envelope stopped it (else the whole page qualified).
pub(super) fn releasable(
    page: &[StoredEnvelope],
    cursor: u64,
    keep_for: u64,
    now: u64,
) -> (Option<u64>, bool) {
    let mut upto = None;
    for e in page {
        if e.seq > cursor || e.received.saturating_add(keep_for) > now {
            return (upto, true);
        }
        upto = Some(e.seq);
    }
    (upto, false)
}

impl Receiver {
    /// Acknowledges what this relay has kept for at least `keep_for` seconds and this home
    /// has already received. A relay that fails here is said and left for the next run (the
    /// messages are archived; only their deletion waits).
    pub(super) fn release_kept(&mut self, relay: &str) {
        let Some(keep_for) = self.keep_for else {
            return;
        };
        self.released_at.insert(relay.to_string(), Instant::now());
        let cursor = self.cursor(relay);
        if cursor == 0 {
            return;
        }
        match self.oldest_releasable(relay, cursor, keep_for) {
            Ok(None) => {}
            Ok(Some(upto)) => {
                if let Err(e) = self.client.ack(relay, self.mailbox_key(), upto) {
                    self.note(&format!(
                        "{relay}: cannot acknowledge kept messages: {e} (the next run tries again)"
                    ));
                }
            }
            Err(e) => self.note(&format!(
                "{relay}: cannot look for kept messages to acknowledge: {e} (the next run \
                 tries again)"
            )),
        }
    }

    /// Reads the mailbox from its start, one envelope first, then pages, until one is too
    /// young or not yet received here; returns the last seq before it.
    fn oldest_releasable(
        &self,
        relay: &str,
        cursor: u64,
        keep_for: u64,
    ) -> Result<Option<u64>, RelayError> {
        let key = self.mailbox_key();
        let (mut after, mut limit, mut upto) = (0, 1, None);
        loop {
            let page = self.client.fetch(relay, key, after, limit, 0)?;
            let (last, stopped) = releasable(&page.envelopes, cursor, keep_for, now());
            upto = last.or(upto);
            match last {
                Some(seq) if !stopped && page.more => after = seq,
                _ => return Ok(upto),
            }
            limit = PAGE;
        }
    }

    /// Under `--follow`: whether it is time to look for old enough messages on this relay.
    pub(super) fn release_due(&self, relay: &str) -> bool {
        let Some(keep_for) = self.keep_for else {
            return false;
        };
        let every = keep_for.clamp(1, FOLLOW_EVERY_SECS);
        self.released_at
            .get(relay)
            .is_none_or(|t| t.elapsed().as_secs() >= every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(seq: u64, received: u64) -> StoredEnvelope {
        StoredEnvelope {
            seq,
            id: String::new(),
            payload: String::new(),
            received,
            expires: received + 1000,
        }
    }

    #[test]
    fn only_old_enough_received_envelopes_from_the_start_are_released() {
        let page = [env(10, 100), env(11, 150), env(12, 190), env(13, 120)];
        // At 200, kept for 50: 10 and 11 are old enough, 12 is not, so 13 waits too even
        // though its (skewed) time says it is old.
        assert_eq!(releasable(&page, 99, 50, 200), (Some(11), true));
        // Not received here yet: never released, however old.
        assert_eq!(releasable(&page, 10, 50, 200), (Some(10), true));
        assert_eq!(releasable(&page, 9, 0, 200), (None, true));
        // Everything old enough and received: the whole page, and the caller reads on.
        assert_eq!(releasable(&page, 13, 0, 200), (Some(13), false));
        assert_eq!(releasable(&page, 13, 101, 200), (None, true));
        assert_eq!(releasable(&[], 13, 0, 200), (None, false));
    }
}
