//! Per-source limits: who a source is ([`Peer`]), requests per second ([`RateLimiter`]), and
//! the memory budget for request bodies ([`BodyBudget`]).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A source address as the relay counts it: IPv4 as is, IPv6 by its /64 (one host usually
/// holds a whole /64, so counting single addresses would let it dodge every limit), and
/// IPv4-mapped IPv6 as the IPv4 address it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer(IpAddr);

impl Peer {
    /// Stands for every source that did not fit in a full table.
    const OVERFLOW: Peer = Peer(IpAddr::V6(Ipv6Addr::UNSPECIFIED));

    /// A source on this host: 127.0.0.0/8, or ::1 (whose /64 is `::/64`, where nothing
    /// else is routed).
    pub fn is_loopback(&self) -> bool {
        match self.0 {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => v6.segments()[..4] == [0, 0, 0, 0],
        }
    }

    pub fn from_ip(ip: IpAddr) -> Peer {
        match ip {
            IpAddr::V4(_) => Peer(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Peer(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Peer(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }

    /// The network a source counts in when the rate table is full: an IPv4 /24, an IPv6
    /// /48. Marked so that it never equals a real source (those are plain IPv4, or a /64
    /// with its host half zero).
    pub fn network(self) -> Peer {
        match self.0 {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Peer(IpAddr::V6(
                    std::net::Ipv4Addr::new(a, b, c, 0).to_ipv6_mapped(),
                ))
            }
            IpAddr::V6(v6) => {
                let s = v6.segments();
                Peer(IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 1)))
            }
        }
    }

    /// Parses what an operator types: `203.0.113.7`, `2001:db8::1` or `2001:db8::/64`.
    pub fn parse(text: &str) -> Option<Peer> {
        let t = text.trim();
        let t = t.strip_suffix("/64").unwrap_or(t);
        t.parse::<IpAddr>().ok().map(Peer::from_ip)
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Entries kept before idle ones are pruned.
const RATE_TABLE_SOFT_CAP: usize = 16_384;
/// Past this many busy sources, new ones share a bucket per network ([`Peer::network`]):
/// memory stays bounded even when an attacker rotates through a whole IPv6 prefix, and the
/// attacker's network is limited together without starving everyone else's.
const RATE_TABLE_HARD_CAP: usize = 100_000;
/// Network buckets kept at most on top; past them the rest share one last bucket.
const RATE_TABLE_NETWORKS: usize = 50_000;

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A token bucket per source: `rate` requests per second, bursts of up to `rate`.
pub struct RateLimiter {
    rate: f64,
    buckets: Mutex<HashMap<Peer, Bucket>>,
    /// (soft, hard, networks): the table caps above, smaller in tests.
    caps: (usize, usize, usize),
}

impl RateLimiter {
    /// `rate` 0 turns the limit off.
    pub fn new(rate: u32) -> RateLimiter {
        RateLimiter::with_caps(
            rate,
            (
                RATE_TABLE_SOFT_CAP,
                RATE_TABLE_HARD_CAP,
                RATE_TABLE_NETWORKS,
            ),
        )
    }

    fn with_caps(rate: u32, caps: (usize, usize, usize)) -> RateLimiter {
        RateLimiter {
            rate: f64::from(rate),
            buckets: Mutex::new(HashMap::new()),
            caps,
        }
    }

    /// The bucket a new source gets in a table this full: its own, its network's, or the
    /// last shared one.
    fn slot(&self, map: &HashMap<Peer, Bucket>, peer: Peer) -> Peer {
        let (_, hard, networks) = self.caps;
        if map.len() < hard || map.contains_key(&peer) {
            return peer;
        }
        let net = peer.network();
        if map.len() < hard + networks || map.contains_key(&net) {
            net
        } else {
            Peer::OVERFLOW
        }
    }

    /// Takes one request's token; `Err(seconds)` says when to retry.
    pub fn check(&self, peer: Peer, now: Instant) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.caps.0 && !map.contains_key(&peer) {
            prune(&mut map, self.rate, now);
        }
        let peer = self.slot(&map, peer);
        let b = map.entry(peer).or_insert(Bucket {
            tokens: self.rate,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.rate);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / self.rate;
            Err(wait.ceil().max(1.0) as u64)
        }
    }

    /// Takes `n` more tokens from a source that [`RateLimiter::check`] just let in (the
    /// rest of a batch's items), going into debt if need be: its next requests wait until
    /// the items are paid for, so a batch cannot carry more than the rate allows.
    pub fn charge(&self, peer: Peer, n: u64, now: Instant) {
        if self.rate <= 0.0 || n == 0 {
            return;
        }
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let peer = self.slot(&map, peer);
        let b = map.entry(peer).or_insert(Bucket {
            tokens: self.rate,
            last: now,
        });
        b.tokens -= n as f64;
    }

    /// Forgets sources whose bucket is full again (they would start full anyway).
    pub fn prune(&self, now: Instant) {
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut map, self.rate, now);
    }
}

fn prune(map: &mut HashMap<Peer, Bucket>, rate: f64, now: Instant) {
    map.retain(|_, b| b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < rate);
}

/// Bytes of request bodies held in memory at once. Without it, a thousand clients each
/// sending a body just under the limit would need a gigabyte.
pub struct BodyBudget {
    sem: Arc<Semaphore>,
    max: u64,
}

impl BodyBudget {
    pub fn new(max_bytes: u64) -> BodyBudget {
        BodyBudget {
            sem: Arc::new(Semaphore::new(max_bytes as usize)),
            max: max_bytes,
        }
    }

    /// Reserves `bytes`, waiting at most `patience`; `None` when the relay is too busy.
    pub async fn reserve(&self, bytes: u64, patience: Duration) -> Option<OwnedSemaphorePermit> {
        let n = bytes.min(self.max) as u32;
        // Called per chunk of every body: no timer unless it has to wait.
        if let Ok(p) = self.sem.clone().try_acquire_many_owned(n) {
            return Some(p);
        }
        tokio::time::timeout(patience, self.sem.clone().acquire_many_owned(n))
            .await
            .ok()?
            .ok()
    }
}

/// How long a source's stored bytes are counted against `max_bytes_per_source_hour`.
const SOURCE_WINDOW: Duration = Duration::from_secs(3600);
/// Sources counted at most; when full, the one that stored least this hour is forgotten.
const SOURCE_TABLE_CAP: usize = 100_000;

/// Bytes stored per source in the current hour (a fixed window from its first post).
pub struct SourceQuota {
    cap: u64,
    used: Mutex<HashMap<Peer, (Instant, u64)>>,
}

impl SourceQuota {
    /// `cap` 0 turns the quota off.
    pub fn new(cap: u64) -> SourceQuota {
        SourceQuota {
            cap,
            used: Mutex::new(HashMap::new()),
        }
    }

    /// Counts `bytes` for `peer`; `Err(seconds)` until its window ends when that would pass
    /// the cap (then nothing is counted).
    pub fn take(&self, peer: Peer, bytes: u64, now: Instant) -> Result<(), u64> {
        if self.cap == 0 {
            return Ok(());
        }
        let mut map = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SOURCE_TABLE_CAP && !map.contains_key(&peer) {
            map.retain(|_, (start, _)| now.saturating_duration_since(*start) < SOURCE_WINDOW);
            if map.len() >= SOURCE_TABLE_CAP
                && let Some(k) = map.iter().min_by_key(|(_, (_, b))| *b).map(|(k, _)| *k)
            {
                map.remove(&k);
            }
        }
        let e = map.entry(peer).or_insert((now, 0));
        if now.saturating_duration_since(e.0) >= SOURCE_WINDOW {
            *e = (now, 0);
        }
        if e.1.saturating_add(bytes) > self.cap {
            let left = SOURCE_WINDOW.saturating_sub(now.saturating_duration_since(e.0));
            return Err(left.as_secs().max(1));
        }
        e.1 += bytes;
        Ok(())
    }

    /// Gives back what [`SourceQuota::take`] counted for envelopes that were not stored.
    pub fn give_back(&self, peer: Peer, bytes: u64) {
        if self.cap == 0 || bytes == 0 {
            return;
        }
        let mut map = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = map.get_mut(&peer) {
            e.1 = e.1.saturating_sub(bytes);
        }
    }

    /// Forgets windows that are over.
    pub fn prune(&self, now: Instant) {
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (start, _)| now.saturating_duration_since(*start) < SOURCE_WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_group_ipv6_by_64_and_unmap_ipv4() {
        let a = Peer::parse("2001:db8:1:2:aaaa::1").unwrap();
        let b = Peer::parse("2001:db8:1:2:bbbb::9").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(Peer::parse("2001:db8:1:2::/64"), Some(a));
        assert_eq!(
            Peer::parse("::ffff:203.0.113.7").unwrap().to_string(),
            "203.0.113.7"
        );
        assert_eq!(
            Peer::parse("203.0.113.7").unwrap().to_string(),
            "203.0.113.7"
        );
        assert_eq!(Peer::parse("nonsense"), None);
    }

    #[test]
    fn rate_limiter_allows_a_burst_then_refills() {
        let rl = RateLimiter::new(5);
        let p = Peer::parse("192.0.2.1").unwrap();
        let other = Peer::parse("192.0.2.2").unwrap();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(rl.check(p, t0).is_ok());
        }
        assert_eq!(rl.check(p, t0), Err(1));
        assert!(rl.check(other, t0).is_ok(), "others are not affected");
        assert!(
            rl.check(p, t0 + Duration::from_millis(250)).is_ok(),
            "refilled"
        );
        assert!(rl.check(p, t0 + Duration::from_millis(250)).is_err());
        rl.prune(t0 + Duration::from_secs(10));
        assert!(rl.buckets.lock().unwrap().is_empty());
        assert!(RateLimiter::new(0).check(p, t0).is_ok());
    }

    #[test]
    fn a_full_rate_table_limits_new_sources_by_network_not_all_together() {
        let rl = RateLimiter::with_caps(2, (4, 4, 2));
        let t0 = Instant::now();
        // An attacker fills the table from one /48 (buckets still in use: not pruned).
        for i in 0..6u16 {
            let p = Peer::from_ip(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, i, 0, 0, 0, 1)));
            let _ = rl.check(p, t0);
            let _ = rl.check(p, t0);
        }
        // Its further addresses share its network's bucket, spent by now...
        let more = Peer::parse("2001:db8:1:99::1").unwrap();
        assert!(rl.check(more, t0).is_err());
        // ...while a newcomer from elsewhere has one of its own.
        let other = Peer::parse("198.51.100.7").unwrap();
        assert!(rl.check(other, t0).is_ok());
        assert!(rl.check(other, t0).is_ok());
        assert!(rl.check(other, t0).is_err());
        assert_ne!(other.network(), other);
        assert_ne!(
            Peer::parse("2001:db8:1::").unwrap().network(),
            Peer::parse("2001:db8:1::").unwrap()
        );
    }

    #[test]
    fn a_batch_is_paid_for_by_its_items() {
        let rl = RateLimiter::new(5);
        let p = Peer::parse("192.0.2.1").unwrap();
        let t0 = Instant::now();
        assert!(rl.check(p, t0).is_ok());
        rl.charge(p, 19, t0);
        // 5 - 20 = -15 tokens: 16 / 5 = 3.2 s before the next request.
        assert_eq!(rl.check(p, t0), Err(4));
        assert!(rl.check(p, t0 + Duration::from_secs(4)).is_ok());
    }

    #[test]
    fn source_quota_caps_an_hour_and_gives_back() {
        let q = SourceQuota::new(1000);
        let p = Peer::parse("192.0.2.1").unwrap();
        let t0 = Instant::now();
        assert!(q.take(p, 600, t0).is_ok());
        assert_eq!(q.take(p, 600, t0), Err(3600));
        assert!(q.take(Peer::parse("192.0.2.2").unwrap(), 600, t0).is_ok());
        q.give_back(p, 600);
        assert!(q.take(p, 1000, t0).is_ok());
        assert!(
            q.take(p, 1, t0 + Duration::from_secs(3600)).is_ok(),
            "new hour"
        );
        assert!(SourceQuota::new(0).take(p, u64::MAX, t0).is_ok());
    }

    #[tokio::test]
    async fn body_budget_refuses_when_spent() {
        let b = BodyBudget::new(100);
        let held = b.reserve(80, Duration::from_millis(10)).await.unwrap();
        assert!(b.reserve(30, Duration::from_millis(10)).await.is_none());
        drop(held);
        assert!(b.reserve(30, Duration::from_millis(10)).await.is_some());
    }
}
