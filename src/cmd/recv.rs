//! `pigeon recv`: fetch from every relay on my card, verify and decrypt (keys parsed once,
//! both cores), archive, hand over, and only then acknowledge to the relays.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use super::Ctx;
use super::deliver::{Delivery, Outcome, path_string};
use super::show::{SavedFile, message_json};
use crate::cli::RecvArgs;
use crate::client::{Client, RelayError};
use crate::config::Config;
use crate::crypto::PublicIdentity;
use crate::error::{Exit, WithHint, fail};
use crate::keys::{Contacts, Identity, now};
use crate::message::{self, CardCache, Sender, Unsealed};
use crate::store::{Archived, Store};
use crate::wire::{FetchReply, StoredEnvelope};

/// Envelopes per page: one archive transaction each (relays cap it, at 500 by default).
const PAGE: u32 = 500;
/// Seconds a `--follow` long poll waits on the relay.
const LONG_POLL: u64 = 25;

struct Receiver {
    id: Identity,
    contacts: Contacts,
    known_pgp: Vec<PublicIdentity>,
    store: Store,
    client: Client,
    delivery: Delivery,
    keep: bool,
    show_rejected: bool,
    delivered: usize,
    rejected: usize,
    held: usize,
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
        delivery: Delivery {
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
        id,
        delivered: 0,
        rejected: 0,
        held: 0,
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
            if let Err(e) = r.drain(relay) {
                failed += 1;
                eprintln!("pigeon: {relay}: {e}");
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
    fn mailbox_key(&self) -> &SigningKey {
        self.id.secret.mailbox_signing_key()
    }

    fn hand_over_undelivered(&mut self) -> Result<()> {
        let pending = self.store.undelivered()?;
        let mut done = Vec::new();
        for m in pending {
            let v: Value = serde_json::from_str(&m.json)?;
            if self.hand_over(&v)? {
                done.push(m.id);
            }
        }
        self.store.mark_delivered(&done)
    }

    /// Delivers one message; true when it was handed over.
    fn hand_over(&mut self, msg: &Value) -> Result<bool> {
        match self.delivery.deliver(msg)? {
            Outcome::Delivered => {
                self.delivered += 1;
                Ok(true)
            }
            Outcome::HeldBack => {
                self.held += 1;
                Ok(false)
            }
            Outcome::Failed => Ok(false),
        }
    }

    /// Fetches every page waiting on one relay. While a page is opened and archived, the
    /// next one is already being fetched (after the same cursor the archive will hold).
    fn drain(&mut self, relay: &str) -> Result<(), RelayError> {
        let key = self.mailbox_key().clone();
        let client = self.client.clone();
        let mut page = client.fetch(relay, &key, self.cursor(relay), PAGE, 0)?;
        loop {
            let after = page.envelopes.last().map(|e| e.seq).filter(|_| page.more);
            let next = std::thread::scope(|s| {
                let (client, key) = (&client, &key);
                let prefetch =
                    after.map(|after| s.spawn(move || client.fetch(relay, key, after, PAGE, 0)));
                self.process(relay, std::mem::take(&mut page.envelopes))
                    .map_err(|e| RelayError::Protocol(format!("{e:#}")))?;
                Ok::<_, RelayError>(prefetch.map(|h| h.join().expect("prefetch thread")))
            })?;
            match next {
                Some(p) => page = p?,
                None => return Ok(()),
            }
        }
    }

    fn cursor(&self, relay: &str) -> u64 {
        self.store.cursor(relay, &self.id.meta.mailbox).unwrap_or(0)
    }

    /// Long-polls every relay from its own thread and processes pages as they come; a relay
    /// that goes away is retried with backoff. Runs until stdout closes or a fatal error.
    fn follow(&mut self, relays: &[String]) -> Result<()> {
        let (tx, rx) = mpsc::channel::<(String, Result<FetchReply, RelayError>)>();
        for relay in relays {
            let (tx, client, key) = (tx.clone(), self.client.clone(), self.mailbox_key().clone());
            let relay = relay.clone();
            let mut cursor = self.cursor(&relay);
            std::thread::spawn(move || {
                let mut backoff = 1;
                loop {
                    let res = client.fetch(&relay, &key, cursor, PAGE, LONG_POLL);
                    if let Ok(page) = &res {
                        backoff = 1;
                        match page.envelopes.last() {
                            Some(last) => cursor = cursor.max(last.seq),
                            // The long poll ended with nothing new: ask again.
                            None => continue,
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
        for (relay, res) in rx {
            match res {
                Ok(page) => self.process(&relay, page.envelopes)?,
                Err(e) => eprintln!("pigeon: {relay}: {e} (retrying)"),
            }
        }
        Ok(())
    }

    /// Verifies and decrypts a page, archives it with the cursor in one transaction, hands
    /// the new messages over, then acknowledges to the relay.
    fn process(&mut self, relay: &str, envelopes: Vec<StoredEnvelope>) -> Result<()> {
        let Some(last_seq) = envelopes.last().map(|e| e.seq) else {
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
        let mut messages = Vec::new();
        let mut rejected = Vec::new();
        for (env, result) in todo.iter().zip(results) {
            match result.and_then(|u| self.archive_row(env, u, received)) {
                Ok((row, msg)) => {
                    messages.push((msg, env.seq));
                    archived.push(row);
                }
                Err(e) => {
                    let reason = format!("{e:#}");
                    if self.show_rejected {
                        super::emit(&json!({"type": "rejected", "relay": relay, "seq": env.seq,
                            "id": env.id, "reason": reason}))?;
                    }
                    eprintln!("pigeon: rejected message {} from {relay}: {reason}", env.id);
                    self.rejected += 1;
                    rejected.push((env.id.clone(), reason));
                }
            }
        }
        let mailbox = self.id.meta.mailbox.clone();
        let fresh: HashSet<String> = self
            .store
            .receive_page(relay, &mailbox, last_seq, &archived, &rejected, received)?
            .into_iter()
            .collect();
        let mut done = Vec::new();
        let mut ack_upto = last_seq;
        for (row, (msg, seq)) in archived.iter().zip(&messages) {
            if !fresh.contains(&row.id) {
                continue;
            }
            if self.hand_over(msg)? {
                done.push(row.id.clone());
            } else {
                // Not handed over: leave it (and what follows) on the relay too.
                ack_upto = ack_upto.min(seq.saturating_sub(1));
            }
        }
        self.store.mark_delivered(&done)?;
        if !self.keep
            && ack_upto > 0
            && let Err(e) = self.client.ack(relay, self.mailbox_key(), ack_upto)
        {
            eprintln!("pigeon: {relay}: cannot acknowledge: {e} (the messages are archived)");
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

    /// The archive row and the JSON the user will see, for a verified message.
    fn archive_row(
        &mut self,
        env: &StoredEnvelope,
        u: Unsealed,
        received: u64,
    ) -> Result<(Archived, Value)> {
        let v = match u {
            Unsealed::Pigeon(v) => v,
            Unsealed::Foreign { .. } => anyhow::bail!("not a pigeon message"),
        };
        if v.inner.id != env.id {
            anyhow::bail!("the envelope id does not match the signed message id");
        }
        let who = (v.card.fingerprint.clone(), v.card.name.clone());
        let sender = match self.senders.get(&who) {
            Some(s) => s.clone(),
            None => {
                let s = message::classify(&self.contacts, &who.0, &who.1)?;
                self.senders.insert(who, s.clone());
                s
            }
        };
        let paths = self.delivery.save_files(&v.inner.id, &v.inner.files)?;
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
