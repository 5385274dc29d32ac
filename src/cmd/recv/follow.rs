//! `pigeon recv --follow`: long-poll every relay at once and process pages as they come.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{PAGE, Receiver};
use crate::client::RelayError;
use crate::wire::FetchReply;

/// What a relay's poll thread hands over: the relay, and a page or why there is none.
type Polled = (String, Result<FetchReply, RelayError>);

/// Seconds a long poll waits on the relay.
const LONG_POLL: u64 = 25;
/// `--follow`: first retry of a failed `--exec`, and the longest wait between retries.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(300);

impl Receiver {
    /// Long-polls every relay from its own thread and processes pages as they come; a relay
    /// that goes away is retried with backoff. Runs until stdout closes or a fatal error.
    pub(super) fn follow(&mut self, relays: &[String]) -> Result<()> {
        // Bounded: a relay thread waits while pages are being handed over.
        let (tx, rx) = mpsc::sync_channel::<Polled>(1);
        for relay in relays {
            let (tx, client, key) = (tx.clone(), self.client.clone(), self.mailbox_key().clone());
            let relay = relay.clone();
            let cursor = self.cursor(&relay);
            let instance = self.store.cursor_instance(&relay, &self.id.meta.mailbox)?;
            std::thread::spawn(move || poll(&relay, &client, &key, cursor, instance, &tx));
        }
        drop(tx);
        // Said once when a relay starts failing (or fails differently), not on every retry.
        let mut failing: HashMap<String, String> = HashMap::new();
        // Messages whose --exec failed are tried again, with backoff, while this runs.
        let mut retry_in = RETRY_FIRST;
        let mut retry_at = (!self.exec_failed.is_empty()).then(|| Instant::now() + retry_in);
        loop {
            let got = match retry_at {
                Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            let (relay, res) = match got {
                Ok(r) => r,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.retry_failed_execs()?;
                    let again = !self.exec_failed.is_empty();
                    retry_in = if again {
                        (retry_in * 2).min(RETRY_MAX)
                    } else {
                        RETRY_FIRST
                    };
                    retry_at = again.then(|| Instant::now() + retry_in);
                    continue;
                }
            };
            match res {
                Ok(page) => {
                    if failing.remove(&relay).is_some() {
                        self.note(&format!("{relay}: reachable again"));
                    }
                    self.note_instance(&relay, page.instance.as_deref())?;
                    self.process(&relay, page.envelopes)?;
                    if self.release_due(&relay) {
                        self.release_kept(&relay);
                    }
                    if !self.exec_failed.is_empty() && retry_at.is_none() {
                        retry_at = Some(Instant::now() + retry_in);
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    if failing.get(&relay) != Some(&msg) {
                        // A relay that is down or busy comes back by itself; anything else
                        // (refused signature, wrong key, a bad answer) needs a person.
                        self.warn(
                            &format!("{relay}: {msg} (retrying with backoff)"),
                            e.is_transient(),
                        );
                        failing.insert(relay, msg);
                    }
                }
            }
        }
        Ok(())
    }

    /// Hands over again the messages whose `--exec` failed (not the ones held back).
    fn retry_failed_execs(&mut self) -> Result<()> {
        let keys = std::mem::take(&mut self.exec_failed);
        let mut pending = Vec::new();
        for m in self.store.undelivered()? {
            let key = (m.sender, m.id);
            if keys.contains(&key) {
                pending.push((key, serde_json::from_str(&m.json)?));
            }
        }
        self.not_handed.clear();
        self.hand_over_all(pending)
    }
}

/// One relay's long-poll loop, run on its own thread until the receiver goes away. Sends
/// pages with envelopes, errors, and an empty page on the first success after an error
/// (so the receiver knows the relay is back).
fn poll(
    relay: &str,
    client: &crate::client::Client,
    key: &ed25519_dalek::SigningKey,
    mut cursor: u64,
    mut instance: Option<String>,
    tx: &mpsc::SyncSender<Polled>,
) {
    let mut backoff = 1;
    let mut was_failing = false;
    loop {
        let started = Instant::now();
        // Right after an error, ask without waiting, so the way back is noticed at once.
        let wait = if was_failing { 0 } else { LONG_POLL };
        let res = client.fetch(relay, key, cursor, PAGE, wait);
        let send = match &res {
            Ok(page) if page.instance.is_some() && page.instance != instance => {
                // The relay's database was recreated: its seqs start again.
                let known = instance.is_some();
                instance = page.instance.clone();
                if known && cursor > 0 {
                    cursor = 0;
                    // A relay that changes its instance on every answer must not make
                    // this loop spin.
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
                backoff = 1;
                was_failing = false;
                let last = page.envelopes.iter().map(|e| e.seq).max().unwrap_or(0);
                cursor = cursor.max(last);
                true
            }
            Ok(page) => {
                backoff = 1;
                let last = page.envelopes.iter().map(|e| e.seq).max().unwrap_or(0);
                let progress = last > cursor;
                cursor = cursor.max(last);
                if !progress && started.elapsed() < Duration::from_secs(1) {
                    // Nothing new (the long poll ended, or a relay that does not
                    // long-poll answered at once): ask again, but never spin.
                    std::thread::sleep(Duration::from_secs(1));
                }
                progress || std::mem::take(&mut was_failing)
            }
            Err(_) => {
                was_failing = true;
                true
            }
        };
        let failed = res.is_err();
        if send && tx.send((relay.to_string(), res)).is_err() {
            return;
        }
        if failed {
            std::thread::sleep(Duration::from_secs(backoff));
            backoff = (backoff * 2).min(60);
        }
    }
}
