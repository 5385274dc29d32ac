//! The limits pigeon's figures are compared with, measured in the same run:
//!
//! - `sqlite-baseline`: 1 KiB rows inserted straight into the relay's `envelopes` table,
//!   created by the relay's own `storage::open_rw` (same schema, indexes and pragmas: WAL,
//!   `synchronous=FULL`, the same cache size), one transaction per row and batched;
//! - `http-serve`: a trivial handler on the relay's HTTP stack (tokio runtime as `pigeon
//!   serve` builds it, hyper's HTTP/1 connection with the same settings, an axum router),
//!   for `ingest` to drive like the relay.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::routing::post;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::RngCore as _;
use rusqlite::params;
use serde_json::json;
use sha2::Digest as _;
use tower::ServiceExt as _;

use crate::emit;

#[derive(Debug, clap::Args)]
pub struct SqliteArgs {
    /// Rows inserted in batched transactions (per batch size)
    #[arg(long, default_value_t = 200_000)]
    rows: u64,
    /// Rows inserted one transaction each
    #[arg(long, default_value_t = 20_000)]
    single_rows: u64,
    /// Rows per batched transaction (repeat the flag for several sizes)
    #[arg(long, default_values_t = [100u64, 1000])]
    batch: Vec<u64>,
    /// Mailboxes the rows are spread over (row k goes to mailbox k mod M, as in ingest)
    #[arg(long, default_value_t = 100)]
    mailboxes: u64,
    /// Payload bytes per row
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Folder for the temporary databases [default: the system's temp folder]
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Stop a phase after this many seconds
    #[arg(long, default_value_t = 60)]
    max_secs: u64,
}

pub fn sqlite(a: &SqliteArgs) -> Result<()> {
    phase(a, "sqlite_per_row", a.single_rows, 1)?;
    for &b in &a.batch {
        phase(a, "sqlite_batched", a.rows, b.max(1))?;
    }
    Ok(())
}

fn phase(a: &SqliteArgs, name: &str, rows: u64, batch: u64) -> Result<()> {
    let dir = crate::temp_dir(a.dir.as_ref())?;
    let path = dir.path().join("baseline.sqlite");
    let mut conn = pigeon::relay::storage::open_rw(&path)?;
    let mut payload = vec![0u8; a.size];
    rand::rngs::OsRng.fill_bytes(&mut payload);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let deadline = Instant::now() + Duration::from_secs(a.max_secs);
    let started = Instant::now();
    let mut k = 0u64;
    while k < rows && Instant::now() < deadline {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO envelopes (seq, mbox, id, received, expires, payload, digest)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for _ in 0..batch.min(rows - k) {
                // Ids as pigeon makes them (time-ordered), like the relay load's.
                let id = hex::decode(pigeon::message::new_id())?;
                payload[..8].copy_from_slice(&k.to_le_bytes());
                // The relay's row also holds 16 bytes of the payload's SHA-256.
                let digest = &sha2::Sha256::digest(&payload)[..16];
                stmt.execute(params![
                    (k + 1) as i64,
                    (k % a.mailboxes + 1) as i64,
                    id.as_slice(),
                    now,
                    now + 7 * 86_400,
                    payload.as_slice(),
                    digest
                ])?;
                k += 1;
            }
        }
        tx.commit()?;
    }
    let secs = started.elapsed().as_secs_f64();
    emit(
        &json!({"name": name, "rows": k, "batch": batch, "secs": secs,
        "per_sec": k as f64 / secs, "mailboxes": a.mailboxes, "size": a.size}),
    );
    drop(conn);
    dir.close().context("removing the baseline database")?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct HttpServeArgs {
    /// Address to listen on (loopback)
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Exit by itself after this many seconds
    #[arg(long, default_value_t = 600)]
    max_secs: u64,
}

/// Serves `POST /v1/mailboxes/{mbox}` (reads the body, answers 201 with a post reply) until
/// killed or `--max-secs` pass. Prints `{"type":"listening","url":…}` first.
pub fn http_serve(a: &HttpServeArgs) -> Result<()> {
    anyhow::ensure!(a.listen.ip().is_loopback(), "listen on a loopback address");
    // As `pigeon serve` builds its runtime.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_stack_size(512 * 1024)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen).await?;
        let addr = listener.local_addr()?;
        println!(
            "{}",
            json!({"type": "listening", "url": format!("http://{addr}")})
        );
        let router = Router::new().route("/v1/mailboxes/{mbox}", post(trivial));
        let serve = async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let router = router.clone();
                        async move {
                            let r = router.oneshot(req.map(Body::new)).await;
                            Ok::<_, Infallible>(r.unwrap_or_else(|never| match never {}))
                        }
                    });
                    let mut b = http1::Builder::new();
                    b.timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10))
                        .keep_alive(true)
                        .max_buf_size(64 * 1024);
                    let _ = b.serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(a.max_secs), serve).await;
        Ok(())
    })
}

async fn trivial(body: Bytes) -> axum::response::Response {
    pigeon::relay::reply::json(
        StatusCode::CREATED,
        &pigeon::wire::PostReply {
            v: pigeon::wire::V,
            seq: body.len() as u64,
            duplicate: false,
        },
    )
}
