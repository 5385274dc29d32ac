//! Who may post (password, tokens), and what happens to sources that keep failing: after
//! `max_failures` failed attempts a lockout, after `max_lockouts` lockouts a block that is
//! kept in the database until `pigeon serve unblock`. Every lockout, block and unblock is a
//! JSON event on stderr and runs the operator's hook.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::hooks::run_hook;
use super::limits::Peer;
use super::storage::now;
use super::strikes::{FORGET_AFTER, Strikes, strike_entry};
pub use super::tokens::{TOKEN_PREFIX, TokenError, make_token, verify_token};

/// The answer to "may this request post?".
#[derive(Debug, PartialEq, Eq)]
pub enum Credential {
    Ok,
    /// No credential given where one is needed.
    Missing,
    /// A wrong password or forged token: a failed attempt.
    Bad,
    Expired,
    /// A genuine token the operator revoked (`pigeon serve revoke`).
    Revoked,
}

/// Why a source may not come in at all.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    Blocked,
    /// Locked out for this many more seconds.
    Locked(u64),
}

/// What a failure led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Escalation {
    None,
    Lockout,
    Block,
}

pub struct Admission {
    password: Option<[u8; 32]>,
    require_token: bool,
    secret: [u8; 32],
    max_failures: u32,
    lockout: Duration,
    max_lockouts: u32,
    strikes: Mutex<HashMap<Peer, Strikes>>,
    /// Bad signatures, per source and claimed key: see [`Admission::key_failure`].
    key_strikes: Mutex<HashMap<(Peer, [u8; 32]), Strikes>>,
    /// Blocked sources, with when this process learnt of the block.
    blocked: Mutex<HashMap<Peer, Instant>>,
    /// SHA-256 (hex) of the tokens the operator revoked.
    revoked: Mutex<HashSet<String>>,
    on_event: Option<String>,
    hooks_running: std::sync::Arc<AtomicUsize>,
}

#[derive(Debug, Clone)]
pub struct AdmissionConfig {
    pub password: Option<String>,
    pub require_token: bool,
    pub secret: [u8; 32],
    pub max_failures: u32,
    pub lockout: Duration,
    pub max_lockouts: u32,
    pub on_event: Option<String>,
}

impl Admission {
    pub fn new(c: AdmissionConfig, blocked: HashSet<String>) -> Admission {
        let t = Instant::now();
        Admission {
            // Compare digests, not the secrets: equal length, and no early exit on content.
            password: c.password.map(|p| Sha256::digest(p.as_bytes()).into()),
            require_token: c.require_token,
            secret: c.secret,
            max_failures: c.max_failures,
            lockout: c.lockout,
            max_lockouts: c.max_lockouts,
            strikes: Mutex::new(HashMap::new()),
            key_strikes: Mutex::new(HashMap::new()),
            blocked: Mutex::new(parse_peers(blocked).map(|p| (p, t)).collect()),
            revoked: Mutex::new(HashSet::new()),
            on_event: c.on_event,
            hooks_running: Default::default(),
        }
    }

    /// Checks `Authorization: Bearer …` for posting.
    pub fn check_post(&self, bearer: Option<&str>) -> Credential {
        if self.password.is_none() && !self.require_token {
            return Credential::Ok;
        }
        let Some(given) = bearer.filter(|b| !b.is_empty()) else {
            return Credential::Missing;
        };
        if given.starts_with(TOKEN_PREFIX) && given.contains('.') {
            return match verify_token(&self.secret, given, now()) {
                Ok(_) if self.is_revoked(given) => Credential::Revoked,
                Ok(_) => Credential::Ok,
                Err(TokenError::Expired) => Credential::Expired,
                Err(TokenError::Forged) => Credential::Bad,
            };
        }
        match &self.password {
            Some(pw) if !self.require_token => {
                let d: [u8; 32] = Sha256::digest(given.as_bytes()).into();
                if d.iter().zip(pw).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0 {
                    Credential::Ok
                } else {
                    Credential::Bad
                }
            }
            _ => Credential::Bad,
        }
    }

    /// Whether the source is blocked (every request refused).
    pub fn is_blocked(&self, peer: Peer) -> bool {
        self.lock_blocked().contains_key(&peer)
    }

    /// Whether the source may post right now (not blocked, not locked out).
    pub fn gate(&self, peer: Peer, now: Instant) -> Result<(), Gate> {
        if self.lock_blocked().contains_key(&peer) {
            return Err(Gate::Blocked);
        }
        let strikes = self.strikes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = strikes.get(&peer).and_then(|s| s.locked_until)
            && until > now
        {
            return Err(Gate::Locked(
                (until - now).as_secs_f64().ceil().max(1.0) as u64
            ));
        }
        Ok(())
    }

    /// Whether `peer` may try signed requests with `key` now: a (source, key) pair locked
    /// out by [`Admission::key_failure`] is refused, other keys from the same source are not.
    pub fn key_gate(&self, peer: Peer, key: &[u8; 32], now: Instant) -> Result<(), Gate> {
        let map = self.key_strikes.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&(peer, *key)).and_then(|s| s.locked_until) {
            Some(until) if until > now => Err(Gate::Locked(
                (until - now).as_secs_f64().ceil().max(1.0) as u64,
            )),
            _ => Ok(()),
        }
    }

    /// Counts a bad signature by `key` from `peer`; true when it locks the pair out.
    ///
    /// A bad signature proves nothing about the source's other users: anyone can make a
    /// throwaway key. So it costs only that (source, key) pair, never the whole source (behind
    /// a NAT or a proxy that would lock out everyone there). Guessing stays bounded: an
    /// Ed25519 signature cannot be guessed anyway, each pair gets `max_failures` tries per
    /// `lockout`, and the rate limit bounds how many keys a source can try.
    pub fn key_failure(&self, peer: Peer, key: &[u8; 32], now: Instant) -> bool {
        let mut map = self.key_strikes.lock().unwrap_or_else(|e| e.into_inner());
        let s = strike_entry(&mut map, (peer, *key), now);
        s.failures += 1;
        if s.failures < self.max_failures {
            return false;
        }
        s.failures = 0;
        s.lockouts += 1;
        s.locked_until = Some(now + self.lockout);
        drop(map);
        self.event_with(
            "lockout",
            &peer.to_string(),
            Some(self.lockout.as_secs()),
            Some(&hex::encode(key)),
        );
        true
    }

    /// Checks a posting credential from `peer` and counts it when bad, in one step under
    /// the strikes lock: concurrent guesses cannot all pass the gate before the first
    /// failure is counted, so at most `max_failures` guesses are answered per lockout.
    /// `Err` when the source is locked out (the guess is not even looked at).
    pub fn check_post_from(
        &self,
        peer: Peer,
        bearer: Option<&str>,
        now: Instant,
    ) -> Result<(Credential, Escalation), Gate> {
        if self.password.is_none() && !self.require_token {
            return Ok((Credential::Ok, Escalation::None));
        }
        let mut map = self.strikes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = map.get(&peer).and_then(|s| s.locked_until)
            && until > now
        {
            return Err(Gate::Locked(
                (until - now).as_secs_f64().ceil().max(1.0) as u64
            ));
        }
        let cred = self.check_post(bearer);
        if cred != Credential::Bad {
            return Ok((cred, Escalation::None));
        }
        let esc = self.count_failure(&mut map, peer, now);
        drop(map);
        if esc == Escalation::Lockout {
            self.event("lockout", &peer.to_string(), Some(self.lockout.as_secs()));
        }
        Ok((cred, esc))
    }

    /// Counts a failed attempt. On `Block` the caller persists the block, then calls
    /// [`Admission::blocked_now`].
    pub fn failure(&self, peer: Peer, now: Instant) -> Escalation {
        let mut map = self.strikes.lock().unwrap_or_else(|e| e.into_inner());
        let esc = self.count_failure(&mut map, peer, now);
        drop(map);
        if esc == Escalation::Lockout {
            self.event("lockout", &peer.to_string(), Some(self.lockout.as_secs()));
        }
        esc
    }

    fn count_failure(
        &self,
        map: &mut HashMap<Peer, Strikes>,
        peer: Peer,
        now: Instant,
    ) -> Escalation {
        let s = strike_entry(map, peer, now);
        s.failures += 1;
        if s.failures < self.max_failures {
            return Escalation::None;
        }
        s.failures = 0;
        s.lockouts += 1;
        s.locked_until = Some(now + self.lockout);
        s.recorded = None;
        if s.lockouts >= self.max_lockouts {
            map.remove(&peer);
            return Escalation::Block;
        }
        Escalation::Lockout
    }

    /// Records a block that is now in the database.
    pub fn blocked_now(&self, peer: Peer) {
        self.lock_blocked().insert(peer, Instant::now());
        self.event("block", &peer.to_string(), None);
    }

    /// Brings the in-memory blocks in line with the database, read at `read_started`: a
    /// block that is gone from it was lifted by `pigeon serve unblock`.
    pub fn sync_blocks(&self, in_db: HashSet<String>, read_started: Instant) {
        let in_db: HashSet<Peer> = parse_peers(in_db).collect();
        let mut lifted = Vec::new();
        {
            let mut blocked = self.lock_blocked();
            // A block recorded after the read started may simply not have been visible to it.
            blocked.retain(|peer, since| {
                let keep = in_db.contains(peer) || *since >= read_started;
                if !keep {
                    lifted.push(*peer);
                }
                keep
            });
            for peer in in_db {
                blocked.entry(peer).or_insert(read_started);
            }
        }
        for peer in lifted {
            self.strikes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&peer);
            self.event("unblock", &peer.to_string(), None);
        }
    }

    fn is_revoked(&self, token: &str) -> bool {
        let revoked = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        !revoked.is_empty() && revoked.contains(&super::operator::token_digest(token))
    }

    /// The revoked tokens, as the database lists them now.
    pub fn sync_revoked(&self, in_db: HashSet<String>) {
        *self.revoked.lock().unwrap_or_else(|e| e.into_inner()) = in_db;
    }

    /// When `peer`'s lockout ends (unix seconds) and how many it has had: what the relay
    /// records for `pigeon serve blocks`. `None` when it is not locked out.
    pub fn lockout_of(&self, peer: Peer, now_i: Instant) -> Option<(u64, u32)> {
        let map = self.strikes.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.get(&peer)?;
        let until = s.locked_until.filter(|u| *u > now_i)?;
        Some((now() + (until - now_i).as_secs().max(1), s.lockouts))
    }

    /// Notes that `peer`'s lockout is now in the database.
    pub fn lockout_recorded(&self, peer: Peer) {
        let mut map = self.strikes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get_mut(&peer) {
            s.recorded = Some(Instant::now());
        }
    }

    /// Lifts the lockouts the operator deleted from the database (`pigeon serve unblock`):
    /// one recorded before the read started and missing from `in_db`.
    pub fn sync_lockouts(&self, in_db: HashSet<String>, read_started: Instant) {
        let in_db: HashSet<Peer> = parse_peers(in_db).collect();
        let now_i = Instant::now();
        let mut lifted = Vec::new();
        {
            let mut map = self.strikes.lock().unwrap_or_else(|e| e.into_inner());
            for (peer, s) in map.iter_mut() {
                let locked = s.locked_until.is_some_and(|u| u > now_i);
                if locked && s.recorded.is_some_and(|r| r < read_started) && !in_db.contains(peer) {
                    s.locked_until = None;
                    s.failures = 0;
                    s.recorded = None;
                    lifted.push(*peer);
                }
            }
        }
        for peer in lifted {
            self.event("unlock", &peer.to_string(), None);
        }
    }

    /// Forgets strikes of sources quiet for a day.
    pub fn prune(&self, now: Instant) {
        self.strikes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, s| now.saturating_duration_since(s.last) < FORGET_AFTER);
        self.key_strikes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, s| now.saturating_duration_since(s.last) < FORGET_AFTER);
    }

    fn lock_blocked(&self) -> std::sync::MutexGuard<'_, HashMap<Peer, Instant>> {
        self.blocked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs an event line on stderr and runs the hook with it on stdin.
    fn event(&self, event: &str, addr: &str, lockout_secs: Option<u64>) {
        self.event_with(event, addr, lockout_secs, None);
    }

    fn event_with(&self, event: &str, addr: &str, lockout_secs: Option<u64>, key: Option<&str>) {
        let mut v = serde_json::json!({"type": "event", "event": event, "addr": addr, "ts": now()});
        if let Some(s) = lockout_secs {
            v["lockout_secs"] = s.into();
        }
        if let Some(k) = key {
            v["key"] = k.into();
        }
        let line = v.to_string();
        eprintln!("{line}");
        if let Some(cmd) = &self.on_event {
            run_hook(cmd.clone(), line, self.hooks_running.clone());
        }
    }
}

/// Addresses as stored in the blocks table; a row that does not parse is ignored.
fn parse_peers(addrs: HashSet<String>) -> impl Iterator<Item = Peer> {
    addrs.into_iter().filter_map(|a| Peer::parse(&a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adm(password: Option<&str>, require_token: bool) -> Admission {
        Admission::new(
            AdmissionConfig {
                password: password.map(Into::into),
                require_token,
                secret: [5u8; 32],
                max_failures: 3,
                lockout: Duration::from_secs(60),
                max_lockouts: 2,
                on_event: None,
            },
            HashSet::new(),
        )
    }

    #[test]
    fn credentials_by_mode() {
        assert_eq!(adm(None, false).check_post(None), Credential::Ok);
        let a = adm(Some("pw"), false);
        assert_eq!(a.check_post(None), Credential::Missing);
        assert_eq!(a.check_post(Some("pw")), Credential::Ok);
        assert_eq!(a.check_post(Some("pw2")), Credential::Bad);
        let tok = make_token(&[5u8; 32], "bob", now() + 60);
        assert_eq!(a.check_post(Some(&tok)), Credential::Ok);
        let t = adm(Some("pw"), true);
        assert_eq!(t.check_post(Some("pw")), Credential::Bad, "token only");
        assert_eq!(t.check_post(Some(&tok)), Credential::Ok);
        let old = make_token(&[5u8; 32], "bob", now() - 1);
        assert_eq!(t.check_post(Some(&old)), Credential::Expired);
    }

    #[test]
    fn bad_signatures_lock_out_the_source_and_key_pair_only() {
        let a = adm(None, false);
        let p = Peer::parse("192.0.2.9").unwrap();
        let t = Instant::now();
        assert!(!a.key_failure(p, &[1; 32], t));
        assert!(!a.key_failure(p, &[1; 32], t));
        assert!(a.key_failure(p, &[1; 32], t));
        assert_eq!(a.key_gate(p, &[1; 32], t), Err(Gate::Locked(60)));
        assert_eq!(a.key_gate(p, &[2; 32], t), Ok(()));
        assert_eq!(a.gate(p, t), Ok(()), "the source itself is not locked");
        let other = Peer::parse("192.0.2.10").unwrap();
        assert_eq!(a.key_gate(other, &[1; 32], t), Ok(()));
    }

    #[test]
    fn failures_lock_out_then_block_and_unblock_clears() {
        let a = adm(None, false);
        let p = Peer::parse("192.0.2.9").unwrap();
        let t = Instant::now();
        assert_eq!(a.failure(p, t), Escalation::None);
        assert_eq!(a.failure(p, t), Escalation::None);
        assert_eq!(a.failure(p, t), Escalation::Lockout);
        assert_eq!(a.gate(p, t), Err(Gate::Locked(60)));
        let later = t + Duration::from_secs(61);
        assert_eq!(a.gate(p, later), Ok(()));
        for _ in 0..2 {
            a.failure(p, later);
        }
        assert_eq!(a.failure(p, later), Escalation::Block);
        a.blocked_now(p);
        assert_eq!(a.gate(p, later), Err(Gate::Blocked));
        // A read that started before the block was recorded does not lift it...
        a.sync_blocks(HashSet::new(), t);
        assert_eq!(a.gate(p, later), Err(Gate::Blocked));
        // ...one that started after it and does not see it does.
        a.sync_blocks(HashSet::new(), Instant::now() + Duration::from_millis(1));
        assert_eq!(a.gate(p, later), Ok(()));
    }
}
