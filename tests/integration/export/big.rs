//! Big archives, filled through the store API: flat memory, progress, a closed pipe.

use super::*;

/// Fills an archive with `n` messages (1 KiB bodies) through the store API.
fn fill_archive(u: &User, n: usize) {
    let mut store = pigeon::store::Store::open(&u.path("pigeon.sqlite")).unwrap();
    let body = "x".repeat(1024);
    let mut batch = Vec::new();
    for i in 0..n {
        batch.push(pigeon::store::Archived {
            id: format!("{i:032x}"),
            direction: if i % 2 == 0 { "in" } else { "out" }.into(),
            sender: format!("{:040x}", i % 7),
            recipients: vec![format!("{:040x}", 99)],
            group: None,
            ts: 1_700_000_000 + i as u64,
            received: 1_700_000_000 + i as u64,
            kind: "text".into(),
            body: format!("{i} {body}"),
            json: "{}".into(),
        });
        if batch.len() == 5000 || i + 1 == n {
            store.outbox_add(&batch, &[]).unwrap();
            batch.clear();
        }
    }
}

/// Peak resident memory (VmHWM, KiB) of `pigeon export ARGS` over its whole run: stdout is
/// read slowly, and the high-water mark sampled after every chunk.
fn export_peak_kib(u: &User, args: &[&str]) -> (u64, usize) {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    let mut child = u
        .cmd(&all)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let (mut peak, mut bytes) = (0, 0);
    let sample = |peak: &mut u64| {
        if let Ok(s) = std::fs::read_to_string(&status)
            && let Some(line) = s.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
            *peak = (*peak).max(kib);
        }
    };
    loop {
        sample(&mut peak);
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        bytes += n;
    }
    assert!(child.wait().unwrap().success());
    (peak, bytes)
}

#[test]
fn export_streams_in_flat_memory() {
    let (small, big) = (User::new(), User::new());
    fill_archive(&small, 2_000);
    fill_archive(&big, 40_000);
    for format in ["jsonl", "html"] {
        let (s, s_bytes) = export_peak_kib(&small, &["--format", format]);
        let (b, b_bytes) = export_peak_kib(&big, &["--format", format]);
        assert!(
            b_bytes > 40_000 * 1024,
            "{format}: the whole archive came out"
        );
        assert!(s > 0 && b > 0, "VmHWM was sampled");
        // 38,000 more messages of 1 KiB: held in memory they would be 38 MiB more.
        assert!(
            b < s + 8 * 1024,
            "{format}: peak RSS {b} KiB for 40,000 messages vs {s} KiB for 2,000 \
             ({s_bytes} / {b_bytes} bytes out)"
        );
    }
}

#[test]
fn a_long_export_shows_progress_only_on_a_terminal() {
    let u = User::new();
    fill_archive(&u, 25_000);
    let out = u.path("all.jsonl");
    // Not a terminal: nothing on stderr.
    let r = export(&u, &["--quiet", "-o", out.to_str().unwrap()]).ok();
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let r = export(&u, &["-o", out.to_str().unwrap()]).ok();
    assert!(!r.stderr.contains("exporting"), "{}", r.stderr);
    // On a terminal (script(1) gives the command a pseudo-terminal).
    let cmd = format!("{} export -o {}", crate::harness::BIN, out.display());
    let mut tty = crate::harness::program("script", u.dir.path());
    let shown = tty
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{said}");
    assert!(
        said.contains("pigeon: exporting 1024/25000 (4%)"),
        "{said:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().lines().count(),
        25_000
    );

    // `pigeon export | head -1`: a closed stdout ends the export quietly, exit 0.
    let mut child = u
        .cmd(&["export"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0));
    assert!(
        done.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}
