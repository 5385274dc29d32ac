//! Relays I moved away from: `recv` reads them like the others, and once one has been
//! draining for `drain_for` and holds nothing more for me, it leaves my card.

use anyhow::Result;

use super::Receiver;
use crate::cmd::Ctx;

impl Receiver {
    /// Drops from my card the draining relays among `drained` (read to the end in this
    /// run) that are now empty and have been draining at least `drain_for` seconds.
    /// Senders with an old card may post there until then; after it, what they post
    /// fails and makes them fetch my new card.
    pub(super) fn retire_drained(
        &mut self,
        ctx: &Ctx,
        drained: &[String],
        drain_for: u64,
    ) -> Result<()> {
        if self.keep {
            return Ok(());
        }
        let now = crate::keys::now();
        let key = self.mailbox_key().clone();
        let mut retired = Vec::new();
        for relay in drained {
            let Some(&since) = self.id.meta.draining.get(relay) else {
                continue;
            };
            if since.saturating_add(drain_for) > now {
                continue;
            }
            // Empty means empty now, after this run's acknowledgements: a message that was
            // held back or whose --exec failed is still there and keeps the relay.
            match self.client.fetch(relay, &key, 0, 1, 0) {
                Ok(page) if page.envelopes.is_empty() => retired.push(relay.clone()),
                Ok(_) => {}
                Err(e) => self.note(&format!("{relay}: {e}")),
            }
        }
        if retired.is_empty() {
            return Ok(());
        }
        // Read again under the lock's protection from other recvs, but `relay add` may
        // have run meanwhile: change only what this decided.
        let mut meta = crate::keys::IdentityMeta::load(&ctx.home)?;
        for relay in &retired {
            meta.draining.remove(relay);
        }
        meta.bump();
        meta.save(&ctx.home)?;
        self.id.meta = meta;
        for relay in &retired {
            self.warn(
                &format!(
                    "{relay} is drained (empty, and draining for long enough): dropped from \
                     your card; announce it with `pigeon tracker announce`"
                ),
                false,
            );
        }
        Ok(())
    }
}
