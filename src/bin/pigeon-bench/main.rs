//! `pigeon-bench`: the load generator and the baselines behind `scripts/bench`.
//!
//! Every subcommand prints its results as JSON Lines on stdout (one object per measurement,
//! each with a `"name"`), which `pigeon-bench report` turns into `docs/benchmarks.md`.
//! Loads go to loopback addresses only, are bounded in count and in time, and use plain
//! blocking HTTP/1.1 keep-alive connections, one thread per client, so the generator itself
//! costs little next to the server it measures.

mod baseline;
mod export;
mod group;
mod http;
mod load;
mod report;
mod tracker;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "pigeon-bench",
    version,
    about = "pigeon's load generator and baselines"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Post 1 KiB envelopes to a relay (or to `http-serve`): single posts or batches
    Ingest(load::IngestArgs),
    /// Read every envelope back from the mailboxes `ingest --seed S` filled, in pages
    Fetch(load::FetchArgs),
    /// Raw SQLite inserts into the relay's own schema, one transaction per row and batched
    SqliteBaseline(baseline::SqliteArgs),
    /// A trivial handler on the relay's HTTP stack (axum + hyper HTTP/1); prints its address
    HttpServe(baseline::HttpServeArgs),
    /// Fills an archive through the store API and times `pigeon export` on it
    Export(export::ExportArgs),
    /// A group of many members over several relays: send --group, send --json, recv
    Group(group::GroupArgs),
    /// Builds the markdown report from the JSON lines of a run
    Report(report::ReportArgs),
    /// Publishes fresh signed cards to a tracker, then looks them up
    Tracker(tracker::TrackerArgs),
}

fn main() {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Cmd::Ingest(a) => load::ingest(&a),
        Cmd::Fetch(a) => load::fetch(&a),
        Cmd::SqliteBaseline(a) => baseline::sqlite(&a),
        Cmd::HttpServe(a) => baseline::http_serve(&a),
        Cmd::Export(a) => export::run(&a),
        Cmd::Group(a) => group::run(&a),
        Cmd::Report(a) => report::run(&a),
        Cmd::Tracker(a) => tracker::run(&a),
    };
    if let Err(e) = result {
        eprintln!("pigeon-bench: {e:#}");
        std::process::exit(1);
    }
}

/// Prints one result line.
pub fn emit(value: &serde_json::Value) {
    println!("{value}");
}

/// Latency percentiles in milliseconds from samples in microseconds.
pub fn percentiles(samples: &mut [u32]) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    samples.sort_unstable();
    let at = |p: f64| {
        let i = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        f64::from(samples[i]) / 1000.0
    };
    (at(0.50), at(0.99))
}

/// A temporary folder for a baseline database, under `dir` when given.
pub fn temp_dir(dir: Option<&PathBuf>) -> Result<tempfile::TempDir> {
    let b = tempfile::Builder::new()
        .prefix("pigeon-bench-")
        .tempdir_in(dir.cloned().unwrap_or_else(std::env::temp_dir).as_path())?;
    Ok(b)
}
