//! Tracker calls (DESIGN §6, `docs/protocol.md` "Tracker"): publish a card, fetch one by
//! fingerprint or by name, release a name (a signed request), list known relays.
//!
//! Cards come back as the bytes the tracker holds: the caller verifies them (a tracker can
//! withhold but must not be able to forge), and pins them as received.

use ed25519_dalek::SigningKey;

use super::{Client, RelayError, raw_reply, reply};
use crate::wire::{self, CardPutReply, RelayList, ReleaseReply};

/// Largest card the client reads: an OpenPGP certificate with many signatures is a few
/// KiB; far more is a tracker trying to make us hold it.
const MAX_CARD_BYTES: u64 = 256 * 1024;
/// Largest relay list read.
const MAX_LIST_BYTES: u64 = 4 * 1024 * 1024;

impl Client {
    /// Publishes a card (its exact bytes, as `pigeon card` prints it).
    pub fn publish_card(
        &self,
        tracker: &str,
        fingerprint: &str,
        card: &[u8],
    ) -> Result<CardPutReply, RelayError> {
        let url = format!("{tracker}/v1/cards/{}", encode(fingerprint));
        reply(
            self.agent
                .put(url)
                .header("content-type", "application/json")
                .send(card),
        )
    }

    /// The card a tracker holds for a fingerprint, as bytes (unverified).
    pub fn card_by_fingerprint(
        &self,
        tracker: &str,
        fingerprint: &str,
    ) -> Result<Vec<u8>, RelayError> {
        let url = format!("{tracker}/v1/cards/{}", encode(fingerprint));
        raw_reply(self.agent.get(url).call(), MAX_CARD_BYTES)
    }

    /// The card of the identity holding `name` on a tracker, as bytes (unverified).
    pub fn card_by_name(&self, tracker: &str, name: &str) -> Result<Vec<u8>, RelayError> {
        let url = format!("{tracker}/v1/names/{}", encode(name));
        raw_reply(self.agent.get(url).call(), MAX_CARD_BYTES)
    }

    /// Gives a name back: a request signed with the mailbox key of the card holding it,
    /// for this tracker (its authority), so it cannot be replayed to another tracker.
    pub fn release_name(
        &self,
        tracker: &str,
        key: &SigningKey,
        name: &str,
    ) -> Result<ReleaseReply, RelayError> {
        let path = format!("/v1/names/{}", encode(name));
        let mut req = self.agent.delete(format!("{tracker}{path}"));
        let host = wire::url_authority(tracker);
        for (k, v) in wire::sign_request(key, "DELETE", host, &path, "", wire::now()) {
            req = req.header(k, v);
        }
        reply(req.call())
    }

    /// What a tracker says of itself (`/v1/info`), as JSON: a tracker alone and a relay with
    /// a tracker mounted answer differently.
    pub fn tracker_info(&self, tracker: &str) -> Result<serde_json::Value, RelayError> {
        reply(self.agent.get(format!("{tracker}/v1/info")).call())
    }

    /// The relays a tracker knows.
    pub fn known_relays(&self, tracker: &str) -> Result<RelayList, RelayError> {
        let body = raw_reply(
            self.agent.get(format!("{tracker}/v1/relays")).call(),
            MAX_LIST_BYTES,
        )?;
        serde_json::from_slice(&body).map_err(|e| RelayError::Protocol(e.to_string()))
    }
}

/// Percent-encodes one path segment: everything but letters, digits and `-_~` (names may
/// hold spaces, `@`, `/` or any letter; dots are encoded so `..` stays a name, not a step up).
pub fn encode(segment: &str) -> String {
    crate::output::percent_encode(segment, b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode("bob"), "bob");
        assert_eq!(encode("Zoë Smith/x@y"), "Zo%C3%AB%20Smith%2Fx%40y");
        assert_eq!(encode(".."), "%2E%2E");
    }
}
