//! The HTML export in a real headless Chromium.

use super::*;

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
pub(super) fn run_chromium(profile: &Path, args: &[&str]) -> (String, String) {
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
        dom.contains("<title>pigeon export: bob's history</title>"),
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
    assert!(dom.contains("<footer>8 messages, exported "), "{dom}");
    // Attachments: links to the copies, beside the page.
    assert!(dom.contains("href=\"./files/evil.txt\""), "{dom}");
    assert!(
        dom.contains("href=\"./files/_img%20src%3Dx%20onerror%3Dalert%281%29_.txt\""),
        "{dom}"
    );
    assert_eq!(
        std::fs::read(out.join("files").join(SAVED_IMG_NAME)).unwrap(),
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
