//! `pigeon export` and `pigeon archive prune` against archives made for real: three users
//! of the real binary, a real relay on loopback, text, unicode, hostile HTML, terminal
//! escapes and attachments with path-like names; the HTML loaded in a real headless
//! Chromium. The memory test fills a big archive through the store API instead (fast).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::users::{Relay, Run, User, pair_on};

const HOSTILE_HTML: &str = "<script>document.title='pwned';console.log('pwned-script')</script>\n\
<img src=x onerror=\"document.title='pwned';document.body.appendChild(document.createElement('blink'))\">\n\
<a href=\"javascript:document.title='pwned'\">click me</a> &amp; <b>bold</b>";
const TERMINAL: &str = "red \x1b[31mRED\x1b[0m \x1b]0;owned-title\x07 end\r\nsecond line";
const UNICODE: &str = "unicode: héllo 🐦 日本語 — ok";
const MARKDOWN: &str = "# not a heading\n*not emphasis* [link](javascript:alert(1)) `code`";
/// A name with backslashes: a path on another system, a plain name here.
const PATHLIKE: &str = "..\\..\\evil.txt";
const IMG_NAME: &str = "<img src=x onerror=alert(1)>.txt";

/// Alice, bob and carol on one relay; bob's archive holds what alice and carol sent him
/// and his answer to alice.
struct Fixture {
    _relay: Relay,
    alice: User,
    bob: User,
    carol_fp: String,
}

fn fixture() -> Fixture {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let carol = User::new();
    carol.run(&["keygen", "--name", "carol"]).ok();
    carol.run(&["relay", "add", &relay.url]).ok();
    let carol_card = String::from_utf8(carol.run(&["card"]).ok().stdout).unwrap();
    let carol_fp = serde_json::from_str::<Value>(&carol_card).unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    bob.add_contact(&carol_card);
    carol.add_contact(&String::from_utf8(bob.run(&["card"]).ok().stdout).unwrap());

    let dir = alice.path("attach");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(PATHLIKE), b"evil bytes").unwrap();
    std::fs::write(dir.join(IMG_NAME), b"img bytes").unwrap();
    for body in ["hello bob", UNICODE, HOSTILE_HTML, TERMINAL, MARKDOWN] {
        alice.run(&["send", "--to", "bob", body]).ok();
    }
    let (f1, f2) = (dir.join(PATHLIKE), dir.join(IMG_NAME));
    alice
        .run(&[
            "send",
            "--to",
            "bob",
            "--file",
            f1.to_str().unwrap(),
            "--file",
            f2.to_str().unwrap(),
            "two files",
        ])
        .ok();
    carol.run(&["send", "--to", "bob", "from carol"]).ok();
    assert_eq!(bob.run(&["recv"]).ok().json().len(), 7);
    bob.run(&["send", "--to", "alice", "reply from bob"]).ok();
    Fixture {
        _relay: relay,
        alice,
        bob,
        carol_fp,
    }
}

fn export(u: &User, args: &[&str]) -> Run {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    u.run(&all)
}

fn bodies(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

fn text(r: &Run) -> String {
    String::from_utf8(r.stdout.clone()).unwrap()
}

#[test]
fn jsonl_is_versioned_ordered_and_filters_combine_with_and() {
    let f = fixture();
    let all = export(&f.bob, &[]).ok().json();
    assert_eq!(all.len(), 8);
    for m in &all {
        assert_eq!(m["type"], "message");
        assert_eq!(m["v"], 1);
        assert!(m["received"].as_u64().unwrap() > 0);
    }
    let mut expect = vec![
        "hello bob",
        UNICODE,
        HOSTILE_HTML,
        TERMINAL,
        MARKDOWN,
        "two files",
    ];
    // Carol's message came in the same recv run as alice's: time ties, id decides.
    let carol_first = all[0]["from"]["name"] == "carol";
    if carol_first {
        expect.insert(0, "from carol");
    } else {
        expect.push("from carol");
    }
    expect.push("reply from bob");
    assert_eq!(bodies(&all), expect, "time, then id");
    let hello = &all[usize::from(carol_first)];
    assert_eq!(hello["direction"], "received");
    assert_eq!(hello["from"]["name"], "alice");
    assert_eq!(hello["from"]["known"], true);
    assert_eq!(hello["to"][0]["name"], "bob");
    let reply = all.last().unwrap();
    assert_eq!(reply["direction"], "sent");
    assert_eq!(reply["from"]["name"], "bob");
    assert_eq!(reply["to"][0]["name"], "alice");
    let files = all.iter().find(|m| m["kind"] == "file").unwrap()["files"].clone();
    assert_eq!(files[0]["name"], PATHLIKE);
    assert_eq!(files[1]["name"], IMG_NAME);
    let saved = files[0]["path"].as_str().unwrap();
    assert!(
        saved.starts_with(f.bob.path("files").to_str().unwrap()),
        "{saved}"
    );
    assert_eq!(std::fs::read(saved).unwrap(), b"evil bytes");

    let n = |args: &[&str]| export(&f.bob, args).ok().json().len();
    assert_eq!(n(&["--with", "alice"]), 7);
    assert_eq!(n(&["--with", "carol"]), 1);
    assert_eq!(n(&["--with", &f.carol_fp]), 1);
    assert_eq!(n(&["--direction", "sent"]), 1);
    assert_eq!(n(&["--direction", "received", "--with", "alice"]), 6);
    assert_eq!(
        n(&["--with", "alice", "--direction", "sent", "--kind", "text"]),
        1
    );
    assert_eq!(n(&["--with", "carol", "--direction", "sent"]), 0);
    assert_eq!(n(&["--kind", "file"]), 1);
    assert_eq!(n(&["--kind", "file", "--kind", "text"]), 8);
    assert_eq!(n(&["--group", "ops"]), 0, "no message carries a group");
    assert_eq!(n(&["--since", "1h"]), 8);
    assert_eq!(n(&["--until", "1h"]), 0);
    assert_eq!(n(&["--since", "2999-01-01"]), 0);
    assert_eq!(
        n(&["--since", "2000-01-01T00:00:00Z", "--until", "2999-01-01"]),
        8
    );
    let limited = export(&f.bob, &["--limit", "2"]).ok().json();
    assert_eq!(bodies(&limited), expect[..2]);

    let r = export(&f.bob, &["--with", "nobody"]).code(5);
    assert!(r.stderr.contains("no contact"), "{}", r.stderr);
    let r = export(&f.bob, &["--since", "yesterday"]).code(2);
    assert!(r.stderr.contains("--since"), "{}", r.stderr);
    export(&f.bob, &["--direction", "sideways"]).code(2);

    // Alice's archive: what she sent, and bob's answer.
    f.alice.run(&["recv"]).ok();
    let hers = export(&f.alice, &["--direction", "received"]).ok().json();
    assert_eq!(bodies(&hers), ["reply from bob"]);
}

#[test]
fn text_strips_terminal_sequences_and_markdown_escapes() {
    let f = fixture();
    let out = f.bob.path("out");
    let r = export(&f.bob, &["--format", "text"]).ok();
    let t = text(&r);
    assert!(
        !t.contains('\x1b') && !t.contains('\x07') && !t.contains('\r'),
        "{t:?}"
    );
    assert!(t.contains("RED"), "the text itself stays");
    assert!(t.contains(UNICODE));
    assert!(t.contains("    hello bob\n"), "bodies are indented");
    assert!(t.contains("alice -> bob"), "{t}");
    assert!(t.contains("bob -> alice"), "{t}");
    assert!(t.contains("File: ..\\..\\evil.txt (10 bytes) -> "), "{t}");

    let r = export(
        &f.bob,
        &[
            "--format",
            "markdown",
            "-o",
            out.join("chat.md").to_str().unwrap(),
            "--files-dir",
            out.join("files").to_str().unwrap(),
        ],
    )
    .ok();
    assert!(r.stdout.is_empty());
    let md = std::fs::read_to_string(out.join("chat.md")).unwrap();
    assert!(md.starts_with("# pigeon export\n"), "{md}");
    for raw in [
        "<script",
        "<img",
        "<a ",
        "](javascript",
        "\n# not",
        "*not",
        "\x1b",
    ] {
        let bare = md.match_indices(raw).any(|(i, _)| !md[..i].ends_with('\\'));
        assert!(!bare, "{raw:?} unescaped in:\n{md}");
    }
    assert!(md.contains("\\<script\\>document\\.title"), "{md}");
    assert!(md.contains("\\# not a heading"), "{md}");
    assert!(
        md.contains("\\[link\\]\\(javascript\\:alert\\(1\\)\\)"),
        "{md}"
    );
    assert!(md.contains(UNICODE.replace('.', "\\.").as_str()) || md.contains("héllo 🐦 日本語"));
    // Attachments link to the copies, relative to the page.
    assert!(md.contains("](<./files/evil.txt>) (10 bytes)"), "{md}");
    assert!(
        md.contains("](<./files/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt>)"),
        "{md}"
    );
    assert_eq!(
        std::fs::read(out.join("files/evil.txt")).unwrap(),
        b"evil bytes"
    );
}

/// Chromium from Debian (scripts/ensure-deps installs it).
fn chromium() -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join("chromium");
        if p.exists() {
            return p;
        }
    }
    panic!("chromium is not installed: run scripts/ensure-deps");
}

/// Runs headless Chromium on a page; returns (stdout, stderr). Killed by PID on timeout.
fn run_chromium(profile: &Path, args: &[&str]) -> (String, String) {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .env("HOME", profile)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chromium");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (t_out.join().unwrap(), t_err.join().unwrap())
}

#[test]
fn html_is_one_inert_page_in_headless_chromium() {
    let f = fixture();
    let out = f.bob.path("export");
    let page = out.join("chat.html");
    export(
        &f.bob,
        &[
            "--format",
            "html",
            "-o",
            page.to_str().unwrap(),
            "--files-dir",
            out.join("files").to_str().unwrap(),
        ],
    )
    .ok();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<style>"), "inline stylesheet");
    assert!(!html.contains("<script"), "no script of ours or theirs");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing remote"
    );

    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.display());
    let (dom, log) = run_chromium(profile.path(), &["--dump-dom", &url]);
    assert!(
        dom.contains("<title>pigeon export</title>"),
        "the title was changed:\n{dom}"
    );
    assert!(!dom.contains("<script"), "a script element got in:\n{dom}");
    assert!(!dom.contains("<img"), "an img element got in:\n{dom}");
    assert!(!dom.contains("<blink"), "the onerror handler ran:\n{dom}");
    assert!(
        !dom.contains("<a href=\"javascript"),
        "a javascript: link:\n{dom}"
    );
    assert_eq!(
        dom.matches("<a ").count(),
        2,
        "only the attachment links:\n{dom}"
    );
    assert!(
        !log.contains("pwned"),
        "a hostile script wrote to the console:\n{log}"
    );
    // The hostile text is there, as text.
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned'"),
        "{dom}"
    );
    assert!(dom.contains(UNICODE), "{dom}");
    assert_eq!(dom.matches("<article").count(), 8);
    // Attachments: links to the copies, beside the page.
    assert!(dom.contains("href=\"./files/evil.txt\""), "{dom}");
    assert!(
        dom.contains("href=\"./files/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt\""),
        "{dom}"
    );
    assert_eq!(
        std::fs::read(out.join("files").join(IMG_NAME)).unwrap(),
        b"img bytes"
    );

    // A screenshot for people to look at.
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("export.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=900,1600",
            "--hide-scrollbars",
            &url,
        ],
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
}

#[test]
fn files_dir_never_overwrites_nor_follows_symlinks_and_a_failed_export_leaves_no_file() {
    let f = fixture();
    let dir = f.bob.path("copies");
    std::fs::create_dir_all(&dir).unwrap();
    let secret = f.bob.path("secret.txt");
    std::fs::write(&secret, b"secret").unwrap();
    std::fs::write(dir.join("evil.txt"), b"mine").unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("evil-1.txt")).unwrap();
    let lines = export(
        &f.bob,
        &["--kind", "file", "--files-dir", dir.to_str().unwrap()],
    )
    .ok()
    .json();
    let files = &lines[0]["files"];
    let copy = files[0]["path"].as_str().unwrap();
    assert_eq!(copy, dir.join("evil-2.txt").to_str().unwrap());
    assert_eq!(std::fs::read(copy).unwrap(), b"evil bytes");
    assert_eq!(std::fs::read(dir.join("evil.txt")).unwrap(), b"mine");
    assert_eq!(
        std::fs::read(&secret).unwrap(),
        b"secret",
        "the symlink was not followed"
    );
    assert_eq!(files[1]["path"], dir.join(IMG_NAME).to_str().unwrap());
    // Again: every copy gets a new name.
    let again = export(
        &f.bob,
        &["--kind", "file", "--files-dir", dir.to_str().unwrap()],
    )
    .ok()
    .json();
    assert_eq!(
        again[0]["files"][0]["path"],
        dir.join("evil-3.txt").to_str().unwrap()
    );

    // A saved attachment swapped for a symlink: the export stops, -o keeps the old file.
    let saved = PathBuf::from(
        export(&f.bob, &["--kind", "file"]).ok().json()[0]["files"][1]["path"]
            .as_str()
            .unwrap(),
    );
    std::fs::remove_file(&saved).unwrap();
    std::os::unix::fs::symlink(&secret, &saved).unwrap();
    let out = f.bob.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let target = out.join("all.jsonl");
    std::fs::write(&target, b"old\n").unwrap();
    let dir2 = f.bob.path("copies2");
    let r = export(
        &f.bob,
        &[
            "-o",
            target.to_str().unwrap(),
            "--files-dir",
            dir2.to_str().unwrap(),
        ],
    )
    .code(1);
    assert!(r.stderr.contains("symlink"), "{}", r.stderr);
    assert_eq!(std::fs::read(&target).unwrap(), b"old\n");
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["all.jsonl"], "no temporary file left");
    let copied: Vec<_> = std::fs::read_dir(&dir2)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !copied
            .iter()
            .any(|n| std::fs::read(dir2.join(n)).unwrap() == b"secret")
    );

    // Without the bad attachment the same command replaces the file, atomically.
    std::fs::remove_file(&saved).unwrap();
    let r = export(&f.bob, &["-o", target.to_str().unwrap()]).ok();
    assert!(r.stdout.is_empty());
    let written = std::fs::read_to_string(&target).unwrap();
    assert_eq!(written.lines().count(), 8);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "history is private");
}

#[test]
fn an_empty_archive_exports_nothing_and_the_html_page_says_so() {
    let u = User::new();
    for format in ["jsonl", "text", "markdown"] {
        let r = export(&u, &["--format", format]).ok();
        assert!(r.stdout.is_empty(), "{format}");
    }
    let html = text(&export(&u, &["--format", "html"]).ok());
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    assert!(html.contains("No messages."), "{html}");
    assert!(
        !u.path("pigeon.sqlite").exists(),
        "export created no archive"
    );
    // An identity with an archive but nothing in it.
    u.run(&["keygen", "--name", "dana"]).ok();
    u.run(&["send", "--retry"]).ok();
    assert!(u.path("pigeon.sqlite").exists());
    assert!(export(&u, &[]).ok().stdout.is_empty());
    let page = u.path("empty.html");
    export(&u, &["--format", "html", "-o", page.to_str().unwrap()]).ok();
    assert!(
        std::fs::read_to_string(page)
            .unwrap()
            .contains("No messages.")
    );
}

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
fn prune_removes_old_history_and_its_files_only_inside_the_files_dir() {
    let f = fixture();
    let prune = |args: &[&str]| {
        let mut all = vec!["archive", "prune"];
        all.extend_from_slice(args);
        f.bob.run(&all).ok().one()
    };
    let none = prune(&["--before", "1h"]);
    assert_eq!(none["messages"], 0);
    assert_eq!(export(&f.bob, &[]).ok().json().len(), 8);

    let file_msg = export(&f.bob, &["--kind", "file"]).ok().json().remove(0);
    let evil = PathBuf::from(file_msg["files"][0]["path"].as_str().unwrap());
    let img = PathBuf::from(file_msg["files"][1]["path"].as_str().unwrap());
    // The second attachment swapped for a symlink to a file outside the files folder.
    let outside = f.bob.path("outside.txt");
    std::fs::write(&outside, b"not pigeon's").unwrap();
    std::fs::remove_file(&img).unwrap();
    std::os::unix::fs::symlink(&outside, &img).unwrap();

    let dry = prune(&["--before", "2999-01-01", "--dry-run"]);
    assert_eq!(dry["type"], "pruned");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["messages"], 8);
    assert_eq!(dry["files"], 1);
    assert_eq!(dry["kept_files"], 1);
    assert_eq!(
        export(&f.bob, &[]).ok().json().len(),
        8,
        "a dry run deletes nothing"
    );
    assert!(evil.exists());

    let done = prune(&["--before", "2999-01-01"]);
    assert_eq!(done["dry_run"], false);
    assert_eq!(
        (done["messages"].as_u64(), done["files"].as_u64()),
        (Some(8), Some(1))
    );
    assert_eq!(done["kept_files"], 1);
    assert!(
        export(&f.bob, &[]).ok().stdout.is_empty(),
        "the history is gone"
    );
    assert!(!evil.exists(), "its attachment too");
    assert!(
        std::fs::symlink_metadata(&img).is_ok(),
        "the symlink is left alone"
    );
    assert_eq!(std::fs::read(&outside).unwrap(), b"not pigeon's");
    // Messages that arrive later are archived as before.
    f.alice
        .run(&["send", "--to", "bob", "after the prune"])
        .ok();
    assert_eq!(
        bodies(&f.bob.run(&["recv"]).ok().json()),
        ["after the prune"]
    );
    assert_eq!(
        bodies(&export(&f.bob, &[]).ok().json()),
        ["after the prune"]
    );
    f.bob
        .run(&["archive", "prune", "--before", "next week"])
        .code(2);
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
