//! Strike tables: failures and lockouts per key (a source, or a source and a mailbox key),
//! bounded in size without ever ceasing to count.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A source's strikes are forgotten after this long without a failure.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Sources with strikes kept at most; an attacker with more addresses than this gains
/// nothing by it that the addresses did not give them already.
pub const MAX_STRIKES: usize = 100_000;

#[derive(Debug)]
pub struct Strikes {
    pub failures: u32,
    pub lockouts: u32,
    pub locked_until: Option<Instant>,
    pub last: Instant,
    /// When the current lockout was recorded in the database (`relay::operator`), so a
    /// lockout the operator lifted there can be told from one not written yet.
    pub recorded: Option<Instant>,
}

/// The strikes of `k`, made when new. A full table first forgets entries quiet for a day,
/// then the least harmful one (not locked out, fewest failures, oldest): it never stops
/// counting, so an attacker cannot fill it to make its own failures free.
pub fn strike_entry<K: std::hash::Hash + Eq + Copy>(
    map: &mut HashMap<K, Strikes>,
    k: K,
    now: Instant,
) -> &mut Strikes {
    if map.len() >= MAX_STRIKES && !map.contains_key(&k) {
        map.retain(|_, s| now.saturating_duration_since(s.last) < FORGET_AFTER);
        if map.len() >= MAX_STRIKES {
            let victim = map
                .iter()
                .min_by_key(|(_, s)| {
                    let locked = s.locked_until.is_some_and(|u| u > now);
                    (locked, s.lockouts, s.failures, s.last)
                })
                .map(|(k, _)| *k);
            if let Some(v) = victim {
                map.remove(&v);
            }
        }
    }
    let s = map.entry(k).or_insert(Strikes {
        failures: 0,
        lockouts: 0,
        locked_until: None,
        last: now,
        recorded: None,
    });
    s.last = now;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_strike_table_forgets_the_least_harmful_not_the_attacker() {
        let mut map: HashMap<u32, Strikes> = HashMap::new();
        let t = Instant::now();
        for i in 0..MAX_STRIKES as u32 {
            strike_entry(&mut map, i, t).failures = 1;
        }
        let a = strike_entry(&mut map, 7, t);
        a.failures = 2;
        a.locked_until = Some(t + Duration::from_secs(60));
        strike_entry(&mut map, 8, t).failures = 2;
        // A newcomer takes the place of one with one failure, never the locked one.
        strike_entry(&mut map, u32::MAX, t).failures = 1;
        assert_eq!(map.len(), MAX_STRIKES);
        assert!(map.contains_key(&7) && map.contains_key(&8));
        assert!(map.contains_key(&u32::MAX));
    }
}
