//! One fetched page: open and check each envelope, archive what passed with the cursor,
//! hand it over, then acknowledge. Memory is bounded: envelopes are opened a few at a
//! time, each message's plaintext is capped, and the archive is committed (and the relay
//! acknowledged) whenever what is held reaches [`BATCH_BYTES`].

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::Receiver;
use crate::cmd::handover::path_string;
use crate::cmd::show::{SavedFile, message_json};
use crate::crypto::Kind;
use crate::error::Exit;
use crate::keys::now;
use crate::message::{self, Sender, Unsealed, Verified};
use crate::store::Archived;
use crate::wire::StoredEnvelope;

/// Bytes of archived messages (body and JSON) held before they are committed, handed over
/// and acknowledged, even in the middle of a page.
const BATCH_BYTES: usize = 8 << 20;

mod group;

/// A message that passed every check, with its attachments decoded.
pub(super) struct Accepted {
    v: Box<Verified>,
    files: Vec<Vec<u8>>,
}

/// Attachments one message may have (each gets a file; names must stay unique in its
/// folder without running out of `N-name` variants).
const MAX_FILES: usize = 256;

/// What has been opened but not yet committed.
#[derive(Default)]
struct Batch {
    /// The highest seq seen; every envelope up to it is archived or rejected in the batch.
    last_seq: u64,
    rows: Vec<(Archived, Value, u64)>,
    rejected: Vec<(String, String)>,
    bytes: usize,
    /// Senders of each id in `rows` (the archive does not have them yet).
    ids: HashMap<String, Vec<String>>,
}

/// What becomes of a message that passed its own checks.
enum Verdict {
    /// Archived before from the same sender: skipped (and acknowledged).
    Replay,
    New(Accepted),
    Refused(anyhow::Error),
}

impl Receiver {
    /// Verifies and decrypts a page and archives it with the cursor (in one transaction per
    /// batch), hands the new messages over, then acknowledges to the relay. A message that
    /// fails a check is rejected (logged, acknowledged, never shown as good); a local
    /// failure (disk, stdout) returns before the cursor moves or anything is acknowledged.
    pub(super) fn process(&mut self, relay: &str, envelopes: Vec<StoredEnvelope>) -> Result<()> {
        if envelopes.is_empty() {
            return Ok(());
        }
        // One envelope per core at a time for OpenPGP (compression makes its plaintext
        // unknown until read); age plaintext is never larger than its ciphertext.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = match self.id.secret.kind() {
            Kind::Pgp => cores,
            Kind::Age => cores * 16,
        };
        let mut batch = Batch::default();
        let mut rest = &envelopes[..];
        while !rest.is_empty() {
            let (envs, tail) = rest.split_at(self.chunk_len(rest, chunk));
            rest = tail;
            let results = self.open_all(envs);
            for (env, result) in envs.iter().zip(results) {
                batch.last_seq = batch.last_seq.max(env.seq);
                // Errors of the message are a verdict; errors here (the archive, the
                // contacts on disk) are local and stop the run with `?`.
                let verdict = match result.and_then(|u| accept(env, u, self.max_file_size)) {
                    Ok(a) => self.conflict(a, &batch.ids)?,
                    Err(e) => Verdict::Refused(e),
                };
                let verdict = self.group_rules(verdict)?;
                match verdict {
                    Verdict::Replay => {}
                    Verdict::New(a) => {
                        let (row, msg) = self.archive_row(a)?;
                        batch.bytes += row.body.len() + row.json.len();
                        batch
                            .ids
                            .entry(row.id.clone())
                            .or_default()
                            .push(row.sender.clone());
                        batch.rows.push((row, msg, env.seq));
                    }
                    Verdict::Refused(e) => {
                        let reason = crate::output::one_line(&format!("{e:#}"));
                        self.reject(relay, env, &reason)?;
                        batch.rejected.push((shown_id(&env.id), reason));
                    }
                }
            }
            if batch.bytes >= BATCH_BYTES {
                self.commit(relay, std::mem::take(&mut batch))?;
            }
        }
        self.commit(relay, batch)
    }

    fn reject(&mut self, relay: &str, env: &StoredEnvelope, reason: &str) -> Result<()> {
        let id = shown_id(&env.id);
        if self.show_rejected {
            crate::cmd::emit(&json!({"type": "rejected", "relay": relay, "seq": env.seq,
                "id": id, "reason": reason}))?;
        }
        eprintln!("pigeon: rejected message {id} from {relay}: {reason}");
        self.rejected += 1;
        Ok(())
    }

    /// Archives a batch with the cursor, hands the new messages over, acknowledges.
    fn commit(&mut self, relay: &str, batch: Batch) -> Result<()> {
        if batch.last_seq == 0 {
            return Ok(());
        }
        let mailbox = self.id.meta.mailbox.clone();
        let rows: Vec<&Archived> = batch.rows.iter().map(|(row, _, _)| row).collect();
        let fresh: HashSet<_> = self
            .store
            .receive_page(
                relay,
                &mailbox,
                batch.last_seq,
                &rows,
                &batch.rejected,
                now(),
            )?
            .into_iter()
            .collect();
        let mut seqs = Vec::new();
        let mut msgs = Vec::new();
        for (row, msg, seq) in batch.rows {
            let key = (row.sender, row.id);
            if fresh.contains(&key) {
                seqs.push((key.clone(), seq));
                msgs.push((key, msg));
            }
        }
        self.not_handed.clear();
        self.hand_over_all(msgs)?;
        // What was not handed over stays on the relay too (it is in the archive as well,
        // and comes back from there next run).
        let ack_upto = seqs
            .iter()
            .filter(|(key, _)| self.not_handed.contains(key))
            .map(|(_, seq)| seq.saturating_sub(1))
            .fold(batch.last_seq, u64::min);
        // Under --keep-for, `release_kept` acknowledges later, by age.
        if !self.keep
            && self.keep_for.is_none()
            && ack_upto > 0
            && let Err(e) = self.client.ack(relay, self.mailbox_key(), ack_upto)
        {
            self.note(&format!(
                "{relay}: cannot acknowledge: {e} (the messages are archived; the next run \
                 acknowledges them)"
            ));
        }
        Ok(())
    }

    /// A message is its (sender, id). One already archived from the same sender is a
    /// replay (`None`: skipped, acknowledged). An id that another sender used first is
    /// refused: ids are random, so only someone who copied one can send it again. The one
    /// exception keeps a stranger from hiding a contact's message by copying its id first:
    /// a contact's message is accepted over a stranger's earlier one (and said).
    fn conflict(&mut self, a: Accepted, pending: &HashMap<String, Vec<String>>) -> Result<Verdict> {
        let (id, sender) = (&a.v.inner.id, &a.v.inner.from);
        let mut others = self.store.senders_of(id)?;
        if let Some(s) = pending.get(id) {
            others.extend(s.iter().cloned());
        }
        if others.contains(sender) {
            return Ok(Verdict::Replay);
        }
        if others.is_empty() {
            return Ok(Verdict::New(a));
        }
        let from_contact =
            |fp: &str| -> Result<bool> { Ok(self.contacts.by_fingerprint(fp)?.is_some()) };
        let mut any_contact = false;
        for o in &others {
            any_contact |= from_contact(o)?;
        }
        if from_contact(sender)? && !any_contact {
            self.warn(
                &format!(
                    "message {id} from your contact {} reuses the id of an earlier message \
                     from a stranger ({}): that one was not from this contact",
                    a.v.card.name,
                    others.join(", ")
                ),
                false,
            );
            return Ok(Verdict::New(a));
        }
        Ok(Verdict::Refused(crate::error::fail(
            Exit::Crypto,
            format!(
                "message id {id} was already used by another sender ({}); this copy from {sender} \
                 is refused",
                others.join(", ")
            ),
        )))
    }

    /// Decrypts and checks envelopes on every core.
    fn open_all(&self, envs: &[StoredEnvelope]) -> Vec<Result<Unsealed>> {
        let (id, known_pgp, cards) = (&self.id, &self.known_pgp, &self.cards);
        let limit = self.max_plaintext;
        let first = self.stanza_order();
        let open = |e: &StoredEnvelope| -> Result<Unsealed> {
            let ct = B64
                .decode(&e.payload)
                .context("the payload is not base64")?;
            message::unseal_ordered(id, known_pgp, &ct, cards, limit, &first)
        };
        // Every core: `process` sizes the chunks so that memory stays bounded.
        crate::par::map_on(envs, 1, usize::MAX, open)
    }

    /// The archive row (with the JSON the user will see) for a verified message; saves its
    /// attachments. Errors here are local (disk), not the message's fault.
    fn archive_row(&mut self, a: Accepted) -> Result<(Archived, Value)> {
        let Accepted { v, files: data } = a;
        let received = now();
        let key = (v.card.fingerprint.clone(), v.card.name.clone());
        let sender = match self.senders.get(&key) {
            Some(s) => s.clone(),
            None => {
                let s = message::classify(&self.contacts, &key.0, &key.1)?;
                self.senders.insert(key.clone(), s.clone());
                s
            }
        };
        self.update_card(&sender, &v, &key);
        let paths = self
            .handover
            .save_files(&v.inner.from, &v.inner.id, &v.inner.files, data)?;
        let files: Vec<SavedFile> = v
            .inner
            .files
            .iter()
            .zip(&paths)
            .map(|(f, p)| SavedFile {
                name: f.name.clone(),
                size: f.size,
                media_type: f.media_type.clone(),
                path: Some(path_string(p)),
            })
            .collect();
        let msg = message_json(&v.inner, &sender, &v.card_json, Some(received), &files);
        let msg = self.group_view(&v, msg)?;
        let row = Archived {
            id: v.inner.id.clone(),
            direction: "in".into(),
            sender: v.inner.from.clone(),
            recipients: v.inner.to.clone(),
            group: v.inner.group.clone(),
            ts: v.inner.ts,
            received,
            kind: v.inner.kind.clone(),
            body: v.inner.body.clone(),
            json: msg.to_string(),
        };
        Ok((row, msg))
    }

    /// A contact's newer card (new relays, say) travels with their messages. Under the
    /// name it was pinned as (`contact add --as`), not the one it claims.
    fn update_card(&mut self, sender: &Sender, v: &Verified, key: &(String, String)) {
        if let Some(c) = &sender.contact
            && c.card.get("seq").and_then(Value::as_u64) < Some(v.card.seq)
        {
            if let Err(e) = self.contacts.add(&v.card_json, Some(&c.name), false) {
                // A signature or key problem is a security warning: said even if quiet.
                let security = crate::error::exit_code(&e) == Exit::Crypto;
                self.warn(
                    &format!("cannot update {}'s card: {e:#}", c.name),
                    !security,
                );
            }
            self.senders.remove(key);
        }
    }
}

/// An envelope id as the relay sent it, made safe to show and store: one line, and no
/// longer than a real id (a relay could send megabytes).
fn shown_id(id: &str) -> String {
    crate::output::one_line(id).chars().take(64).collect()
}

/// The checks beyond decryption and signatures, on the message alone: a pigeon message
/// whose envelope id is the signed message id, whose attachments decode and fit.
pub(super) fn accept(env: &StoredEnvelope, u: Unsealed, max_file: u64) -> Result<Accepted> {
    let v = match u {
        Unsealed::Pigeon(v) => v,
        Unsealed::Foreign { .. } => anyhow::bail!("not a pigeon message"),
    };
    if v.inner.id != env.id {
        anyhow::bail!("the envelope id does not match the signed message id");
    }
    // The kind goes into `--exec`'s environment: a huge one would make every spawn fail.
    let kind = &v.inner.kind;
    if kind.is_empty() || kind.len() > 32 || !kind.bytes().all(|b| b.is_ascii_graphic()) {
        anyhow::bail!(
            "the message kind {:?} is not 1 to 32 printable ASCII characters",
            crate::output::one_line(&kind.chars().take(40).collect::<String>())
        );
    }
    if v.inner.files.len() > MAX_FILES {
        anyhow::bail!(
            "the message has {} attachments, more than the {MAX_FILES} recv saves",
            v.inner.files.len()
        );
    }
    let mut files = Vec::with_capacity(v.inner.files.len());
    for f in &v.inner.files {
        let name = crate::output::one_line(&f.name);
        // Checked before decoding: base64 is 4 bytes for every 3.
        if f.size > max_file || (f.data.len() as u64 / 4) * 3 > max_file + 3 {
            anyhow::bail!(
                "attachment {name:?} is larger than the {max_file} bytes recv saves \
                 (--max-file-size)"
            );
        }
        let bytes = B64
            .decode(&f.data)
            .with_context(|| format!("attachment {name:?} is not base64"))?;
        if bytes.len() as u64 != f.size {
            anyhow::bail!(
                "attachment {name:?} has {} bytes, not the {} it claims",
                bytes.len(),
                f.size
            );
        }
        files.push(bytes);
    }
    Ok(Accepted { v, files })
}
