//! `pigeon recv`: fetch from every relay on my card, verify and decrypt (keys parsed once,
//! both cores), archive, hand over, and only then acknowledge to the relays.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use super::Ctx;
use super::handover::{HandOver, Handed, path_string};
use super::show::{SavedFile, message_json};
use crate::cli::RecvArgs;
use crate::client::{Client, RelayError};
use crate::config::Config;
use crate::crypto::PublicIdentity;
use crate::error::{Exit, WithHint, fail};
use crate::keys::{Contacts, Identity, now};
use crate::message::{self, CardCache, Sender, Unsealed, Verified};
use crate::store::{Archived, Store};
use crate::wire::StoredEnvelope;

mod follow;

/// Envelopes per page: one archive transaction each (relays cap it, at 500 by default).
const PAGE: u32 = 500;

struct Receiver {
    id: Identity,
    contacts: Contacts,
    known_pgp: Vec<PublicIdentity>,
    store: Store,
    client: Client,
    handover: HandOver,
    keep: bool,
    show_rejected: bool,
    /// `--quiet`: no notes about transient trouble (security warnings and errors stay).
    quiet: bool,
    delivered: usize,
    /// Ids whose `--exec` failed since the last retry (`--follow` tries those again).
    exec_failed: HashSet<String>,
    rejected: usize,
    held: usize,
    /// Ids of the current page that were archived but not handed over.
    not_handed: Vec<String>,
    /// Sender cards checked in this run.
    cards: CardCache,
    /// Senders looked up among the contacts in this run, by fingerprint and claimed name.
    senders: HashMap<(String, String), Sender>,
}

pub fn run(ctx: &Ctx, args: RecvArgs) -> Result<Exit> {
    let _lock = lock(ctx, args.no_wait)?;
    let cfg = Config::load(&ctx.home)?;
    let id = ctx.identity(args.passphrase_file.as_deref())?;
    if id.meta.relays.is_empty() {
        return Err(fail(
            Exit::NotFound,
            "your card lists no relay to fetch from",
        ))
        .hint("add one with `pigeon relay add URL`, then give contacts your new card");
    }
    let contacts = Contacts::open(&ctx.home);
    let mut r = Receiver {
        known_pgp: message::pgp_contacts(&contacts)?,
        contacts,
        store: Store::open(&ctx.home.archive_path())?,
        client: Client::new(Duration::from_secs(cfg.send.timeout.unwrap_or(20))),
        handover: HandOver {
            format: args.format,
            exec: args.exec,
            files_dir: args
                .files_dir
                .or(cfg.recv.files_dir)
                .unwrap_or_else(|| ctx.home.files_dir()),
            from_contacts_only: args.from_contacts_only,
        },
        keep: args.keep,
        show_rejected: args.show_rejected,
        quiet: ctx.quiet,
        id,
        delivered: 0,
        exec_failed: HashSet::new(),
        rejected: 0,
        held: 0,
        not_handed: Vec::new(),
        cards: CardCache::default(),
        senders: HashMap::new(),
    };
    // What an earlier run archived but did not hand over (it crashed, or --exec failed).
    r.hand_over_undelivered()?;
    let relays = r.id.meta.relays.clone();
    let mut failed = 0;
    if args.follow {
        r.follow(&relays)?;
    } else {
        for relay in &relays {
            match r.drain(relay) {
                Ok(()) => {}
                Err(DrainError::Relay(e)) => {
                    failed += 1;
                    r.warn(&format!("{relay}: {e}"), false);
                }
                // A local failure (disk, closed stdout) ends the run: nothing of the page
                // that met it was acknowledged.
                Err(DrainError::Local(e)) => return Err(e),
            }
        }
    }
    if r.held > 0 {
        ctx.say(format!(
            "held back {} message(s) from strangers; run without --from-contacts-only to see them",
            r.held
        ));
    }
    if r.rejected > 0 {
        ctx.say(format!(
            "rejected {} message(s) that did not verify (--show-rejected lists them)",
            r.rejected
        ));
    }
    Ok(if failed == relays.len() {
        Exit::Network
    } else if failed > 0 {
        Exit::Partial
    } else if r.rejected > 0 && r.delivered == 0 {
        Exit::Crypto
    } else {
        Exit::Ok
    })
}

/// One recv at a time: two cron runs must not interleave.
fn lock(ctx: &Ctx, no_wait: bool) -> Result<File> {
    ctx.home.ensure_data()?;
    let path = ctx.home.data.join("recv.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if no_wait {
        if file.try_lock().is_err() {
            return Err(fail(Exit::Busy, "another pigeon recv is running"))
                .hint("leave out --no-wait to wait for it");
        }
    } else {
        file.lock().context("cannot lock recv.lock")?;
    }
    Ok(file)
}

impl Receiver {
    /// A warning about something transient, on stderr unless `--quiet`.
    fn note(&self, msg: &str) {
        self.warn(msg, true);
    }

    /// A warning on stderr; a `transient` one (it goes away by itself) is left out under
    /// `--quiet`, anything that needs a person is always said.
    fn warn(&self, msg: &str, transient: bool) {
        if !(transient && self.quiet) {
            eprintln!("pigeon: {}", crate::output::sanitize(msg));
        }
    }

    fn mailbox_key(&self) -> &SigningKey {
        self.id.secret.mailbox_signing_key()
    }

    fn hand_over_undelivered(&mut self) -> Result<()> {
        let mut pending = Vec::new();
        for m in self.store.undelivered()? {
            pending.push((m.id, serde_json::from_str(&m.json)?));
        }
        self.hand_over_all(pending)
    }

    /// Hands messages over in order and marks those handed over, also when a later one
    /// fails (say stdout closed), so none is printed twice. Ids not handed over (held
    /// back, or `--exec` failed) are noted in `not_handed`.
    fn hand_over_all(&mut self, msgs: Vec<(String, Value)>) -> Result<()> {
        let mut done = Vec::new();
        let mut result = Ok(());
        for (id, msg) in msgs {
            match self.hand_over(msg) {
                Ok(true) => done.push(id),
                Ok(false) => self.not_handed.push(id),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.store.mark_delivered(&done)?;
        result
    }

    /// Delivers one message; true when it was handed over. A sender pinned since the
    /// message was archived is shown as the contact it now is.
    fn hand_over(&mut self, mut msg: Value) -> Result<bool> {
        if msg["from"]["known"] != Value::Bool(true)
            && let Some(fp) = msg["from"]["fingerprint"].as_str()
            && let Some(c) = self.contacts.by_fingerprint(fp)?
        {
            msg["from"]["known"] = json!(true);
            msg["from"]["name"] = json!(c.name);
            msg["from"]["verified"] = json!(c.verified);
            if let Some(from) = msg["from"].as_object_mut() {
                from.remove("claimed_name");
                from.remove("key_change");
            }
            if let Some(obj) = msg.as_object_mut() {
                obj.remove("card");
            }
        }
        match self.handover.deliver(&msg)? {
            Handed::Delivered => {
                self.delivered += 1;
                Ok(true)
            }
            Handed::HeldBack => {
                self.held += 1;
                Ok(false)
            }
            Handed::Failed => {
                if let Some(id) = msg["id"].as_str() {
                    self.exec_failed.insert(id.to_string());
                }
                Ok(false)
            }
        }
    }

    /// Fetches every page waiting on one relay. While a page is opened and archived, the
    /// next one is already being fetched (after the cursor the archive will hold).
    fn drain(&mut self, relay: &str) -> Result<(), DrainError> {
        let key = self.mailbox_key().clone();
        let client = self.client.clone();
        let first = self.cursor(relay);
        let mut page = client
            .fetch(relay, &key, first, PAGE, 0)
            .map_err(DrainError::Relay)?;
        let mut cursor = first;
        loop {
            // A relay that says "more" but sends nothing new must not keep us here.
            let last = page.envelopes.iter().map(|e| e.seq).max().unwrap_or(0);
            let after = (page.more && last > cursor).then_some(last);
            cursor = cursor.max(last);
            let envelopes = std::mem::take(&mut page.envelopes);
            let next = std::thread::scope(|s| {
                let (client, key) = (&client, &key);
                let prefetch =
                    after.map(|after| s.spawn(move || client.fetch(relay, key, after, PAGE, 0)));
                self.process(relay, envelopes).map_err(DrainError::Local)?;
                Ok(prefetch.map(|h| h.join().expect("prefetch thread")))
            })?;
            match next {
                Some(p) => page = p.map_err(DrainError::Relay)?,
                None => return Ok(()),
            }
        }
    }

    fn cursor(&self, relay: &str) -> u64 {
        self.store.cursor(relay, &self.id.meta.mailbox).unwrap_or(0)
    }

    /// Verifies and decrypts a page, archives it with the cursor in one transaction, hands
    /// the new messages over, then acknowledges to the relay. A message that fails a check
    /// is rejected (logged, acknowledged, never shown as good); a local failure (disk,
    /// stdout) returns before the cursor moves or anything is acknowledged.
    fn process(&mut self, relay: &str, envelopes: Vec<StoredEnvelope>) -> Result<()> {
        let Some(last_seq) = envelopes.iter().map(|e| e.seq).max() else {
            return Ok(());
        };
        let mut todo = Vec::new();
        for e in envelopes {
            if !self.store.seen(&e.id)? {
                todo.push(e);
            }
        }
        let results = self.open_all(&todo);
        let received = now();
        let mut archived = Vec::new();
        let mut rejected = Vec::new();
        let mut seqs = Vec::new();
        for (env, result) in todo.iter().zip(results) {
            match result.and_then(|u| check(env, u)) {
                Ok(v) => {
                    seqs.push((v.inner.id.clone(), env.seq));
                    archived.push(self.archive_row(*v, received)?);
                }
                Err(e) => {
                    let reason = crate::output::sanitize(&format!("{e:#}"));
                    let id = crate::output::sanitize(&env.id);
                    if self.show_rejected {
                        super::emit(&json!({"type": "rejected", "relay": relay, "seq": env.seq,
                            "id": id, "reason": reason}))?;
                    }
                    eprintln!("pigeon: rejected message {id} from {relay}: {reason}");
                    self.rejected += 1;
                    rejected.push((id, reason));
                }
            }
        }
        let mailbox = self.id.meta.mailbox.clone();
        let rows: Vec<&Archived> = archived.iter().map(|(row, _)| row).collect();
        let fresh: HashSet<String> = self
            .store
            .receive_page(relay, &mailbox, last_seq, &rows, &rejected, received)?
            .into_iter()
            .collect();
        self.not_handed.clear();
        let msgs = archived
            .into_iter()
            .filter(|(row, _)| fresh.contains(&row.id))
            .map(|(row, msg)| (row.id, msg))
            .collect();
        self.hand_over_all(msgs)?;
        // What was not handed over stays on the relay too (it is in the archive as well,
        // and comes back from there next run).
        let ack_upto = seqs
            .iter()
            .filter(|(id, _)| self.not_handed.contains(id))
            .map(|(_, seq)| seq.saturating_sub(1))
            .fold(last_seq, u64::min);
        if !self.keep
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

    /// Decrypts and checks envelopes on every core.
    fn open_all(&self, envs: &[StoredEnvelope]) -> Vec<Result<Unsealed>> {
        let (id, known_pgp, cards) = (&self.id, &self.known_pgp, &self.cards);
        let open = |e: &StoredEnvelope| -> Result<Unsealed> {
            let ct = B64
                .decode(&e.payload)
                .context("the payload is not base64")?;
            message::unseal_with(id, known_pgp, &ct, cards)
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if envs.len() < 8 || cores == 1 {
            return envs.iter().map(open).collect();
        }
        let chunk = envs.len().div_ceil(cores);
        std::thread::scope(|s| {
            let handles: Vec<_> = envs
                .chunks(chunk)
                .map(|c| s.spawn(move || c.iter().map(open).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("decrypt thread"))
                .collect()
        })
    }

    /// The archive row (with the JSON the user will see) for a verified message. Errors
    /// here are local (disk), not the message's fault.
    fn archive_row(&mut self, v: Verified, received: u64) -> Result<(Archived, Value)> {
        let key = (v.card.fingerprint.clone(), v.card.name.clone());
        let sender = match self.senders.get(&key) {
            Some(s) => s.clone(),
            None => {
                let s = message::classify(&self.contacts, &key.0, &key.1)?;
                self.senders.insert(key.clone(), s.clone());
                s
            }
        };
        if let Some(c) = &sender.contact
            && c.card.get("seq").and_then(Value::as_u64) < Some(v.card.seq)
        {
            // A contact's newer card (new relays, say) travels with their messages.
            // Under the name it was pinned as (`contact add --as`), not the one it claims.
            if let Err(e) = self.contacts.add(&v.card_json, Some(&c.name), false) {
                // A signature or key problem is a security warning: said even if quiet.
                let security = crate::error::exit_code(&e) == Exit::Crypto;
                self.warn(
                    &format!("cannot update {}'s card: {e:#}", c.name),
                    !security,
                );
            }
            self.senders.remove(&key);
        }
        let paths = self.handover.save_files(&v.inner.id, &v.inner.files)?;
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
}

/// Why draining a relay stopped.
enum DrainError {
    /// The relay failed: try the others.
    Relay(RelayError),
    /// Something here failed: stop.
    Local(anyhow::Error),
}

/// The checks beyond decryption and signatures: a pigeon message whose envelope id is the
/// signed message id.
fn check(env: &StoredEnvelope, u: Unsealed) -> Result<Box<Verified>> {
    let v = match u {
        Unsealed::Pigeon(v) => v,
        Unsealed::Foreign { .. } => anyhow::bail!("not a pigeon message"),
    };
    if v.inner.id != env.id {
        anyhow::bail!("the envelope id does not match the signed message id");
    }
    Ok(v)
}
