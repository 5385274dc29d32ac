//! `pigeon send`: seal a message for contacts and post it to every relay on their cards.
//!
//! Every delivery (one envelope, one mailbox, one relay) is written to the outbox before
//! it is posted and leaves it when a relay accepted it, so `send --retry` (and every later
//! send) finishes what failed, with the same envelope id: relays store an id once.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Ctx;
use crate::cli::SendArgs;
use crate::client::{Client, RelayError};
use crate::config::{Config, parse_duration};
use crate::crypto::PublicIdentity;
use crate::error::{Exit, Fail, WithHint, fail};
use crate::keys::{Contacts, Identity, now};
use crate::message;
use crate::store::{Archived, OutboxRow, Store};
use crate::wire::{self, Attachment, Envelope, Inner};

/// One line of `send --json`. Unknown fields are ignored.
#[derive(Debug, Deserialize)]
struct JsonLine {
    to: Vec<String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    files: Vec<PathBuf>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    ttl: Option<String>,
}

/// What one message will be, validated before anything is sent.
struct Plan {
    recipients: Vec<Recipient>,
    inner: Inner,
    ttl: Option<u64>,
}

struct Recipient {
    name: String,
    public: PublicIdentity,
    mailbox: String,
    relays: Vec<String>,
}

/// Everything one `send` process shares: keys parsed once, one connection pool.
struct Sender {
    id: Identity,
    card_json: Vec<u8>,
    contacts: Contacts,
    store: Store,
    client: Client,
    tokens: BTreeMap<String, String>,
    default_ttl: Option<u64>,
    ok: usize,
    failed: usize,
}

pub fn run(ctx: &Ctx, args: SendArgs) -> Result<Exit> {
    let cfg = Config::load(&ctx.home)?;
    let id = ctx.identity(args.passphrase_file.as_deref())?;
    let default_ttl = match args.ttl.as_deref().or(cfg.send.ttl.as_deref()) {
        Some(t) => Some(parse_duration(t).context(Fail(Exit::Usage, "bad --ttl".into()))?),
        None => None,
    };
    let mut tokens = BTreeMap::new();
    for (relay, file) in &cfg.send.tokens {
        let t = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the token file for {relay}"))?;
        tokens.insert(relay.trim_end_matches('/').to_string(), t.trim().to_string());
    }
    let mut s = Sender {
        card_json: serde_json::to_vec(&id.card()?)?,
        id,
        contacts: Contacts::open(&ctx.home),
        store: Store::open(&ctx.home.archive_path())?,
        client: Client::new(Duration::from_secs(cfg.send.timeout.unwrap_or(20))),
        tokens,
        default_ttl,
        ok: 0,
        failed: 0,
    };

    // Whatever an earlier send could not deliver goes first.
    s.retry_outbox()?;
    if args.retry {
        return Ok(s.exit());
    }
    if args.json {
        let stdin = std::io::stdin();
        for (n, line) in stdin.lock().lines().enumerate() {
            let line = line.context("cannot read stdin")?;
            if line.trim().is_empty() {
                continue;
            }
            let parsed: JsonLine = serde_json::from_str(&line)
                .map_err(anyhow::Error::from)
                .context(Fail(Exit::Usage, format!("stdin line {}: not a message", n + 1)))
                .hint(r#"each line is {"to":["bob"],"body":"…","files":["a.png"],"ttl":"2d"}"#)?;
            let ttl = match parsed.ttl.as_deref() {
                Some(t) => Some(
                    parse_duration(t)
                        .context(Fail(Exit::Usage, format!("stdin line {}: bad ttl", n + 1)))?,
                ),
                None => s.default_ttl,
            };
            let plan = s
                .plan(&parsed.to, parsed.body, &parsed.files, parsed.reply_to, ttl)
                .with_context(|| format!("stdin line {}", n + 1))?;
            s.send(plan)?;
        }
    } else {
        if args.to.is_empty() {
            return Err(fail(Exit::Usage, "no recipient"))
                .hint("name one with --to NAME (or use --json, or --retry)");
        }
        let body = match args.body {
            Some(b) => b,
            None => read_body(!args.file.is_empty())?,
        };
        let ttl = s.default_ttl;
        let plan = s.plan(&args.to, body, &args.file, args.reply_to, ttl)?;
        s.send(plan)?;
    }
    Ok(s.exit())
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
    let body = String::from_utf8(bytes)
        .map_err(|_| fail(Exit::Usage, "the message on stdin is not UTF-8 text"))
        .hint("send binary data as a file: --file PATH")?;
    if body.is_empty() && !has_files {
        return Err(fail(Exit::Usage, "the message is empty (stdin had nothing)"))
            .hint("give the text as an argument or on stdin");
    }
    Ok(body)
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
            let contact = self.contacts.get(name)?;
            if recipients.iter().any(|r| r.public.fingerprint() == contact.fingerprint) {
                continue;
            }
            let (card, public) = contact.checked()?;
            recipients.push(Recipient {
                name: contact.name.clone(),
                public,
                mailbox: card.mailbox,
                relays: card.relays,
            });
        }
        let mut attachments = Vec::new();
        for path in files {
            attachments.push(attachment(path)?);
        }
        if let Some(r) = &reply_to
            && !wire::is_message_id(r)
        {
            return Err(fail(Exit::Usage, format!("reply_to {r:?} is not a message id")));
        }
        let inner = Inner {
            v: wire::V,
            id: message::new_id(),
            from: self.id.meta.fingerprint.clone(),
            to: recipients.iter().map(|r| r.public.fingerprint()).collect(),
            group: None,
            ts: now(),
            kind: if attachments.is_empty() { "text" } else { "file" }.into(),
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

    /// Seals, queues every delivery in the outbox, posts them in parallel, reports.
    fn send(&mut self, plan: Plan) -> Result<()> {
        let publics: Vec<&PublicIdentity> = plan.recipients.iter().map(|r| &r.public).collect();
        let sealed = message::seal(&self.id, &self.card_json, &publics, &plan.inner, false)?;
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
                    });
                }
            }
        }
        self.store.outbox_add(&rows, now())?;
        report.extend(self.deliver(&rows)?);
        let names: Vec<&str> = plan.recipients.iter().map(|r| r.name.as_str()).collect();
        let line = json!({
            "type": "sent",
            "id": plan.inner.id,
            "to": names,
            "ts": plan.inner.ts,
            "deliveries": report,
        });
        self.archive(&plan.inner, &line)?;
        super::emit(&line)
    }

    fn archive(&self, inner: &Inner, line: &Value) -> Result<()> {
        self.store.insert(&Archived {
            id: inner.id.clone(),
            direction: "out".into(),
            sender: inner.from.clone(),
            recipients: inner.to.clone(),
            group: inner.group.clone(),
            ts: inner.ts,
            received: inner.ts,
            kind: inner.kind.clone(),
            body: inner.body.clone(),
            json: line.to_string(),
        })?;
        Ok(())
    }

    /// Delivers what waits in the outbox, one `retried` line per message.
    fn retry_outbox(&mut self) -> Result<()> {
        let pending = self.store.outbox_pending()?;
        let mut by_id: BTreeMap<String, Vec<OutboxRow>> = BTreeMap::new();
        for row in pending {
            by_id.entry(row.id.clone()).or_default().push(row);
        }
        for (id, rows) in by_id {
            let report = self.deliver(&rows)?;
            super::emit(&json!({"type": "retried", "id": id, "deliveries": report}))?;
        }
        Ok(())
    }

    /// Posts rows in parallel (a few at a time, over one connection pool) and records the
    /// outcome of each in the outbox.
    fn deliver(&mut self, rows: &[OutboxRow]) -> Result<Vec<Value>> {
        const PARALLEL: usize = 8;
        let mut results: Vec<Result<(), RelayError>> = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(PARALLEL) {
            let out: Vec<Result<(), RelayError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|row| {
                        let client = &self.client;
                        let token = self.tokens.get(&row.relay).map(String::as_str);
                        scope.spawn(move || {
                            client
                                .post(&row.relay, &row.mailbox, &row.envelope, token)
                                .map(|_| ())
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(RelayError::Protocol("panic".into())))
                    })
                    .collect()
            });
            results.extend(out);
        }
        let mut report = Vec::new();
        for (row, result) in rows.iter().zip(results) {
            match result {
                Ok(()) => {
                    self.ok += 1;
                    self.store.outbox_result(row, None)?;
                    report.push(json!({"recipient": row.recipient, "relay": row.relay, "ok": true}));
                }
                Err(e) => {
                    self.failed += 1;
                    let msg = e.to_string();
                    if is_permanent(&e) {
                        // Sending the same envelope again cannot succeed.
                        self.store.outbox_result(row, None)?;
                    } else {
                        self.store.outbox_result(row, Some(&msg))?;
                    }
                    report.push(json!({"recipient": row.recipient, "relay": row.relay,
                        "ok": false, "error": msg, "queued": !is_permanent(&e)}));
                }
            }
        }
        Ok(report)
    }

    fn exit(&self) -> Exit {
        match (self.ok, self.failed) {
            (_, 0) => Exit::Ok,
            (0, _) => Exit::Network,
            _ => Exit::Partial,
        }
    }
}

/// Errors that a retry cannot fix: the relay refused the envelope itself.
fn is_permanent(e: &RelayError) -> bool {
    match e {
        RelayError::Status { status, .. } => {
            matches!(status, 400 | 404 | 405 | 413 | 414 | 415 | 422)
        }
        _ => false,
    }
}

fn attachment(path: &Path) -> Result<Attachment> {
    let bytes = std::fs::read(path)
        .map_err(anyhow::Error::from)
        .context(Fail(
            Exit::Usage,
            format!("cannot read the attachment {}", path.display()),
        ))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".into());
    Ok(Attachment {
        media_type: media_type(&name).into(),
        size: bytes.len() as u64,
        data: B64.encode(&bytes),
        name,
    })
}

/// A media type from the file name, for the common cases; the rest are octet streams.
pub fn media_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}
