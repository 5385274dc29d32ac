//! `pigeon recv --follow`: long-poll every relay at once and process pages as they come.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{PAGE, Receiver};
use crate::client::RelayError;
use crate::wire::FetchReply;

/// Seconds a long poll waits on the relay.
const LONG_POLL: u64 = 25;
/// `--follow`: first retry of a failed `--exec`, and the longest wait between retries.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(300);

impl Receiver {
    /// Long-polls every relay from its own thread and processes pages as they come; a relay
    /// that goes away is retried with backoff. Runs until stdout closes or a fatal error.
    pub(super) fn follow(&mut self, relays: &[String]) -> Result<()> {
        let (tx, rx) = mpsc::channel::<(String, Result<FetchReply, RelayError>)>();
        for relay in relays {
            let (tx, client, key) = (tx.clone(), self.client.clone(), self.mailbox_key().clone());
            let relay = relay.clone();
            let mut cursor = self.cursor(&relay);
            std::thread::spawn(move || {
                let mut backoff = 1;
                loop {
                    let started = Instant::now();
                    let res = client.fetch(&relay, &key, cursor, PAGE, LONG_POLL);
                    if let Ok(page) = &res {
                        backoff = 1;
                        match page.envelopes.last() {
                            Some(last) => cursor = cursor.max(last.seq),
                            None => {
                                // The long poll ended with nothing new: ask again, but
                                // never spin if a relay answers at once (no long-poll).
                                if started.elapsed() < Duration::from_secs(1) {
                                    std::thread::sleep(Duration::from_secs(1));
                                }
                                continue;
                            }
                        }
                    }
                    let failed = res.is_err();
                    if tx.send((relay.clone(), res)).is_err() {
                        return;
                    }
                    if failed {
                        std::thread::sleep(Duration::from_secs(backoff));
                        backoff = (backoff * 2).min(60);
                    }
                }
            });
        }
        drop(tx);
        // Said once when a relay starts failing (or fails differently), not on every retry.
        let mut failing: HashMap<String, String> = HashMap::new();
        // Messages whose --exec failed are tried again, with backoff, while this runs.
        let mut retry_in = RETRY_FIRST;
        let mut retry_at = self.exec_failed.then(|| Instant::now() + retry_in);
        loop {
            let got = match retry_at {
                Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            let (relay, res) = match got {
                Ok(r) => r,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.exec_failed = false;
                    self.not_handed.clear();
                    self.hand_over_undelivered()?;
                    retry_in = if self.exec_failed {
                        (retry_in * 2).min(RETRY_MAX)
                    } else {
                        RETRY_FIRST
                    };
                    retry_at = self.exec_failed.then(|| Instant::now() + retry_in);
                    continue;
                }
            };
            match res {
                Ok(page) => {
                    failing.remove(&relay);
                    self.process(&relay, page.envelopes)?;
                    if self.exec_failed && retry_at.is_none() {
                        retry_at = Some(Instant::now() + retry_in);
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    if failing.get(&relay) != Some(&msg) {
                        self.note(&format!("{relay}: {msg} (retrying with backoff)"));
                        failing.insert(relay, msg);
                    }
                }
            }
        }
        Ok(())
    }
}
