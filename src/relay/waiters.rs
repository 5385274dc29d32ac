//! Long-poll readers parked on a mailbox, woken by the writer after each commit that adds
//! to it. A registration per waiting reader; the entry goes when the last one leaves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Per mailbox: the notifier and how many readers wait on it.
type WaitMap = HashMap<[u8; 32], (Arc<Notify>, usize)>;

/// Long-poll readers waiting for a mailbox, woken after each commit that adds to it.
#[derive(Default)]
pub struct Waiters {
    map: Mutex<WaitMap>,
}

/// Holds a registration; dropping it forgets the mailbox when nobody else waits.
pub struct WaitGuard<'a> {
    waiters: &'a Waiters,
    mbox: [u8; 32],
    pub notify: Arc<Notify>,
}

impl Waiters {
    pub fn register(&self, mbox: [u8; 32]) -> WaitGuard<'_> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map
            .entry(mbox)
            .or_insert_with(|| (Arc::new(Notify::new()), 0));
        entry.1 += 1;
        WaitGuard {
            waiters: self,
            mbox,
            notify: entry.0.clone(),
        }
    }

    pub(super) fn wake(&self, mboxes: &[[u8; 32]]) {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return;
        }
        for m in mboxes {
            if let Some((n, _)) = map.get(m) {
                n.notify_waiters();
            }
        }
    }
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.waiters.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = map.get_mut(&self.mbox) {
            e.1 -= 1;
            if e.1 == 0 {
                map.remove(&self.mbox);
            }
        }
    }
}
