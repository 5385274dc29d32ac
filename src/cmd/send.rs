//! `pigeon send`: seal a message for contacts and post it to every relay on their cards.
//!
//! Every delivery (one envelope, one mailbox, one relay) is written to the outbox before
//! it is posted and leaves it when a relay accepted it, so `send --retry` (and every later
//! send) finishes what failed, with the same envelope id: relays store an id once.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Ctx;
use crate::cli::SendArgs;
use crate::client::Client;
use crate::config::{Config, parse_duration};
use crate::crypto::PublicIdentity;
use crate::delivery;
use crate::error::{Exit, Fail, WithHint, fail};
use crate::keys::{Contacts, Identity, now};
use crate::message;
use crate::store::{Archived, OutboxRow, Store};
use crate::wire::{self, Envelope, Inner};

mod group;
mod refresh;
mod retry;
mod sealing;
pub(crate) use group::Announcer;
pub(crate) use retry::patch_deliveries;

/// One line of `send --json`. An unknown field is refused, not ignored: it is a typo
/// (`"text"` for `"body"`) far more often than a newer pigeon's field, and ignoring it
/// sent an empty message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine {
    #[serde(default)]
    to: Vec<String>,
    /// A group (name or id) instead of `to`.
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    files: Vec<PathBuf>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    ttl: Option<String>,
}

/// A sealed message and its deliveries, waiting to be posted with its batch.
struct Prepared {
    inner: Inner,
    names: Vec<String>,
    /// Recipient fingerprints, kept in the archive (a group message's `to` is empty).
    fingerprints: Vec<String>,
    rows: Vec<OutboxRow>,
    /// Deliveries that failed before posting (a recipient with no relay).
    report: Vec<Value>,
}

/// What one message will be, validated before anything is sent.
struct Plan {
    /// Shared: a `send --json` to a group plans each line for the same 99 recipients.
    recipients: Arc<Vec<Recipient>>,
    inner: Inner,
    ttl: Option<u64>,
}

#[derive(Clone)]
struct Recipient {
    name: String,
    public: PublicIdentity,
    fingerprint: String,
    mailbox: String,
    relays: Vec<String>,
}

impl Recipient {
    /// The recipient a checked card describes: never a relay it lists as draining (the
    /// recipient is moving away from it), for direct and group messages alike.
    fn from_card(name: String, public: PublicIdentity, card: wire::Card) -> Recipient {
        let relays = (card.relays.into_iter())
            .filter(|r| !card.draining.contains(r))
            .collect();
        Recipient {
            name,
            public,
            // The card's own: checking it made sure the keys hash to it.
            fingerprint: card.fingerprint,
            mailbox: card.mailbox,
            relays,
        }
    }
}

/// Everything one `send` process shares: keys parsed once, one connection pool.
struct Sender {
    /// Shared with the thread that seals the next lines of `send --json` while the ones
    /// before are sent.
    id: Arc<Identity>,
    card_json: Arc<Vec<u8>>,
    contacts: Contacts,
    store: Store,
    client: Client,
    tokens: BTreeMap<String, String>,
    default_ttl: Option<u64>,
    ok: usize,
    failed: usize,
    trackers: refresh::Trackers,
    /// Groups' recipients, resolved once per run.
    groups: group::Cache,
    /// Messages queued in this run: the outbox retry after them leaves them alone.
    sent_now: std::collections::HashSet<String>,
    /// How long the outbox retry after a new message may take (`[send] retry_deadline`).
    retry_deadline: Duration,
}

/// How long a delivery that names no TTL waits in the outbox before it is given up: the
/// longest a relay keeps an envelope by default (`max_ttl`).
const OUTBOX_DEFAULT_TTL: u64 = 14 * 24 * 3600;

/// Seconds the outbox retry after a new message may take, unless the config says.
const DEFAULT_RETRY_DEADLINE: u64 = 3;

pub fn run(ctx: &Ctx, args: SendArgs) -> Result<Exit> {
    if let Some(r) = &args.reply_to {
        check_reply_to(r)?;
    }
    let mut s = Sender::open(
        ctx,
        args.passphrase_file.as_deref(),
        args.ttl.as_deref(),
        &args.trackers,
    )?;
    if args.retry {
        s.retry_outbox(retry::Report::Stdout, None)?;
        return Ok(s.exit());
    }
    if args.json {
        s.send_json_lines()?;
    } else {
        if args.to.is_empty() && args.group.is_none() {
            return Err(fail(Exit::Usage, "no recipient"))
                .hint("name one with --to NAME or --group NAME (or use --json, or --retry)");
        }
        let body = match args.body {
            Some(b) => b,
            None => read_body(!args.file.is_empty())?,
        };
        check_not_empty(&body, &args.file)
            .hint("give the text as an argument or on stdin, or attach a file with --file PATH")?;
        let ttl = s.default_ttl;
        let plan = match &args.group {
            Some(g) => s.plan_group(g, body, &args.file, args.reply_to, ttl)?,
            None => s.plan(&args.to, body, &args.file, args.reply_to, ttl)?,
        };
        let mut batch = vec![s.prepare(plan)?];
        s.flush(&mut batch)?;
    }
    // Only now what earlier sends left queued, under a short deadline: an old failure
    // must neither delay a new message nor decide its exit code.
    let (ok, failed) = (s.ok, s.failed);
    let out = match args.report_retries {
        true => retry::Report::Stdout,
        false => retry::Report::Stderr,
    };
    s.retry_outbox(out, Some(std::time::Instant::now() + s.retry_deadline))?;
    (s.ok, s.failed) = (ok, failed);
    Ok(s.exit())
}

/// An error as one line of text, its causes after colons, without its hint.
fn error_text(e: &anyhow::Error) -> String {
    let lines: Vec<String> = crate::error::render(e)
        .into_iter()
        .filter(|l| !l.starts_with("hint: "))
        .map(|l| {
            let l = l.strip_prefix("error: ").unwrap_or(&l);
            l.strip_prefix("because: ").unwrap_or(l).to_string()
        })
        .collect();
    lines.join(": ")
}

/// A message is text or files: nothing at all (or only blanks, as `echo '' |` gives) is a
/// mistake, not a message.
fn check_not_empty(body: &str, files: &[PathBuf]) -> Result<()> {
    if body.trim().is_empty() && files.is_empty() {
        return Err(fail(
            Exit::Usage,
            "the message is empty: no text and no file",
        ));
    }
    Ok(())
}

fn check_reply_to(r: &str) -> Result<()> {
    if !wire::is_message_id(r) {
        return Err(fail(
            Exit::Usage,
            format!(
                "reply_to {:?} is not a message id",
                crate::output::sanitize(r)
            ),
        ))
        .hint("give the id of a message you received or sent (`pigeon export` lists them)");
    }
    Ok(())
}

impl Sender {
    /// Keys, archive, connection pool and relay tokens, for one process.
    fn open(
        ctx: &Ctx,
        passphrase_file: Option<&std::path::Path>,
        ttl: Option<&str>,
        trackers: &crate::cli::TrackerUrls,
    ) -> Result<Sender> {
        let cfg = Config::load(&ctx.home)?;
        let id = ctx.identity(passphrase_file)?;
        let default_ttl = match ttl.or(cfg.send.ttl.as_deref()) {
            Some(t) => Some(parse_duration(t).context(Fail(Exit::Usage, "bad --ttl".into()))?),
            None => None,
        };
        let mut tokens = BTreeMap::new();
        for (relay, file) in &cfg.send.tokens {
            let t = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the token file for {relay}"))?;
            tokens.insert(
                relay.trim_end_matches('/').to_string(),
                t.trim().to_string(),
            );
        }
        Ok(Sender {
            card_json: Arc::new(serde_json::to_vec(&id.card()?)?),
            groups: group::Cache::open(&ctx.home),
            id: Arc::new(id),
            contacts: Contacts::open(&ctx.home),
            store: Store::open(&ctx.home.archive_path())?,
            client: Client::new(Duration::from_secs(cfg.send.timeout.unwrap_or(20))),
            tokens,
            default_ttl,
            ok: 0,
            failed: 0,
            sent_now: Default::default(),
            retry_deadline: Duration::from_secs(
                cfg.send.retry_deadline.unwrap_or(DEFAULT_RETRY_DEADLINE),
            ),
            trackers: refresh::Trackers {
                urls: super::tracker_client::configured(&cfg, trackers)?,
                client: Client::new(Duration::from_secs(refresh::TRACKER_TIMEOUT)),
                refresh_after: cfg.refresh_after()?,
                quiet: ctx.quiet,
                asked: Default::default(),
            },
        })
    }
}

/// The body from stdin; empty stdin is an error unless files carry the message.
fn read_body(has_files: bool) -> Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() && !has_files {
        return Err(fail(Exit::Usage, "no message text"))
            .hint("give it as an argument, or pipe it: echo hi | pigeon send --to bob");
    }
    let bytes = if std::io::stdin().is_terminal() {
        Vec::new()
    } else {
        super::read_input(None)?
    };
    String::from_utf8(bytes)
        .map_err(|_| fail(Exit::Usage, "the message on stdin is not UTF-8 text"))
        .hint("send binary data as a file: --file PATH")
}

impl Sender {
    fn plan(
        &self,
        to: &[String],
        body: String,
        files: &[PathBuf],
        reply_to: Option<String>,
        ttl: Option<u64>,
    ) -> Result<Plan> {
        if to.is_empty() {
            return Err(fail(Exit::Usage, "no recipient"));
        }
        let mut recipients: Vec<Recipient> = Vec::new();
        for name in to {
            let contact = self.resolve(name)?;
            if recipients
                .iter()
                .any(|r| r.fingerprint == contact.fingerprint)
            {
                continue;
            }
            let (card, public) = contact.checked()?;
            recipients.push(Recipient::from_card(contact.name.clone(), public, card));
        }
        self.build(Arc::new(recipients), None, body, files, reply_to, ttl)
    }

    /// The message to `recipients`, its attachments read and checked. A message to a group
    /// (`group`: its id) is inner v2 with an empty `to`: the group names the recipients,
    /// and a member checks they are one (`recv`'s group rules), so a forwarded copy is
    /// still refused.
    fn build(
        &self,
        recipients: Arc<Vec<Recipient>>,
        group: Option<String>,
        body: String,
        files: &[PathBuf],
        reply_to: Option<String>,
        ttl: Option<u64>,
    ) -> Result<Plan> {
        let mut attachments = Vec::new();
        for path in files {
            attachments.push(super::attach::read(path)?);
        }
        if let Some(r) = &reply_to {
            check_reply_to(r)?;
        }
        let (v, to) = match group {
            Some(_) => (wire::GROUP_V, Vec::new()),
            None => (
                wire::V,
                recipients.iter().map(|r| r.fingerprint.clone()).collect(),
            ),
        };
        let inner = Inner {
            v,
            id: message::new_id(),
            from: self.id.meta.fingerprint.clone(),
            to,
            group,
            ts: now(),
            kind: if attachments.is_empty() {
                "text"
            } else {
                "file"
            }
            .into(),
            body,
            files: attachments,
            reply_to,
        };
        Ok(Plan {
            recipients,
            inner,
            ttl,
        })
    }

    /// `send --json`: one message per stdin line. A reader thread feeds the lines, so
    /// messages that arrive together are posted together (one batch request per relay)
    /// while a slow writer still gets each message sent as soon as its line is complete.
    fn send_json_lines(&mut self) -> Result<()> {
        const MAX_BATCH: usize = 256;
        // Lines sealed at once when more are waiting: the next ones are sealed while these
        // are sent (`seal`), so the cores that seal do not wait for the outbox and the relays.
        const SEAL_AT_ONCE: usize = 32;
        let (tx, rx) = mpsc::sync_channel::<std::io::Result<String>>(MAX_BATCH);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let stop = line.is_err();
                if tx.send(line).is_err() || stop {
                    return;
                }
            }
        });
        // Lines read but not sealed, and messages sealed but not sent. When no line waits,
        // what is planned is sealed (several at once) while more lines arrive, and only
        // when none came meanwhile is the batch sent: one outbox transaction and one
        // request per relay for all of it.
        let mut plans: Vec<Plan> = Vec::new();
        let mut batch: Vec<Prepared> = Vec::new();
        let mut n = 0;
        // The line that stopped the run, reported after what came before it.
        let mut bad_line = None;
        let result = loop {
            let next = if plans.is_empty() && batch.is_empty() {
                rx.recv().ok()
            } else {
                match rx.try_recv() {
                    Ok(line) => Some(line),
                    Err(mpsc::TryRecvError::Empty) if plans.is_empty() => {
                        self.flush(&mut batch)?;
                        continue;
                    }
                    Err(mpsc::TryRecvError::Empty) => match self.seal(&mut plans, &mut batch) {
                        Ok(()) => continue,
                        Err(e) => break Err(e),
                    },
                    Err(mpsc::TryRecvError::Disconnected) => None,
                }
            };
            let Some(line) = next else { break Ok(()) };
            n += 1;
            let planned = line
                .context("cannot read stdin")
                .and_then(|line| self.parse_line(n, &line));
            match planned {
                Ok(Some(p)) => plans.push(p),
                Ok(None) => {}
                Err(e) => {
                    bad_line = Some(n);
                    break Err(e);
                }
            }
            if (plans.len() >= SEAL_AT_ONCE || plans.len() + batch.len() >= MAX_BATCH)
                && let Err(e) = self.seal(&mut plans, &mut batch)
            {
                break Err(e);
            }
            if batch.len() >= MAX_BATCH {
                self.flush(&mut batch)?;
            }
        };
        // What came before a bad line (or a message that cannot be sealed) is sent and
        // reported first.
        let sealed = self.seal(&mut plans, &mut batch);
        self.flush(&mut batch)?;
        if let (Some(line), Err(e)) = (bad_line, &result) {
            super::emit(&json!({"type": "error", "line": line, "error": error_text(e)}))?;
        }
        result.and(sealed)
    }

    /// Seals `plans` (several at once: `sealing`) onto `batch`, in order. What `batch` held
    /// is sent meanwhile, on this thread, while another seals. On a message that cannot be
    /// sealed, those before it are on `batch` and the rest are dropped.
    fn seal(&mut self, plans: &mut Vec<Plan>, batch: &mut Vec<Prepared>) -> Result<()> {
        let plans = std::mem::take(plans);
        let sealed = if batch.is_empty() {
            sealing::seal_all(&self.id, &self.card_json, &plans)
        } else {
            // Shared with the sealing thread while `flush` borrows `self`.
            let (id, card) = (self.id.clone(), self.card_json.clone());
            let (sealed, flushed) = std::thread::scope(|s| {
                let sealing = s.spawn(|| sealing::seal_all(&id, &card, &plans));
                let flushed = self.flush(batch);
                (sealing.join().expect("sealing thread"), flushed)
            });
            // A local failure (disk, stdout) ends the run, as a flush of its own does; what
            // it left is in the outbox, and the lines sealed meanwhile were never queued.
            if let Err(e) = flushed {
                batch.clear();
                return Err(e);
            }
            sealed
        };
        for (plan, sealed) in plans.into_iter().zip(sealed) {
            batch.push(self.deliveries(plan, sealed?));
        }
        Ok(())
    }

    /// One `--json` line, planned; `None` for a blank line.
    fn parse_line(&mut self, n: usize, line: &str) -> Result<Option<Plan>> {
        if line.trim().is_empty() {
            return Ok(None);
        }
        let parsed: JsonLine = serde_json::from_str(line)
            .map_err(anyhow::Error::from)
            .context(Fail(Exit::Usage, format!("stdin line {n}: not a message")))
            .hint(r#"each line is {"to":["bob"],"body":"…","files":["a.png"],"ttl":"2d"} (or "group":"ops" for "to")"#)?;
        let ttl = match parsed.ttl.as_deref() {
            Some(t) => Some(
                parse_duration(t).context(Fail(Exit::Usage, format!("stdin line {n}: bad ttl")))?,
            ),
            None => self.default_ttl,
        };
        check_not_empty(&parsed.body, &parsed.files)
            .with_context(|| format!("stdin line {n}"))
            .hint(r#"give it a "body" (its text) or "files" (paths to attach)"#)?;
        if let Some(r) = &parsed.reply_to {
            check_reply_to(r).with_context(|| format!("stdin line {n}"))?;
        }
        let plan = match &parsed.group {
            Some(g) if parsed.to.is_empty() => {
                self.plan_group(g, parsed.body, &parsed.files, parsed.reply_to, ttl)
            }
            Some(_) => Err(fail(Exit::Usage, "a line has both \"to\" and \"group\"")),
            None => self.plan(&parsed.to, parsed.body, &parsed.files, parsed.reply_to, ttl),
        }
        .with_context(|| format!("stdin line {n}"))?;
        Ok(Some(plan))
    }

    /// Seals a message and lists its deliveries: every relay of every recipient.
    fn prepare(&mut self, plan: Plan) -> Result<Prepared> {
        let sealed = sealing::seal_one(&self.id, &self.card_json, &plan)?;
        Ok(self.deliveries(plan, sealed))
    }

    /// A sealed message's deliveries: every relay of every recipient.
    fn deliveries(&mut self, plan: Plan, sealed: Vec<crate::crypto::Sealed>) -> Prepared {
        let mut rows = Vec::new();
        let mut report = Vec::new();
        for s in &sealed {
            let payload = B64.encode(&s.ciphertext);
            for &i in &s.recipients {
                let r = &plan.recipients[i];
                if r.relays.is_empty() {
                    report.push(json!({"recipient": r.name, "relay": null, "ok": false,
                        "error": format!("{}'s card lists no relay", r.name)}));
                    self.failed += 1;
                }
                for relay in &r.relays {
                    rows.push(OutboxRow {
                        id: plan.inner.id.clone(),
                        relay: relay.clone(),
                        mailbox: r.mailbox.clone(),
                        recipient: r.name.clone(),
                        envelope: Envelope {
                            v: wire::V,
                            id: plan.inner.id.clone(),
                            payload: payload.clone(),
                            ttl: plan.ttl,
                        },
                        attempts: 0,
                        created: now(),
                    });
                }
            }
        }
        Prepared {
            names: plan.recipients.iter().map(|r| r.name.clone()).collect(),
            fingerprints: plan
                .recipients
                .iter()
                .map(|r| r.fingerprint.clone())
                .collect(),
            inner: plan.inner,
            rows,
            report,
        }
    }

    /// Queues every delivery of the batch in the outbox and archives the messages (one
    /// transaction), posts them, records the outcomes with the final `sent` lines (one
    /// transaction), and prints one `sent` line each, in input order. A crash anywhere
    /// leaves each message archived and its undelivered envelopes queued.
    fn flush(&mut self, batch: &mut Vec<Prepared>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let queued: Vec<Archived> = batch
            .iter()
            .map(|p| {
                let mut report = p.report.clone();
                report.extend(p.rows.iter().map(|r| delivery_report(r, false, None, true)));
                archive_row(p, &sent_line(p, report))
            })
            .collect();
        // Moved, not copied: a group message's rows each hold its payload (99 copies).
        let counts: Vec<usize> = batch.iter().map(|p| p.rows.len()).collect();
        let rows: Vec<OutboxRow> = batch
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.rows))
            .collect();
        self.store.outbox_add(&queued, &rows)?;
        self.sent_now
            .extend(batch.iter().map(|p| p.inner.id.clone()));
        let client = self.client.clone();
        let (mut results, mut outcomes) = self.post(&client, &rows);
        let extra = self.follow_moves(&rows, &mut results, &mut outcomes)?;
        let (extra_results, extra_outcomes) = self.post(&client, &extra);
        outcomes.extend(extra_outcomes);
        let mut results = results.into_iter();
        let mut lines: Vec<(&str, Value)> = batch
            .iter()
            .zip(&counts)
            .map(|(p, &n)| {
                let mut report = p.report.clone();
                report.extend(results.by_ref().take(n));
                (p.inner.id.as_str(), sent_line(p, report))
            })
            .collect();
        refresh::merge_reports(&mut lines, &extra, extra_results);
        let updates: Vec<(&str, String)> =
            lines.iter().map(|(id, l)| (*id, l.to_string())).collect();
        self.store.outbox_results(&outcomes, &updates)?;
        for (_, line) in &lines {
            for d in line["deliveries"].as_array().into_iter().flatten() {
                self.say_undelivered(None, d);
            }
            super::emit(line)?;
        }
        batch.clear();
        Ok(())
    }

    /// Posts rows, every relay in parallel over one connection pool; several envelopes
    /// for one relay go in batch requests. Returns one report entry per row, in order, and
    /// the outcomes for the outbox (an error for those to try again).
    fn post<'r>(
        &mut self,
        client: &Client,
        rows: &'r [OutboxRow],
    ) -> (Vec<Value>, Vec<(&'r OutboxRow, Option<String>)>) {
        let now = now();
        let fresh: Vec<_> = rows.iter().map(|r| r.envelope_now(now)).collect();
        let envelopes: Vec<(&str, &str, &Envelope)> = rows
            .iter()
            .zip(&fresh)
            .map(|(r, e)| (r.relay.as_str(), r.mailbox.as_str(), e.as_ref()))
            .collect();
        let results = delivery::post_all(client, &self.tokens, &envelopes);
        let mut report = Vec::with_capacity(rows.len());
        let mut outcomes = Vec::with_capacity(rows.len());
        for (row, result) in rows.iter().zip(results) {
            match result {
                Ok(()) => {
                    self.ok += 1;
                    outcomes.push((row, None));
                    report.push(delivery_report(row, true, None, false));
                }
                Err(e) => {
                    self.failed += 1;
                    let msg = e.to_string();
                    // Sending the same envelope again cannot succeed: drop it from the outbox.
                    let keep = !delivery::is_permanent(&e);
                    outcomes.push((row, keep.then(|| msg.clone())));
                    report.push(delivery_report(row, false, Some(&msg), keep));
                }
            }
        }
        (report, outcomes)
    }

    fn exit(&self) -> Exit {
        match (self.ok, self.failed) {
            (_, 0) => Exit::Ok,
            (0, _) => Exit::Network,
            _ => Exit::Partial,
        }
    }
}

/// One delivery as `sent`, `retried` and `expired` lines report it: `queued` (still in the
/// outbox) is said only for one that is not done.
fn delivery_report(r: &OutboxRow, ok: bool, error: Option<&str>, queued: bool) -> Value {
    let mut v = json!({"recipient": r.recipient, "relay": r.relay, "ok": ok});
    if let Some(e) = error {
        v["error"] = e.into();
    }
    if !ok {
        v["queued"] = queued.into();
    }
    v
}

fn sent_line(p: &Prepared, deliveries: Vec<Value>) -> Value {
    let mut line = json!({
        "type": "sent",
        "id": p.inner.id,
        "to": p.names,
        "ts": p.inner.ts,
        "deliveries": deliveries,
    });
    // The archive keeps this line: what `export` knows of a sent message's attachments
    // (their bytes are not kept) and of what it answered.
    if !p.inner.files.is_empty() {
        line["files"] = p
            .inner
            .files
            .iter()
            .map(|f| json!({"name": f.name, "size": f.size, "media_type": f.media_type}))
            .collect();
    }
    if let Some(r) = &p.inner.reply_to {
        line["reply_to"] = json!(r);
    }
    if let Some(g) = &p.inner.group {
        line["group"] = json!(g);
    }
    line
}

fn archive_row(p: &Prepared, line: &Value) -> Archived {
    let inner = &p.inner;
    Archived {
        id: inner.id.clone(),
        direction: "out".into(),
        sender: inner.from.clone(),
        recipients: p.fingerprints.clone(),
        group: inner.group.clone(),
        ts: inner.ts,
        received: inner.ts,
        kind: inner.kind.clone(),
        body: inner.body.clone(),
        json: line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Kind, SecretIdentity};

    /// Direct and group sends both build recipients here: a relay the card lists as
    /// draining (its owner is moving away) is never posted to.
    #[test]
    fn a_recipient_never_gets_a_draining_relay() {
        let public = SecretIdentity::generate(Kind::Age, "bob").unwrap().public();
        let card = wire::Card {
            type_: "card".into(),
            v: 1,
            name: "bob".into(),
            kind: "age".into(),
            fingerprint: public.fingerprint(),
            age: None,
            pgp: None,
            mailbox_key: String::new(),
            mailbox: "mb".into(),
            relays: vec!["http://old".into(), "http://new".into()],
            draining: vec!["http://old".into()],
            seq: 2,
            issued: 0,
            expires: None,
            sig: String::new(),
        };
        let r = Recipient::from_card("bob".into(), public, card);
        assert_eq!(r.relays, ["http://new"]);
        assert_eq!(r.mailbox, "mb");
    }
}
