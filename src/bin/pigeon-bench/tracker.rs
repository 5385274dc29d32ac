//! The tracker's load: `tracker` makes `--cards` real signed age cards (fresh identities,
//! signed as `pigeon card` signs them), publishes each once from concurrent keep-alive
//! clients (durable: every 201 is on disk), then looks them up, alternately by fingerprint
//! and by name, spread over all of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;

use crate::http::{Conn, Target, request};
use crate::load::{Tally, mix, report, run_clients, text};
use pigeon::crypto::{Kind, SecretIdentity};
use pigeon::wire::{self, Card};

#[derive(Debug, clap::Args)]
pub struct TrackerArgs {
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Cards to make and publish
    #[arg(long, default_value_t = 10_000)]
    cards: u64,
    /// Lookups after publishing
    #[arg(long, default_value_t = 300_000)]
    lookups: u64,
    #[arg(long, default_value_t = 120)]
    max_secs: u64,
}

/// (fingerprint, name, card JSON) of a fresh age identity.
fn make_card(i: u64, run: &str) -> Result<(String, String, String)> {
    let name = format!("bench-{run}-{i}");
    let secret = SecretIdentity::generate(Kind::Age, &name)?;
    let public = secret.public();
    let now = wire::now();
    let mut card = Card {
        type_: "card".into(),
        v: wire::V,
        name: name.clone(),
        kind: "age".into(),
        fingerprint: public.fingerprint(),
        age: public.age_recipient(),
        pgp: None,
        mailbox_key: hex::encode(public.mailbox_key()),
        mailbox: wire::mailbox_id(&public.mailbox_key()),
        relays: vec!["http://127.0.0.1:7447".into()],
        draining: Vec::new(),
        seq: 1,
        issued: now,
        expires: Some(now + 30 * 86_400),
        sig: String::new(),
    };
    pigeon::keys::card::sign_card(&mut card, &secret)?;
    Ok((
        card.fingerprint.clone(),
        name,
        serde_json::to_string(&card)?,
    ))
}

pub fn run(a: &TrackerArgs) -> Result<()> {
    let target = Target::parse(&a.url)?;
    if a.cards == 0 || a.clients == 0 {
        bail!("--cards and --clients must be at least 1");
    }
    let run = format!("{:08x}", mix(wire::now()) as u32);
    let t0 = Instant::now();
    let cards: Vec<(String, String, String)> = (0..a.cards)
        .map(|i| make_card(i, &run))
        .collect::<Result<_>>()?;
    eprintln!(
        "pigeon-bench: made {} signed cards in {:.2} s",
        a.cards,
        t0.elapsed().as_secs_f64()
    );
    let cards = Arc::new(cards);
    let deadline = Instant::now() + Duration::from_secs(a.max_secs);

    // Publish: each card once.
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tallies = run_clients(a.clients, |_| {
        let (target, cards, next) = (target.clone(), cards.clone(), next.clone());
        move || -> Result<Tally> {
            let mut conn = Conn::open(&target)?;
            let mut t = Tally::default();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= cards.len() as u64 || Instant::now() >= deadline {
                    return Ok(t);
                }
                let (fp, _, body) = &cards[k as usize];
                let req = request(
                    &target,
                    "PUT",
                    &format!("/v1/cards/{fp}"),
                    &[],
                    body.as_bytes(),
                );
                timed_call(&mut conn, &req, &mut t, 201)?;
            }
        }
    })?;
    let secs = started.elapsed().as_secs_f64();
    report(
        "tracker_publish",
        a.clients,
        secs,
        tallies,
        json!({"cards": a.cards}),
    );

    // Lookups: by fingerprint and by name in turn, cards picked all over.
    let next = Arc::new(AtomicU64::new(0));
    let lookups = a.lookups;
    let started = Instant::now();
    let tallies = run_clients(a.clients, |_| {
        let (target, cards, next) = (target.clone(), cards.clone(), next.clone());
        move || -> Result<Tally> {
            let mut conn = Conn::open(&target)?;
            let mut t = Tally::default();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= lookups || Instant::now() >= deadline {
                    return Ok(t);
                }
                let (fp, name, _) = &cards[(mix(k) % cards.len() as u64) as usize];
                let path = if k % 2 == 0 {
                    format!("/v1/cards/{fp}")
                } else {
                    format!("/v1/names/{name}")
                };
                let req = request(&target, "GET", &path, &[], b"");
                timed_call(&mut conn, &req, &mut t, 200)?;
            }
        }
    })?;
    let secs = started.elapsed().as_secs_f64();
    report(
        "tracker_lookup",
        a.clients,
        secs,
        tallies,
        json!({"cards": a.cards}),
    );
    Ok(())
}

/// The tracker rows of the report table.
pub fn rows(
    r: &std::collections::HashMap<String, serde_json::Value>,
    row: &mut crate::export::Row<'_>,
) {
    let get = |n: &str, k: &str| r.get(n).and_then(|v| v[k].as_f64());
    for (name, fig, target, min) in [
        (
            "tracker_lookup",
            "Tracker card lookups (by fingerprint and name), 16 clients",
            "≥ 30,000/s, p99 < 2 ms",
            30_000.0,
        ),
        (
            "tracker_publish",
            "Tracker durable card publishes, 16 clients",
            "≥ 5,000/s",
            5_000.0,
        ),
    ] {
        let Some(per_sec) = get(name, "per_sec") else {
            continue;
        };
        let (p50, p99) = (
            get(name, "p50_ms").unwrap_or(0.0),
            get(name, "p99_ms").unwrap_or(0.0),
        );
        let cards = get(name, "cards").unwrap_or(0.0);
        let met = per_sec >= min && (name != "tracker_lookup" || p99 < 2.0);
        row(
            fig,
            format!(
                "{} /s ({} cards stored); p50 {p50:.2} ms, p99 {p99:.2} ms",
                crate::report::num(per_sec),
                crate::report::num(cards)
            ),
            target,
            "—".into(),
            Some(met),
        );
    }
    for (key, fig, target, lim) in [
        (
            "tracker_idle_kb",
            "Tracker RSS, idle (`pigeond tracker`)",
            "≤ 10 MB",
            10.0,
        ),
        (
            "tracker_full_idle_kb",
            "Tracker RSS, idle (`pigeon tracker serve`, the full binary)",
            "(≤ 10 MB)",
            10.0,
        ),
        (
            "pigeond_tracker_idle_kb",
            "Relay + tracker RSS, idle (`pigeond --tracker`)",
            "(≤ 10 MB)",
            10.0,
        ),
        (
            "tracker_peak_kb",
            "Tracker RSS, peak during the load",
            "—",
            f64::MAX,
        ),
    ] {
        if let Some(kb) = get("tracker_rss", key) {
            let mib = kb / 1024.0;
            let met = (lim < f64::MAX).then_some(mib <= lim);
            row(fig, format!("{mib:.1} MiB"), target, "—".into(), met);
        }
    }
}

/// One request, its latency and its outcome in `t`: `want` is the status that counts as ok.
fn timed_call(conn: &mut Conn, req: &[u8], t: &mut Tally, want: u16) -> Result<()> {
    let t1 = Instant::now();
    let reply = conn.call(req)?;
    t.micros
        .push(t1.elapsed().as_micros().min(u32::MAX as u128) as u32);
    t.requests += 1;
    match reply.status {
        s if s == want => t.ok += 1,
        s => t.refuse(1, || format!("HTTP {s}: {}", text(&reply.body))),
    }
    Ok(())
}
