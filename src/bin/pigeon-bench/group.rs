//! `pigeon-bench group`: a group of many members (age and pgp mixed) spread over several
//! relays, all real processes on loopback. Times one `send --group` process end to end,
//! `send --json` to the group, and `recv` of group messages against direct ones; counts
//! the batch requests each relay saw for one message (from its /metrics).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

#[derive(Debug, clap::Args)]
pub struct GroupArgs {
    /// The pigeon binary
    #[arg(long)]
    pigeon: PathBuf,
    /// The relay binary (pigeond)
    #[arg(long)]
    pigeond: PathBuf,
    /// Members, the sender included
    #[arg(long, default_value_t = 100)]
    members: usize,
    /// Relays the members are spread over
    #[arg(long, default_value_t = 3)]
    relays: usize,
    /// Every Nth member is of kind pgp, the others age
    #[arg(long, default_value_t = 4)]
    pgp_every: usize,
    /// `send --group` processes timed one by one
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Messages in the `send --json` run (and in each recv run)
    #[arg(long, default_value_t = 200)]
    messages: usize,
    /// Where homes and relay databases go (a temporary folder by default)
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// A relay process, killed when dropped.
struct Relay {
    child: Child,
    url: String,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(a: &GroupArgs) -> Result<()> {
    ensure!(a.members >= 3, "a group bench needs 3 members or more");
    let tmp = crate::temp_dir(a.dir.as_ref())?;
    let relays: Vec<Relay> = (0..a.relays)
        .map(|i| start_relay(&a.pigeond, &tmp.path().join(format!("relay{i}"))))
        .collect::<Result<_>>()?;
    let home = |i: usize| tmp.path().join(format!("m{i}"));
    let pigeon =
        |i: usize, args: &[&str], stdin: &[u8]| run_pigeon(&a.pigeon, &home(i), args, stdin);

    // Members: keygen, a relay each (round robin), a card; the sender pins them all.
    let t = Instant::now();
    let mut cards = Vec::new();
    for i in 0..a.members {
        let kind = if i > 0 && i % a.pgp_every == 0 {
            "pgp"
        } else {
            "age"
        };
        pigeon(
            i,
            &["keygen", "--name", &format!("m{i}"), "--kind", kind],
            b"",
        )?;
        pigeon(i, &["relay", "add", &relays[i % relays.len()].url], b"")?;
        cards.push(pigeon(i, &["card"], b"")?);
    }
    for (i, card) in cards.iter().enumerate().skip(1) {
        pigeon(0, &["contact", "add"], card)?;
        // Two receivers, one of each kind, also pin the sender (so their messages are from
        // a contact either way).
        if i == 1 || i == a.pgp_every {
            pigeon(i, &["contact", "add"], &cards[0])?;
        }
    }
    let mut create = vec!["group".to_string(), "create".into(), "big".into()];
    for i in 1..a.members {
        create.extend(["--member".into(), format!("m{i}")]);
    }
    let create: Vec<&str> = create.iter().map(String::as_str).collect();
    eprintln!(
        "group bench: {} members ready in {:.1} s",
        a.members,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    pigeon(0, &create, b"")?;
    let create_ms = t.elapsed().as_secs_f64() * 1e3;
    // The two receivers join first (their recv applies the creation, checking 99 cards
    // once), so the recv timed below is of group messages only, as a member reads them.
    for (who, kind) in [(1, "age"), (a.pgp_every, "pgp")] {
        let (_, secs) = timed_recv(&a.pigeon, &home(who))?;
        crate::emit(&json!({"name": format!("group_join_{kind}"), "ms": secs * 1e3}));
    }

    // One message: the batch requests and envelopes it cost each relay.
    let before: Vec<f64> = relays
        .iter()
        .map(|r| batches(&r.url))
        .collect::<Result<_>>()?;
    let sent: Value = serde_json::from_slice(&pigeon(0, &["send", "--group", "big", "one"], b"")?)?;
    let batch_requests: f64 = relays
        .iter()
        .zip(&before)
        .map(|(r, b)| batches(&r.url).map(|n| n - b))
        .sum::<Result<f64>>()?;
    let deliveries = sent["deliveries"].as_array().map_or(0, Vec::len);
    ensure!(
        deliveries == a.members - 1,
        "{deliveries} deliveries: {sent}"
    );
    crate::emit(
        &json!({"name": "group_fanout", "members": a.members, "relays": a.relays,
        "batch_requests": batch_requests, "deliveries": deliveries, "create_ms": create_ms}),
    );

    let mut samples = Vec::with_capacity(a.runs);
    for i in 0..a.runs {
        let t = Instant::now();
        pigeon(0, &["send", "--group", "big", &format!("run {i}")], b"")?;
        samples.push(t.elapsed().as_micros() as u32);
    }
    let (p50, p99) = crate::percentiles(&mut samples);
    let mean = samples.iter().map(|&s| f64::from(s)).sum::<f64>() / samples.len().max(1) as f64;
    crate::emit(
        &json!({"name": "group_send_one", "ms": mean / 1e3, "p50_ms": p50,
        "max_ms": p99, "runs": a.runs, "members": a.members}),
    );

    let body = "x".repeat(150);
    let lines = |to: &str| -> Vec<u8> {
        (0..a.messages)
            .map(|i| format!("{{{to},\"body\":\"{i:06} {body}\"}}\n"))
            .collect::<String>()
            .into_bytes()
    };
    let t = Instant::now();
    pigeon(0, &["send", "--json"], &lines("\"group\":\"big\""))?;
    let secs = t.elapsed().as_secs_f64();
    crate::emit(
        &json!({"name": "group_send_json", "count": a.messages, "secs": secs,
        "per_sec": a.messages as f64 / secs}),
    );

    // recv per message: the group messages waiting now (no membership change among
    // them), then as many direct ones.
    for (who, kind) in [(1, "age"), (a.pgp_every, "pgp")] {
        let group = timed_recv(&a.pigeon, &home(who))?;
        let name = format!("m{who}");
        pigeon(
            0,
            &["send", "--json"],
            &lines(&format!("\"to\":[\"{name}\"]")),
        )?;
        let direct = timed_recv(&a.pigeon, &home(who))?;
        ensure!(
            direct.0 == a.messages,
            "recv printed {} direct messages",
            direct.0
        );
        for (label, (n, secs)) in [("group", group), ("direct", direct)] {
            crate::emit(
                &json!({"name": format!("group_recv_{label}_{kind}"), "count": n,
                "secs": secs, "per_sec": n as f64 / secs, "us_per_msg": secs * 1e6 / n as f64}),
            );
        }
    }
    Ok(())
}

/// `recv` once: (messages printed, seconds).
fn timed_recv(pigeon: &Path, home: &Path) -> Result<(usize, f64)> {
    let t = Instant::now();
    let out = run_pigeon(pigeon, home, &["recv"], b"")?;
    let secs = t.elapsed().as_secs_f64();
    Ok((out.iter().filter(|&&b| b == b'\n').count(), secs))
}

fn run_pigeon(pigeon: &Path, home: &Path, args: &[&str], stdin: &[u8]) -> Result<Vec<u8>> {
    let mut child = Command::new(pigeon)
        .env("PIGEON_HOME", home)
        .arg("--quiet")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", pigeon.display()))?;
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&data));
    let out = child.wait_with_output()?;
    let _ = writer.join();
    if !out.status.success() {
        bail!(
            "pigeon {} exited {}: {}",
            args.first().copied().unwrap_or(""),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

fn start_relay(pigeond: &Path, dir: &Path) -> Result<Relay> {
    std::fs::create_dir_all(dir)?;
    let mut child = Command::new(pigeond)
        .env("PIGEON_HOME", dir)
        .args(["--quiet", "--listen", "127.0.0.1:0", "--rate", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", pigeond.display()))?;
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line)?;
    // Whatever else it prints is drained, so the relay never blocks on stdout.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let v: Value = serde_json::from_str(&line).with_context(|| format!("relay said {line:?}"))?;
    let url = v["url"]
        .as_str()
        .context("no url in the listening line")?
        .to_string();
    Ok(Relay { child, url })
}

/// Requests of many deliveries a relay has answered (its /metrics): batches, and
/// fanouts where the relay has them.
fn batches(url: &str) -> Result<f64> {
    let mut reply = ureq::get(&format!("{url}/metrics")).call()?;
    let text = reply.body_mut().read_to_string()?;
    let count = |route: &str| {
        let key = format!("pigeon_requests_total{{route=\"{route}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .map(|n| n.parse::<f64>())
    };
    let batch = count("batch").context("no batch counter in /metrics")??;
    Ok(batch + count("fanout").transpose()?.unwrap_or(0.0))
}

/// The group rows of the report table.
pub fn rows(r: &std::collections::HashMap<String, Value>, row: &mut crate::export::Row<'_>) {
    let Some(fan) = r.get("group_fanout") else {
        return;
    };
    let get = |n: &str, k: &str| r.get(n).and_then(|v| v[k].as_f64());
    let members = fan["members"].as_u64().unwrap_or(0);
    let relays = fan["relays"].as_u64().unwrap_or(0);
    let batches = fan["batch_requests"].as_f64().unwrap_or(0.0);
    row(
        &format!("Group of {members} over {relays} relays: batch requests for one message"),
        format!("{batches:.0} ({} deliveries)", fan["deliveries"]),
        "one per relay",
        "—".into(),
        Some(batches == relays as f64),
    );
    if let Some(ms) = get("group_send_one", "ms") {
        row(
            &format!("One `pigeon send --group` process, {members} members, wall"),
            format!(
                "{ms:.1} ms (p50 {:.1} ms)",
                get("group_send_one", "p50_ms").unwrap_or(0.0)
            ),
            "≤ 20 ms",
            "—".into(),
            Some(ms <= 20.0),
        );
    }
    if let Some(p) = get("group_send_json", "per_sec") {
        row(
            &format!("`pigeon send --json` to the group of {members}"),
            format!("{} messages/s", crate::report::num(p)),
            "≥ 300/s",
            "—".into(),
            Some(p >= 300.0),
        );
    }
    for kind in ["age", "pgp"] {
        if let Some(ms) = get(&format!("group_join_{kind}"), "ms") {
            row(
                &format!("`pigeon recv` ({kind}) joining the group of {members} (once)"),
                format!("{ms:.0} ms"),
                "",
                "—".into(),
                None,
            );
        }
        let (Some(g), Some(d)) = (
            get(&format!("group_recv_group_{kind}"), "us_per_msg"),
            get(&format!("group_recv_direct_{kind}"), "us_per_msg"),
        ) else {
            continue;
        };
        row(
            &format!("`pigeon recv` ({kind}) of group messages vs direct, per message"),
            format!("{:.0} µs vs {:.0} µs", g, d),
            "within 10%",
            format!("{:.0}% of direct", 100.0 * g / d),
            Some(g <= 1.1 * d),
        );
    }
}
