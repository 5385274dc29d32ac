//! `pigeon recv`: fetch from every relay on my card, verify and decrypt (keys parsed once,
//! both cores), archive, hand over, and only then acknowledge to the relays.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use anyhow::{Context, Result};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use super::Ctx;
use super::handover::{HandOver, Handed};
use crate::cli::RecvArgs;
use crate::client::{Client, RelayError};
use crate::config::Config;
use crate::crypto::PublicIdentity;
use crate::error::{Exit, WithHint, fail};
use crate::keys::{Contacts, Identity};
use crate::message::{self, CardCache, Sender};
use crate::store::{MessageKey, Store};

/// Largest attachment saved unless `--max-file-size` or the config says otherwise.
const DEFAULT_MAX_FILE: u64 = 16 << 20;

mod drained;
mod follow;
mod keep;
mod page;

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
    /// `--keep-for`: seconds a message stays on the relay before a run acknowledges it.
    keep_for: Option<u64>,
    /// When each relay was last looked at for kept messages old enough (`--follow`).
    released_at: HashMap<String, std::time::Instant>,
    show_rejected: bool,
    /// `--quiet`: no notes about transient trouble (security warnings and errors stay).
    quiet: bool,
    delivered: usize,
    /// Messages whose `--exec` failed since the last retry (`--follow` tries those again).
    exec_failed: HashSet<MessageKey>,
    rejected: usize,
    held: usize,
    /// Messages of the current batch that were archived but not handed over.
    not_handed: Vec<MessageKey>,
    /// Largest attachment accepted, and so (with base64 and the rest of the message) the
    /// largest plaintext one message may make us read.
    max_file_size: u64,
    max_plaintext: usize,
    /// Sender cards checked in this run.
    cards: CardCache,
    /// Senders looked up among the contacts in this run, by fingerprint and claimed name.
    senders: HashMap<(String, String), Sender>,
    /// The groups I am in: membership messages change them, group messages are checked.
    groups: crate::group::Groups,
}

pub fn run(ctx: &Ctx, args: RecvArgs) -> Result<Exit> {
    let cfg = Config::load(&ctx.home)?;
    // Before the lock: a home without an identity is left as it was found.
    let id = ctx.identity(args.passphrase_file.as_deref())?;
    let _lock = lock(ctx, args.no_wait)?;
    if id.meta.relays.is_empty() && id.meta.draining.is_empty() {
        return Err(fail(
            Exit::NotFound,
            "your card lists no relay to fetch from",
        ))
        .hint("add one with `pigeon relay add URL`, then give contacts your new card");
    }
    let drain_for = cfg.drain_for()?;
    let contacts = Contacts::open(&ctx.home);
    let max_file_size = args
        .max_file_size
        .or(cfg.recv.max_file_size)
        .unwrap_or(DEFAULT_MAX_FILE);
    let keep_for = keep_for_secs(
        args.keep,
        args.keep_for.as_deref(),
        cfg.recv.keep_for.as_deref(),
    )?;
    // A group I do not hold yet may be one whose invitation is on its way (it arrives in
    // this run): looked for again at the end, and exit 5 if it still is not there.
    let groups = crate::group::Groups::open(&ctx.home);
    let (group_filter, group_unknown) = match &args.group {
        Some(g) => {
            let unknown = groups
                .find(g)
                .is_err_and(|e| crate::error::exit_code(&e) == Exit::NotFound);
            (Some(groups.filter_key(g)?), unknown)
        }
        None => (None, false),
    };
    let mut r = Receiver {
        max_file_size,
        max_plaintext: plaintext_limit(max_file_size),
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
            contacts: Contacts::open(&ctx.home),
            me: id.meta.fingerprint.clone(),
            group: group_filter.clone(),
        },
        keep: args.keep,
        keep_for,
        released_at: HashMap::new(),
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
        groups: crate::group::Groups::open(&ctx.home),
    };
    // What an earlier run archived but did not hand over (it crashed, or --exec failed).
    r.hand_over_undelivered()?;
    // Relays I moved away from are read too, until they are empty (see `drained`).
    let relays: Vec<String> = (r.id.meta.relays.iter())
        .chain(r.id.meta.draining.keys())
        .cloned()
        .collect();
    let mut failed = 0;
    let mut emptied = Vec::new();
    if args.follow {
        r.follow(&relays)?;
    } else {
        for relay in &relays {
            match r.drain(relay) {
                Ok(()) => {
                    r.release_kept(relay);
                    emptied.push(relay.clone());
                }
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
    r.retire_drained(ctx, &emptied, drain_for)?;
    if let (true, Some(key)) = (group_unknown, &args.group)
        && crate::group::Groups::open(&ctx.home).find(key).is_err()
    {
        return Err(fail(
            Exit::NotFound,
            format!(
                "no group {:?}: you hold none of that name or id, and no invitation to it arrived",
                crate::output::sanitize(key)
            ),
        ))
        .hint("list your groups with `pigeon group list`");
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

/// `--keep-for`, else `keep_for` of the config unless `--keep` (which keeps for good).
fn keep_for_secs(keep: bool, flag: Option<&str>, config: Option<&str>) -> Result<Option<u64>> {
    let (text, from) = match (flag, config) {
        (Some(t), _) => (t, "--keep-for"),
        (None, Some(t)) if !keep => (t, "keep_for in [recv] of config.toml"),
        _ => return Ok(None),
    };
    crate::config::parse_duration(text)
        .map(Some)
        .with_context(|| crate::error::Fail(Exit::Usage, format!("{from} is not a duration")))
        .hint("give a duration like 30m, 12h or 7d")
}

/// One recv at a time: two cron runs must not interleave.
fn lock(ctx: &Ctx, no_wait: bool) -> Result<File> {
    ctx.home.ensure_data()?;
    let path = ctx.home.data.join("recv.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if file.try_lock().is_err() {
        // The holder wrote its pid when it took the lock.
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        let holder = match holder.trim().parse::<u32>() {
            Ok(pid) => format!("pid {pid}"),
            Err(_) => "another process".into(),
        };
        if no_wait {
            return Err(fail(
                Exit::Busy,
                format!("another pigeon recv is running ({holder})"),
            ))
            .hint("leave out --no-wait to wait for it");
        }
        ctx.say(format!(
            "pigeon: waiting for recv {holder} to finish (it holds {})",
            path.display()
        ));
        file.lock().context("cannot lock recv.lock")?;
    }
    use std::os::unix::fs::FileExt as _;
    file.set_len(0)
        .and_then(|()| file.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0))
        .with_context(|| format!("cannot write {}", path.display()))?;
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
            eprintln!("pigeon: {}", crate::output::one_line(msg));
        }
    }

    fn mailbox_key(&self) -> &SigningKey {
        self.id.secret.mailbox_signing_key()
    }

    fn hand_over_undelivered(&mut self) -> Result<()> {
        let mut pending = Vec::new();
        for m in self.store.undelivered()? {
            pending.push(((m.sender, m.id), serde_json::from_str(&m.json)?));
        }
        self.hand_over_all(pending)
    }

    /// Hands messages over in order and marks those handed over, also when a later one
    /// fails (say stdout closed), so none is printed twice. Ids not handed over (held
    /// back, or `--exec` failed) are noted in `not_handed`.
    fn hand_over_all(&mut self, msgs: Vec<(MessageKey, Value)>) -> Result<()> {
        let mut done = Vec::new();
        let mut result = Ok(());
        for (key, msg) in msgs {
            match self.hand_over(msg, &key) {
                Ok(true) => done.push(key),
                Ok(false) => self.not_handed.push(key),
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
    fn hand_over(&mut self, mut msg: Value, key: &MessageKey) -> Result<bool> {
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
            Handed::OtherGroup => Ok(false),
            Handed::Failed => {
                self.exec_failed.insert(key.clone());
                Ok(false)
            }
        }
    }

    /// Fetches every page waiting on one relay. While a page is opened and archived, the
    /// next one is already being fetched (after the cursor the archive will hold).
    fn drain(&mut self, relay: &str) -> Result<(), DrainError> {
        let key = self.mailbox_key().clone();
        let client = self.client.clone();
        let mut first = self.cursor(relay);
        let mut page = client
            .fetch(relay, &key, first, PAGE, 0)
            .map_err(DrainError::Relay)?;
        if self
            .note_instance(relay, page.instance.as_deref())
            .map_err(DrainError::Local)?
            && first > 0
        {
            first = 0;
            page = client
                .fetch(relay, &key, first, PAGE, 0)
                .map_err(DrainError::Relay)?;
        }
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

    /// Records which database of the relay the cursor counts on; true when it changed (the
    /// relay's database was recreated, its seqs start again) and the cursor went back to 0.
    fn note_instance(&self, relay: &str, instance: Option<&str>) -> Result<bool> {
        let Some(instance) = instance else {
            return Ok(false);
        };
        let reset = self
            .store
            .set_cursor_instance(relay, &self.id.meta.mailbox, instance)?;
        if reset {
            self.warn(
                &format!("{relay}: the relay's database is new; reading it from the start"),
                false,
            );
        }
        Ok(reset)
    }

    fn cursor(&self, relay: &str) -> u64 {
        self.store.cursor(relay, &self.id.meta.mailbox).unwrap_or(0)
    }
}

/// The largest plaintext one message may have: its attachments in base64 (4 bytes for 3),
/// plus a MiB for the body and the rest, within what `crypto` allows at all.
fn plaintext_limit(max_file: u64) -> usize {
    let limit = max_file.saturating_mul(4) / 3 + (1 << 20);
    usize::try_from(limit).map_or(crate::crypto::MAX_PLAINTEXT, |l| {
        l.min(crate::crypto::MAX_PLAINTEXT)
    })
}

/// Why draining a relay stopped.
enum DrainError {
    /// The relay failed: try the others.
    Relay(RelayError),
    /// Something here failed: stop.
    Local(anyhow::Error),
}
