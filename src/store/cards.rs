//! Cards whose signatures verified: their digests, so a pinned card is verified once, not
//! on every `send --group` to its owner (`card::verify_pinned_card_once`).

use std::collections::HashSet;

use anyhow::Result;
use rusqlite::params;

use super::Store;
use crate::card::CardDigest;

impl Store {
    /// Every card digest remembered as verified.
    pub fn checked_cards(&self) -> Result<HashSet<CardDigest>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT digest FROM checked_cards")?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = HashSet::new();
        for d in rows {
            if let Ok(d) = CardDigest::try_from(d?.as_slice()) {
                out.insert(d);
            }
        }
        Ok(out)
    }

    /// Remembers cards just verified (one transaction; known ones are left as they are).
    pub fn remember_checked_cards(&mut self, digests: &[CardDigest]) -> Result<()> {
        if digests.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT OR IGNORE INTO checked_cards (digest) VALUES (?1)")?;
            for d in digests {
                stmt.execute(params![d.as_slice()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_digests_come_back_once() {
        let mut s = Store::in_memory().unwrap();
        assert!(s.checked_cards().unwrap().is_empty());
        let (a, b) = ([1u8; 32], [2u8; 32]);
        s.remember_checked_cards(&[a, b, a]).unwrap();
        s.remember_checked_cards(&[a]).unwrap();
        let got = s.checked_cards().unwrap();
        assert_eq!(got, HashSet::from([a, b]));
    }
}
