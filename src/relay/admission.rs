//! Who may post (password, tokens), and what happens to sources that keep failing: after
//! `max_failures` failed attempts a lockout, after `max_lockouts` lockouts a block that is
//! kept in the database until `pigeon serve unblock`. Every lockout, block and unblock is a
//! JSON event on stderr and runs the operator's hook.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::limits::Peer;
use super::storage::now;

/// A token: `pgt1.<label, base64url>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`.
const TOKEN_PREFIX: &str = "pgt1";
/// Hooks running at once, at most; more events are logged without running it.
const MAX_HOOKS: usize = 4;
const HOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// A source's strikes are forgotten after this long without a failure.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Sources with strikes kept at most; an attacker with more addresses than this gains
/// nothing by it that the addresses did not give them already.
const MAX_STRIKES: usize = 100_000;

fn mac(secret: &[u8; 32], label: &str, expires: u64) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(format!("pigeon-token-v1\n{label}\n{expires}").as_bytes());
    m
}

/// Makes a posting token for `label`, valid until `expires` (unix seconds).
pub fn make_token(secret: &[u8; 32], label: &str, expires: u64) -> String {
    let tag = mac(secret, label, expires).finalize().into_bytes();
    format!(
        "{TOKEN_PREFIX}.{}.{expires}.{}",
        B64URL.encode(label),
        B64URL.encode(tag)
    )
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not made with this relay's secret (or damaged): counts as a failed attempt.
    Forged,
    /// Genuine, but past its expiry.
    Expired,
}

/// Checks a token; returns its label.
pub fn verify_token(secret: &[u8; 32], token: &str, now: u64) -> Result<String, TokenError> {
    let mut parts = token.split('.');
    let (Some(TOKEN_PREFIX), Some(label), Some(expires), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(TokenError::Forged);
    };
    let label = B64URL
        .decode(label)
        .ok()
        .and_then(|l| String::from_utf8(l).ok())
        .ok_or(TokenError::Forged)?;
    let expires: u64 = expires.parse().map_err(|_| TokenError::Forged)?;
    let tag = B64URL.decode(tag).map_err(|_| TokenError::Forged)?;
    mac(secret, &label, expires)
        .verify_slice(&tag)
        .map_err(|_| TokenError::Forged)?;
    if now >= expires {
        return Err(TokenError::Expired);
    }
    Ok(label)
}

/// The answer to "may this request post?".
#[derive(Debug, PartialEq, Eq)]
pub enum Credential {
    Ok,
    /// No credential given where one is needed.
    Missing,
    /// A wrong password or forged token: a failed attempt.
    Bad,
    Expired,
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

#[derive(Debug)]
struct Strikes {
    failures: u32,
    lockouts: u32,
    locked_until: Option<Instant>,
    last: Instant,
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

    /// Whether the source may make requests at all right now.
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

/// The strikes of `k`, made when new. A full table first forgets entries quiet for a day,
/// then the least harmful one (not locked out, fewest failures, oldest): it never stops
/// counting, so an attacker cannot fill it to make its own failures free.
fn strike_entry<K: std::hash::Hash + Eq + Copy>(
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
    });
    s.last = now;
    s
}

/// Addresses as stored in the blocks table; a row that does not parse is ignored.
fn parse_peers(addrs: HashSet<String>) -> impl Iterator<Item = Peer> {
    addrs.into_iter().filter_map(|a| Peer::parse(&a))
}

/// Runs `sh -c CMD` with `line` on stdin on its own thread, killed after [`HOOK_TIMEOUT`].
fn run_hook(cmd: String, line: String, running: std::sync::Arc<AtomicUsize>) {
    if running.fetch_add(1, Ordering::SeqCst) >= MAX_HOOKS {
        running.fetch_sub(1, Ordering::SeqCst);
        eprintln!("pigeon relay: {MAX_HOOKS} event hooks still running; not starting another");
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("pigeon-hook".into())
        .spawn(move || {
            let result = (|| -> std::io::Result<()> {
                let mut child = Command::new("sh")
                    .arg("-c")
                    .arg(&cmd)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()?;
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = writeln!(stdin, "{line}");
                }
                let deadline = Instant::now() + HOOK_TIMEOUT;
                loop {
                    if let Some(status) = child.try_wait()? {
                        if !status.success() {
                            eprintln!("pigeon relay: event hook exited with {status}");
                        }
                        return Ok(());
                    }
                    if Instant::now() >= deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        eprintln!("pigeon relay: event hook killed after {HOOK_TIMEOUT:?}");
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })();
            if let Err(e) = result {
                eprintln!("pigeon relay: cannot run the event hook: {e}");
            }
            running.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        eprintln!("pigeon relay: cannot start a thread for the event hook");
    }
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
    fn tokens_verify_expire_and_resist_forgery() {
        let s = [5u8; 32];
        let t = make_token(&s, "bob", 2000);
        assert_eq!(verify_token(&s, &t, 1000), Ok("bob".into()));
        assert_eq!(verify_token(&s, &t, 2000), Err(TokenError::Expired));
        assert_eq!(verify_token(&[6u8; 32], &t, 1000), Err(TokenError::Forged));
        // Moving the expiry or the label breaks the MAC.
        let later = t.replace(".2000.", ".9999.");
        assert_eq!(verify_token(&s, &later, 1000), Err(TokenError::Forged));
        let eve = make_token(&s, "eve", 2000);
        let swapped = format!(
            "{}.{}",
            eve.rsplit_once('.').unwrap().0,
            t.rsplit_once('.').unwrap().1
        );
        assert_eq!(verify_token(&s, &swapped, 1000), Err(TokenError::Forged));
        assert_eq!(verify_token(&s, "pgt1.x", 1000), Err(TokenError::Forged));
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
