//! The load: `ingest` posts envelopes from concurrent keep-alive clients (single posts or
//! batches), `fetch` reads them back as their mailbox owners, with signed requests.
//!
//! Mailbox keys are derived from `--seed` and an index, so `fetch --seed S` reads exactly
//! the mailboxes `ingest --seed S` filled: envelope number k goes to mailbox k mod M.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use rand::RngCore as _;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::http::{Conn, Target, request};
use crate::{emit, percentiles};

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// The server, e.g. http://127.0.0.1:7447 (loopback only)
    #[arg(long)]
    url: String,
    /// Concurrent keep-alive clients (one thread each)
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Envelopes to post in all
    #[arg(long)]
    count: u64,
    /// Envelopes per request: 1 posts to /v1/mailboxes/{m}, more use /v1/batch
    #[arg(long, default_value_t = 1)]
    batch: u64,
    /// Mailboxes the envelopes are spread over
    #[arg(long, default_value_t = 100)]
    mailboxes: u64,
    /// Names the mailbox keys (fetch reads them with the same seed)
    #[arg(long, default_value = "ingest")]
    seed: String,
    /// Payload bytes per envelope (before base64)
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Stop after this many seconds even if not all were posted
    #[arg(long, default_value_t = 120)]
    max_secs: u64,
    /// The result's name in the JSON line
    #[arg(long, default_value = "ingest")]
    name: String,
    /// Random-order ids (as other clients may make them), not pigeon's time-ordered ones
    #[arg(long)]
    random_ids: bool,
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 16)]
    clients: usize,
    #[arg(long, default_value_t = 100)]
    mailboxes: u64,
    #[arg(long, default_value = "ingest")]
    seed: String,
    /// Envelopes per page (the `limit` query parameter)
    #[arg(long, default_value_t = 100)]
    page: u64,
    #[arg(long, default_value_t = 120)]
    max_secs: u64,
    #[arg(long, default_value = "fetch")]
    name: String,
}

/// The mailbox key number `i` of `seed`.
pub fn mailbox_key(seed: &str, i: u64) -> SigningKey {
    let d: [u8; 32] = Sha256::digest(format!("pigeon-bench/{seed}/{i}")).into();
    SigningKey::from_bytes(&d)
}

/// SplitMix64's finaliser: a bijection on u64 that scatters consecutive inputs.
pub(crate) fn mix(k: u64) -> u64 {
    let mut z = k.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn mailbox_ids(seed: &str, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| pigeon::wire::mailbox_id(mailbox_key(seed, i).verifying_key().as_bytes()))
        .collect()
}

/// What each client thread brings back.
#[derive(Default)]
pub(crate) struct Tally {
    pub ok: u64,
    pub refused: u64,
    pub requests: u64,
    pub first_error: Option<String>,
    pub micros: Vec<u32>,
}

impl Tally {
    pub fn refuse(&mut self, n: u64, why: impl FnOnce() -> String) {
        self.refused += n;
        if self.first_error.is_none() {
            self.first_error = Some(why());
        }
    }
}

#[derive(Deserialize)]
struct BatchReply {
    results: Vec<BatchResult>,
}
#[derive(Deserialize)]
struct BatchResult {
    status: u16,
}

pub fn ingest(a: &IngestArgs) -> Result<()> {
    let target = Target::parse(&a.url)?;
    if a.batch == 0 || a.clients == 0 || a.mailboxes == 0 {
        bail!("--batch, --clients and --mailboxes must be at least 1");
    }
    let mboxes = Arc::new(mailbox_ids(&a.seed, a.mailboxes));
    let mut payload = vec![0u8; a.size];
    rand::rngs::OsRng.fill_bytes(&mut payload);
    let payload = Arc::new(B64.encode(&payload));
    let mut run = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut run);
    let run = hex::encode(run);
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(a.max_secs);
    let (count, batch, random_ids) = (a.count, a.batch, a.random_ids);
    let started = Instant::now();
    let tallies = run_clients(a.clients, |_| {
        let (target, mboxes, payload, next, run) = (
            target.clone(),
            mboxes.clone(),
            payload.clone(),
            next.clone(),
            run.clone(),
        );
        move || -> Result<Tally> {
            let mut conn = Conn::open(&target)?;
            let mut t = Tally::default();
            // Ids as pigeon makes them (time-ordered), or with `--random-ids` a fixed run
            // prefix and 64 scattered bits: random order, as clients with random ids make
            // them (the mix is a bijection, so they stay unique).
            let envelope = |k: u64| {
                let id = if random_ids {
                    format!("{run}{:016x}", mix(k))
                } else {
                    pigeon::message::new_id()
                };
                format!(r#"{{"v":1,"id":"{id}","payload":"{payload}"}}"#)
            };
            loop {
                let k = next.fetch_add(batch, Ordering::Relaxed);
                if k >= count || Instant::now() >= deadline {
                    return Ok(t);
                }
                let n = batch.min(count - k);
                let req = if batch == 1 {
                    let path = format!(
                        "/v1/mailboxes/{}",
                        mboxes[(k % mboxes.len() as u64) as usize]
                    );
                    request(&target, "POST", &path, &[], envelope(k).as_bytes())
                } else {
                    let items: Vec<String> = (k..k + n)
                        .map(|j| {
                            format!(
                                r#"{{"mailbox":"{}","envelope":{}}}"#,
                                mboxes[(j % mboxes.len() as u64) as usize],
                                envelope(j)
                            )
                        })
                        .collect();
                    let body = format!(r#"{{"v":1,"items":[{}]}}"#, items.join(","));
                    request(&target, "POST", "/v1/batch", &[], body.as_bytes())
                };
                let t0 = Instant::now();
                let reply = conn.call(&req)?;
                t.micros
                    .push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                t.requests += 1;
                match (batch, reply.status) {
                    (1, 201) => t.ok += 1,
                    (1, s) => t.refuse(1, || format!("HTTP {s}: {}", text(&reply.body))),
                    (_, 200) => {
                        let r: BatchReply =
                            serde_json::from_slice(&reply.body).context("bad batch reply")?;
                        let stored = r.results.iter().filter(|r| r.status == 201).count() as u64;
                        t.ok += stored;
                        if stored < n {
                            let s = r.results.iter().find(|r| r.status != 201).map(|r| r.status);
                            t.refuse(n - stored, || format!("batch item status {s:?}"));
                        }
                    }
                    (_, s) => t.refuse(n, || format!("HTTP {s}: {}", text(&reply.body))),
                }
            }
        }
    })?;
    let secs = started.elapsed().as_secs_f64();
    report(
        &a.name,
        a.clients,
        secs,
        tallies,
        json!({"batch": a.batch, "count": a.count,
        "mailboxes": a.mailboxes, "size": a.size, "random_ids": a.random_ids}),
    );
    Ok(())
}

#[derive(Deserialize)]
struct Page {
    envelopes: Vec<Seq>,
    #[serde(default)]
    more: bool,
}
#[derive(Deserialize)]
struct Seq {
    seq: u64,
}

pub fn fetch(a: &FetchArgs) -> Result<()> {
    let target = Target::parse(&a.url)?;
    let keys: Arc<Vec<SigningKey>> =
        Arc::new((0..a.mailboxes).map(|i| mailbox_key(&a.seed, i)).collect());
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(a.max_secs);
    let page = a.page;
    let started = Instant::now();
    let tallies = run_clients(a.clients, |_| {
        let (target, keys, next) = (target.clone(), keys.clone(), next.clone());
        move || -> Result<Tally> {
            let mut conn = Conn::open(&target)?;
            let mut t = Tally::default();
            loop {
                let m = next.fetch_add(1, Ordering::Relaxed) as usize;
                if m >= keys.len() {
                    return Ok(t);
                }
                let key = &keys[m];
                let path = format!(
                    "/v1/mailboxes/{}",
                    pigeon::wire::mailbox_id(key.verifying_key().as_bytes())
                );
                let mut after = 0;
                loop {
                    if Instant::now() >= deadline {
                        return Ok(t);
                    }
                    let query = format!("after={after}&limit={page}");
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)?
                        .as_secs();
                    let headers =
                        pigeon::wire::sign_request(key, "GET", &target.host, &path, &query, now);
                    let extra: Vec<(&str, String)> = headers.into_iter().collect();
                    let req = request(&target, "GET", &format!("{path}?{query}"), &extra, b"");
                    let t0 = Instant::now();
                    let reply = conn.call(&req)?;
                    t.micros
                        .push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    t.requests += 1;
                    if reply.status != 200 {
                        t.refuse(1, || {
                            format!("HTTP {}: {}", reply.status, text(&reply.body))
                        });
                        break;
                    }
                    let p: Page = serde_json::from_slice(&reply.body).context("bad page")?;
                    t.ok += p.envelopes.len() as u64;
                    match p.envelopes.last() {
                        Some(last) if p.more => after = last.seq,
                        _ => break,
                    }
                }
            }
        }
    })?;
    let secs = started.elapsed().as_secs_f64();
    report(
        &a.name,
        a.clients,
        secs,
        tallies,
        json!({"page": a.page, "mailboxes": a.mailboxes}),
    );
    Ok(())
}

/// Runs `n` client threads made by `make` and collects their tallies.
pub(crate) fn run_clients<F, G>(n: usize, make: F) -> Result<Vec<Tally>>
where
    F: Fn(usize) -> G,
    G: FnOnce() -> Result<Tally> + Send + 'static,
{
    let handles: Vec<_> = (0..n)
        .map(|i| {
            std::thread::Builder::new()
                .name(format!("client-{i}"))
                .stack_size(256 * 1024)
                .spawn(make(i))
        })
        .collect::<std::io::Result<_>>()?;
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .map_err(|_| anyhow::anyhow!("a client thread panicked"))?
        })
        .collect()
}

pub(crate) fn report(
    name: &str,
    clients: usize,
    secs: f64,
    tallies: Vec<Tally>,
    extra: serde_json::Value,
) {
    let mut micros = Vec::new();
    let (mut ok, mut refused, mut requests, mut err) = (0, 0, 0, None);
    for t in tallies {
        ok += t.ok;
        refused += t.refused;
        requests += t.requests;
        err = err.or(t.first_error);
        micros.extend(t.micros);
    }
    let (p50, p99) = percentiles(&mut micros);
    let mut v = json!({
        "name": name, "clients": clients, "ok": ok, "refused": refused, "requests": requests,
        "secs": secs, "per_sec": ok as f64 / secs, "requests_per_sec": requests as f64 / secs,
        "p50_ms": p50, "p99_ms": p99, "first_error": err,
    });
    if let (Some(v), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        v.extend(e.clone());
    }
    emit(&v);
}

pub(crate) fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}
