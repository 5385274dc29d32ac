//! Turns the JSON lines of a `scripts/bench` run into the markdown table of
//! `docs/benchmarks.md`: the machine, the date, the exact command, every figure with its
//! target, its ratio to the baseline measured in the same run, and whether it is met.
//!
//! Only the part between the `bench:begin` and `bench:end` markers is replaced, so the
//! notes around it (profiles, what was tried) stay as written.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The JSON lines of the run
    #[arg(long)]
    results: PathBuf,
    /// The markdown file to write (its text outside the markers is kept)
    #[arg(long)]
    out: PathBuf,
    /// The command that made the run, as typed
    #[arg(long)]
    command: String,
    /// When the run started (UTC)
    #[arg(long)]
    date: String,
    /// Extra facts for the machine line, e.g. the rustc version
    #[arg(long, default_value = "")]
    toolchain: String,
}

const BEGIN: &str = "<!-- bench:begin (written by scripts/bench; edit outside the markers) -->";
const END: &str = "<!-- bench:end -->";

pub fn run(a: &ReportArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.results)
        .with_context(|| format!("cannot read {}", a.results.display()))?;
    let mut r: HashMap<String, Value> = HashMap::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
        let v: Value = serde_json::from_str(line).context("a result line is not JSON")?;
        let name = v["name"].as_str().unwrap_or("?").to_string();
        // Several sqlite_batched lines (one per batch size): keep each by its batch too.
        let key = match v["batch"].as_u64() {
            Some(b) if name == "sqlite_batched" => format!("{name}_{b}"),
            _ => name,
        };
        r.insert(key, v);
    }
    let section = render(a, &r);
    let old = std::fs::read_to_string(&a.out).unwrap_or_default();
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if e > b => {
            let rest = old[e + END.len()..].trim_start_matches('\n');
            format!("{}{section}\n{rest}", &old[..b])
        }
        _ => format!("# pigeon benchmarks\n\n{section}\n"),
    };
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&a.out, new).with_context(|| format!("cannot write {}", a.out.display()))?;
    print!("{section}");
    Ok(())
}

fn f(r: &HashMap<String, Value>, name: &str, field: &str) -> Option<f64> {
    r.get(name)?.get(field)?.as_f64()
}

pub fn num(x: f64) -> String {
    let n = x.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn yes(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "n/a",
    }
}

fn render(a: &ReportArgs, r: &HashMap<String, Value>) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let mut s = String::new();
    let _ = writeln!(s, "{BEGIN}");
    let _ = writeln!(s, "\n- **Command:** `{}`", a.command);
    let _ = writeln!(s, "- **Date:** {}", a.date);
    let _ = writeln!(
        s,
        "- **Machine:** {cores} cores (`nproc`), {cpu}, Linux {kernel}{}",
        if a.toolchain.is_empty() {
            String::new()
        } else {
            format!(", {}", a.toolchain)
        }
    );
    if let Some(l) = r.get("load") {
        let _ = writeln!(
            s,
            "- **Load average (1, 5, 15 min) before / after the run:** {} / {} (the machine is \
             shared; other work running at the same time lowers every figure)",
            l["start"].as_str().unwrap_or("?"),
            l["end"].as_str().unwrap_or("?")
        );
    }
    if let Some(p) = r.get("params") {
        let _ = writeln!(s, "- **Parameters:** {}", p["text"].as_str().unwrap_or(""));
    }
    let _ = writeln!(
        s,
        "\n| figure | measured | target | ratio to baseline | met? |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    let mut row = |fig: &str, meas: String, target: &str, ratio: String, met: Option<bool>| {
        let _ = writeln!(s, "| {fig} | {meas} | {target} | {ratio} | {} |", yes(met));
    };
    let http = f(r, "http_baseline", "per_sec");
    let per_row = f(r, "sqlite_per_row", "per_sec");
    let batched = ["sqlite_batched_100", "sqlite_batched_1000"]
        .iter()
        .filter_map(|k| f(r, k, "per_sec"))
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    let pct = |x: Option<f64>, base: Option<f64>, what: &str| match (x, base) {
        (Some(x), Some(b)) if b > 0.0 => format!("{:.0}% of {what}", 100.0 * x / b),
        _ => "—".into(),
    };
    let lat = |n: &str| match (f(r, n, "p50_ms"), f(r, n, "p99_ms")) {
        (Some(a), Some(b)) => format!("; p50 {a:.2} ms, p99 {b:.2} ms"),
        _ => String::new(),
    };
    let per_sec = |n: &str, unit: &str| match f(r, n, "per_sec") {
        Some(x) => format!("{} {unit}/s", num(x)),
        None => "not measured".into(),
    };

    let single = f(r, "ingest_single", "per_sec");
    row(
        "Relay ingest, single posts, 16 clients",
        format!(
            "{}{}",
            per_sec("ingest_single", "envelopes"),
            lat("ingest_single")
        ),
        "≥ 20,000/s",
        format!(
            "{}; {}",
            pct(single, http, "HTTP baseline"),
            pct(single, per_row, "SQLite 1 row/tx")
        ),
        single.map(|x| x >= 20_000.0),
    );
    let batch = f(r, "ingest_batch", "per_sec");
    row(
        "Relay ingest, batches of 100, 16 clients",
        format!(
            "{}{}",
            per_sec("ingest_batch", "envelopes"),
            lat("ingest_batch")
        ),
        "≥ 50,000/s and ≥ 60% of SQLite batched",
        pct(batch, batched, "SQLite batched"),
        batch.map(|x| x >= 50_000.0 && batched.is_none_or(|b| x >= 0.6 * b)),
    );
    let fetch = f(r, "fetch", "per_sec");
    row(
        "Relay fetch, pages of 100, 16 clients",
        format!("{}{}", per_sec("fetch", "envelopes"), lat("fetch")),
        "≥ 50,000/s",
        "—".into(),
        fetch.map(|x| x >= 50_000.0),
    );
    let page = f(r, "fetch_page", "p50_ms");
    row(
        "One page of 100, 1 client, among all stored",
        page.map_or("not measured".into(), |p| {
            format!(
                "p50 {p:.2} ms, p99 {:.2} ms",
                f(r, "fetch_page", "p99_ms").unwrap_or(0.0)
            )
        }),
        "< 2 ms p50",
        "—".into(),
        page.map(|p| p < 2.0),
    );
    let mb = |n: &str, k: &str| f(r, n, k).map(|kb| kb / 1024.0);
    for (fig, key, target, lim) in [
        (
            "Relay RSS, idle (`pigeond`)",
            "idle_kb",
            "≤ 10 MB",
            Some(10.0),
        ),
        (
            "Relay RSS, idle (`pigeon serve`, the full binary)",
            "serve_idle_kb",
            "(≤ 10 MB)",
            Some(10.0),
        ),
        (
            "Relay RSS, peak during ingest",
            "peak_ingest_kb",
            "≤ 40 MB",
            Some(40.0),
        ),
        (
            "Relay RSS, peak during fetch",
            "peak_fetch_kb",
            "(≤ 40 MB)",
            Some(40.0),
        ),
    ] {
        let v = mb("rss", key);
        row(
            fig,
            v.map_or("not measured".into(), |m| format!("{m:.1} MiB")),
            target,
            "—".into(),
            v.zip(lim).map(|(v, l)| v <= l),
        );
    }
    let msgs = |n: &str| match (f(r, n, "per_sec"), f(r, n, "count"), f(r, n, "secs")) {
        (Some(p), Some(c), Some(t)) => format!("{} messages/s ({} in {t:.2} s)", num(p), num(c)),
        _ => "not measured".into(),
    };
    let age_cli = f(r, "age_cli", "per_sec");
    let recv_age = f(r, "recv_age", "per_sec");
    row(
        "`pigeon recv`, age, end to end",
        msgs("recv_age"),
        "≥ 5,000/s",
        "—".into(),
        recv_age.map(|x| x >= 5000.0),
    );
    row(
        "`pigeon recv`, pgp, end to end",
        msgs("recv_pgp"),
        "—",
        "—".into(),
        None,
    );
    let send_json = f(r, "send_json", "per_sec");
    row(
        "`pigeon send --json`, age, one process",
        msgs("send_json"),
        "—",
        pct(send_json, age_cli, "`age` CLI, a process each"),
        None,
    );
    row(
        "`pigeon send --json`, pgp, one process",
        msgs("send_json_pgp"),
        "—",
        "—".into(),
        None,
    );
    let ms = |n: &str| f(r, n, "ms").map_or("not measured".into(), |m| format!("{m:.1} ms"));
    row(
        "One `pigeon send` process (age), wall",
        ms("send_one"),
        "a few ms",
        "—".into(),
        None,
    );
    let lookup = f(r, "lookup_one", "ms");
    row(
        "One `pigeon tracker lookup` process (age card), wall",
        ms("lookup_one"),
        "≤ 10 ms",
        "—".into(),
        lookup.map(|m| m <= 10.0),
    );
    row(
        "`pigeon --version`, wall",
        ms("version"),
        "a few ms",
        "—".into(),
        None,
    );
    for (fig, n) in [
        ("`pigeon seal`, a process per message (age)", "seal_cli"),
        ("`age -r` CLI, a process per message", "age_cli"),
        (
            "`gpg --sign --encrypt` CLI, a process per message",
            "gpg_cli",
        ),
    ] {
        row(fig, msgs(n), "side by side", "—".into(), None);
    }
    crate::export::rows(r, &mut row);
    crate::tracker::rows(r, &mut row);
    crate::group::rows(r, &mut row);

    let _ = writeln!(
        s,
        "\nBaselines, measured by the same script in the same run:\n"
    );
    let _ = writeln!(s, "| baseline | measured |\n|---|---|");
    let _ = writeln!(
        s,
        "| HTTP: trivial handler, same axum/hyper stack, 16 clients, 1 KiB POSTs | {}{} |",
        per_sec("http_baseline", "requests"),
        lat("http_baseline")
    );
    let _ = writeln!(
        s,
        "| SQLite (bundled, rusqlite), relay schema, WAL + FULL, 1 row per transaction | {} |",
        per_sec("sqlite_per_row", "rows")
    );
    for b in [100, 1000] {
        let _ = writeln!(
            s,
            "| SQLite, relay schema, WAL + FULL, {b} rows per transaction | {} |",
            per_sec(&format!("sqlite_batched_{b}"), "rows")
        );
    }
    let _ = writeln!(s, "\n{END}");
    s
}
