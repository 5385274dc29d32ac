//! `pigeon-bench export`: fills an archive through pigeon's store API (fast: batched
//! transactions, no crypto, no relay), then times `pigeon export` on it in each format and
//! samples its peak RSS (VmHWM) from /proc while it runs.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use pigeon::store::{Archived, Store};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The pigeon binary to time
    #[arg(long)]
    pigeon: PathBuf,
    /// Messages in the archive
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Where the archive goes (a temporary folder by default)
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Formats to time
    #[arg(long, value_delimiter = ',', default_value = "jsonl,html")]
    formats: Vec<String>,
}

pub fn run(a: &ExportArgs) -> Result<()> {
    let tmp = crate::temp_dir(a.dir.as_ref())?;
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home)?;
    let t = Instant::now();
    fill(&home.join("pigeon.sqlite"), a.count)?;
    let fill_secs = t.elapsed().as_secs_f64();
    crate::emit(
        &json!({"name": format!("export_fill_{}", a.count), "count": a.count,
        "secs": fill_secs, "per_sec": a.count as f64 / fill_secs}),
    );
    for format in &a.formats {
        let (secs, peak_kb, code) = time_export(&a.pigeon, &home, format)?;
        anyhow::ensure!(
            code == Some(0),
            "pigeon export --format {format} exited {code:?}"
        );
        crate::emit(
            &json!({"name": format!("export_{format}_{}", a.count), "count": a.count,
            "secs": secs, "per_sec": a.count as f64 / secs, "peak_kb": peak_kb}),
        );
    }
    Ok(())
}

/// Messages as `recv` and `send` archive them: about 150-byte bodies, one in ten with an
/// attachment, from a few senders, half sent and half received, one second apart in tens.
fn fill(path: &std::path::Path, count: u64) -> Result<()> {
    let mut store = Store::open(path)?;
    let me = format!("{:040x}", 1);
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..count {
        let other = format!("{:040x}", 100 + i % 5);
        let received = i % 2 == 0;
        let body = format!(
            "message {i}: the backup of host-{} finished in {} s; nothing to worry about, \
             see the log for details <if any> & more",
            i % 13,
            i % 977
        );
        let ts = 1_780_000_000 + i / 10;
        let file = i % 10 == 0;
        let line = if received {
            let files = if file {
                json!([{"name": format!("report-{i}.txt"), "size": 1234,
                    "media_type": "text/plain",
                    "path": format!("/home/me/.local/share/pigeon/files/{i:032x}/report-{i}.txt")}])
            } else {
                json!([])
            };
            json!({"type": "message", "id": format!("{i:032x}"),
                "from": {"name": "alice", "fingerprint": other, "known": true, "verified": false},
                "to": [me], "group": null, "ts": ts, "kind": if file { "file" } else { "text" },
                "body": body, "files": files, "received": ts})
        } else {
            json!({"type": "sent", "id": format!("{i:032x}"), "to": ["alice"], "ts": ts,
                "deliveries": [{"recipient": "alice", "relay": "http://127.0.0.1:7447", "ok": true}]})
        };
        batch.push(Archived {
            id: format!("{i:032x}"),
            direction: if received { "in" } else { "out" }.into(),
            sender: if received { other.clone() } else { me.clone() },
            recipients: vec![if received { me.clone() } else { other }],
            group: None,
            ts,
            received: ts,
            kind: if file { "file" } else { "text" }.into(),
            body,
            json: line.to_string(),
        });
        if batch.len() == 10_000 || i + 1 == count {
            store.outbox_add(&batch, &[])?;
            batch.clear();
        }
    }
    Ok(())
}

/// Wall time, peak RSS (KiB, sampled every 2 ms) and exit code of one export to /dev/null.
fn time_export(
    pigeon: &PathBuf,
    home: &std::path::Path,
    format: &str,
) -> Result<(f64, u64, Option<i32>)> {
    let start = Instant::now();
    let mut child = Command::new(pigeon)
        .args(["--quiet", "export", "--format", format])
        .env("PIGEON_HOME", home)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create("/dev/null")?)
        .spawn()
        .with_context(|| format!("cannot run {}", pigeon.display()))?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_file)
            && let Some(kb) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        {
            peak = peak.max(kb);
        }
        if let Some(st) = child.try_wait()? {
            break st;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Ok((start.elapsed().as_secs_f64(), peak, status.code()))
}

/// One row of the report table: figure, measured, target, ratio to baseline, met.
pub type Row<'a> = dyn FnMut(&str, String, &str, String, Option<bool>) + 'a;

/// The export rows of the report table.
pub fn rows(r: &std::collections::HashMap<String, serde_json::Value>, row: &mut Row<'_>) {
    for (format, target, min) in [
        ("jsonl", "≥ 100,000/s, peak RSS ≤ 30 MB", 100_000.0),
        ("html", "≥ 30,000/s, peak RSS ≤ 30 MB", 30_000.0),
    ] {
        for count in [100_000u64, 1_000_000] {
            let Some(v) = r.get(&format!("export_{format}_{count}")) else {
                continue;
            };
            let (per_sec, secs, peak) = (
                v["per_sec"].as_f64().unwrap_or(0.0),
                v["secs"].as_f64().unwrap_or(0.0),
                v["peak_kb"].as_f64().unwrap_or(0.0) / 1024.0,
            );
            row(
                &format!("`pigeon export --format {format}`, {count} archived messages"),
                format!(
                    "{} messages/s ({secs:.2} s), peak RSS {peak:.1} MiB",
                    crate::report::num(per_sec)
                ),
                target,
                "—".into(),
                Some(per_sec >= min && peak <= 30.0),
            );
        }
    }
}
