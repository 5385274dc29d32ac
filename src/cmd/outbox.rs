//! `pigeon outbox`: the deliveries that wait for a relay (the next send, or `send --retry`,
//! tries them again), and giving one up.

use anyhow::Result;
use serde_json::{Value, json};

use super::Ctx;
use crate::cli::OutboxCommand;
use crate::error::{Exit, WithHint, fail};
use crate::store::Store;

pub fn run(ctx: &Ctx, cmd: OutboxCommand) -> Result<Exit> {
    let archive = ctx.home.archive_path();
    match cmd {
        OutboxCommand::List => {
            // Nothing was ever sent: nothing waits, and no archive is made to say so.
            if !archive.exists() {
                return Ok(Exit::Ok);
            }
            for e in Store::open(&archive)?.outbox_entries()? {
                super::emit(&json!({
                    "type": "queued",
                    "id": e.id,
                    "to": e.recipient,
                    "relay": e.relay,
                    "attempts": e.attempts,
                    "last_error": e.last_error,
                    "queued_since": e.created,
                }))?;
            }
            Ok(Exit::Ok)
        }
        OutboxCommand::Drop { id, relay } => {
            let relay = relay
                .as_deref()
                .map(super::relay::normalize_url)
                .transpose()?;
            let nothing = || {
                fail(
                    Exit::NotFound,
                    format!(
                        "nothing queued for message {:?}{}",
                        crate::output::sanitize(&id),
                        relay
                            .as_ref()
                            .map(|r| format!(" to {r}"))
                            .unwrap_or_default()
                    ),
                )
            };
            if !archive.exists() {
                return Err(nothing()).hint("`pigeon outbox list` shows what waits");
            }
            let mut store = Store::open(&archive)?;
            let rows: Vec<_> = (store.outbox_pending()?.into_iter())
                .filter(|r| r.id == id && relay.as_ref().is_none_or(|u| *u == r.relay))
                .collect();
            if rows.is_empty() {
                return Err(nothing()).hint("`pigeon outbox list` shows what waits");
            }
            let report: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({"recipient": r.recipient, "relay": r.relay, "ok": false,
                        "error": "dropped from the outbox", "queued": false})
                })
                .collect();
            // The history says what became of them, as for a delivery given up.
            let mut lines = Vec::new();
            if let Some(text) = store.sent_line(&id)? {
                let mut line: Value = serde_json::from_str(&text)?;
                super::send::patch_deliveries(&mut line, &report);
                lines.push((id.as_str(), line.to_string()));
            }
            let outcomes: Vec<_> = rows.iter().map(|r| (r, None)).collect();
            store.outbox_results(&outcomes, &lines)?;
            super::emit(&json!({"type": "dropped", "id": id, "deliveries": report}))?;
            Ok(Exit::Ok)
        }
    }
}
