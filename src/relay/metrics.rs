//! Counters for `GET /metrics`, in the Prometheus text format. Plain atomics: no registry,
//! no allocation per request.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why a request was refused; one counter each. The names are the `code` of the JSON error.
pub const REJECT_REASONS: &[&str] = &[
    "bad_request",
    "not_found",
    "too_large",
    "quota",
    "relay_full",
    "disk_full",
    "rate_limited",
    "locked_out",
    "blocked",
    "unauthorized",
    "bad_signature",
    "wrong_key",
    "wrong_relay",
    "source_quota",
    "stale",
    "replay",
    "timeout",
    "busy",
    "internal",
    "stale_seq",
    "name_taken",
    "bad_card",
    "bad_expiry",
    "expired",
];

/// The routes counted separately.
pub const ROUTES: &[&str] = &[
    "post", "batch", "fetch", "delete", "info", "health", "metrics", "card_put", "card_get",
    "names", "relays", "fanout", "other",
];

#[derive(Default)]
pub struct Metrics {
    requests: [Counter; 13],
    rejects: [Counter; 24],
    pub stored: Counter,
    pub stored_bytes: Counter,
    pub duplicates: Counter,
    pub deleted: Counter,
    pub expired: Counter,
    pub commits: Counter,
    pub committed_ops: Counter,
    pub lockouts: Counter,
    pub blocks: Counter,
    pub connections_total: Counter,
    pub connections_open: Counter,
    pub connections_refused: Counter,
    pub header_timeouts: Counter,
    pub write_timeouts: Counter,
    /// Long-poll reads waiting now.
    pub long_polls: Counter,
}

impl Metrics {
    pub fn request(&self, route: &str) {
        let i = ROUTES
            .iter()
            .position(|r| *r == route)
            .unwrap_or(ROUTES.len() - 1);
        self.requests[i].inc();
    }

    pub fn reject(&self, code: &str) {
        let i = REJECT_REASONS
            .iter()
            .position(|r| *r == code)
            .unwrap_or(REJECT_REASONS.len() - 1);
        self.rejects[i].inc();
    }

    pub fn commit(&self, ops: u64) {
        self.commits.inc();
        self.committed_ops.add(ops);
    }

    /// The text for `/metrics`; `stored` is (mailboxes, envelopes, bytes) now on disk.
    pub fn render(&self, stored: Option<(u64, u64, u64)>) -> String {
        let mut out = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str, kind: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        counter(
            "pigeon_envelopes_stored_total",
            "Envelopes stored.",
            "counter",
            self.stored.get(),
        );
        counter(
            "pigeon_bytes_stored_total",
            "Payload bytes stored.",
            "counter",
            self.stored_bytes.get(),
        );
        counter(
            "pigeon_envelopes_duplicate_total",
            "Posts of an id already stored.",
            "counter",
            self.duplicates.get(),
        );
        counter(
            "pigeon_envelopes_deleted_total",
            "Envelopes acknowledged and deleted.",
            "counter",
            self.deleted.get(),
        );
        counter(
            "pigeon_envelopes_expired_total",
            "Envelopes dropped when their TTL ran out.",
            "counter",
            self.expired.get(),
        );
        counter(
            "pigeon_commits_total",
            "Write transactions committed.",
            "counter",
            self.commits.get(),
        );
        counter(
            "pigeon_committed_ops_total",
            "Operations in committed transactions.",
            "counter",
            self.committed_ops.get(),
        );
        counter(
            "pigeon_lockouts_total",
            "Addresses locked out after failed attempts.",
            "counter",
            self.lockouts.get(),
        );
        counter(
            "pigeon_blocks_total",
            "Addresses blocked after repeated lockouts.",
            "counter",
            self.blocks.get(),
        );
        counter(
            "pigeon_connections_total",
            "Connections accepted.",
            "counter",
            self.connections_total.get(),
        );
        counter(
            "pigeon_connections_refused_total",
            "Connections refused at the limit.",
            "counter",
            self.connections_refused.get(),
        );
        counter(
            "pigeon_connections_open",
            "Connections open now.",
            "gauge",
            self.connections_open.get(),
        );
        counter(
            "pigeon_write_timeouts_total",
            "Connections closed because the client did not read its reply in time.",
            "counter",
            self.write_timeouts.get(),
        );
        counter(
            "pigeon_long_polls",
            "Long-poll reads waiting now.",
            "gauge",
            self.long_polls.get(),
        );
        if let Some((mailboxes, envelopes, bytes)) = stored {
            counter(
                "pigeon_mailboxes",
                "Mailboxes holding envelopes.",
                "gauge",
                mailboxes,
            );
            counter("pigeon_envelopes", "Envelopes held.", "gauge", envelopes);
            counter(
                "pigeon_bytes",
                "Bytes held, payload and row overhead.",
                "gauge",
                bytes,
            );
        }
        let _ = writeln!(
            out,
            "# HELP pigeon_requests_total HTTP requests by route.\n# TYPE pigeon_requests_total counter"
        );
        for (i, r) in ROUTES.iter().enumerate() {
            let _ = writeln!(
                out,
                "pigeon_requests_total{{route=\"{r}\"}} {}",
                self.requests[i].get()
            );
        }
        let _ = writeln!(
            out,
            "# HELP pigeon_rejects_total Requests refused, by reason.\n# TYPE pigeon_rejects_total counter"
        );
        for (i, r) in REJECT_REASONS.iter().enumerate() {
            let _ = writeln!(
                out,
                "pigeon_rejects_total{{reason=\"{r}\"}} {}",
                self.rejects[i].get()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_the_arrays() {
        let m = Metrics::default();
        assert_eq!(m.requests.len(), ROUTES.len());
        assert_eq!(m.rejects.len(), REJECT_REASONS.len());
        m.reject("quota");
        m.request("post");
        let text = m.render(Some((1, 2, 3)));
        assert!(text.contains("pigeon_rejects_total{reason=\"quota\"} 1"));
        assert!(text.contains("pigeon_requests_total{route=\"post\"} 1"));
        assert!(text.contains("pigeon_envelopes 2"));
    }
}
