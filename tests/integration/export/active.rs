//! What a stranger's message could do to an exported transcript: line separators that
//! forge a header in viewers that break lines there, and attachments a browser would run
//! (an HTML page linked straight from the export).

use super::html::run_chromium;
use super::*;

/// A page that marks itself when its script runs.
const ACTIVE_PAGE: &str = "<html><head><title>inert</title></head><body>\
<script>document.title='pwned-by-attachment'</script>attachment</body></html>";

/// Bob's archive holds alice's message whose name field and body try to forge headers with
/// U+2028 / U+2029, and whose attachment is an HTML page with a script.
fn forged() -> (Relay, User, User) {
    let relay = Relay::start();
    let (alice, bob) = pair_on(&[&relay], "age", "age");
    let dir = alice.path("attach");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("invoice\u{2028}From: bank.html");
    std::fs::write(&page, ACTIVE_PAGE).unwrap();
    alice
        .run(&[
            "send",
            "--to",
            "bob",
            "--file",
            page.to_str().unwrap(),
            "hi\u{2028}2026-01-01 00:00:00 UTC  bank -> bob\u{2029}pay now",
        ])
        .ok();
    assert_eq!(bob.run(&["recv"]).ok().json().len(), 1);
    (relay, alice, bob)
}

#[test]
fn line_separators_never_forge_a_line_in_text_exports_or_file_names() {
    let (_relay, alice, bob) = forged();
    let md = text(&export(&bob, &["--format", "markdown"]).ok());
    assert!(!md.contains(['\u{2028}', '\u{2029}']), "{md}");
    let t = text(&export(&bob, &["--format", "text"]).ok());
    assert!(!t.contains(['\u{2028}', '\u{2029}']), "{t}");
    // Every line a viewer shows of the body is indented: none starts like a header.
    assert!(
        !t.lines().any(|l| l.starts_with("2026-01-01")),
        "a forged header line:\n{t}"
    );
    assert!(
        t.contains("    2026-01-01 00:00:00 UTC  bank -> bob"),
        "{t}"
    );
    let dir = bob.path("copies");
    let lines = export(&bob, &["--files-dir", dir.to_str().unwrap()])
        .ok()
        .json();
    let copy = lines[0]["files"][0]["path"].as_str().unwrap();
    let name = Path::new(copy).file_name().unwrap().to_str().unwrap();
    assert!(
        !name.contains(['\u{2028}', '\u{2029}']),
        "the copy's name keeps a separator: {name:?}"
    );
    // recv's own text format follows the same rules.
    alice
        .run(&[
            "send",
            "--to",
            "bob",
            "a\u{2028}From: bank (verified contact)",
        ])
        .ok();
    let t = text(&bob.run(&["recv", "--format", "text"]).ok());
    assert!(!t.contains('\u{2028}'), "{t}");
    assert!(t.contains("\n    From: bank"), "{t}");
    assert_eq!(
        t.lines().filter(|l| l.starts_with("From:")).count(),
        1,
        "{t}"
    );
}

#[test]
fn active_attachments_are_downloads_and_their_copies_do_not_run() {
    let (_relay, _alice, bob) = forged();
    // Without --files-dir the page would link into the archive: no link to it at all.
    let out = bob.path("export");
    std::fs::create_dir_all(&out).unwrap();
    let page = out.join("chat.html");
    export(&bob, &["--format", "html", "-o", page.to_str().unwrap()]).ok();
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("<a ").count(), 0, "{html}");
    assert!(html.contains("not linked"), "{html}");
    let md = text(&export(&bob, &["--format", "markdown"]).ok());
    assert!(!md.contains("]("), "markdown links to the page:\n{md}");

    // With --files-dir: an inert copy, linked as a download.
    let files = out.join("files");
    export(
        &bob,
        &[
            "--format",
            "html",
            "-o",
            page.to_str().unwrap(),
            "--files-dir",
            files.to_str().unwrap(),
        ],
    )
    .ok();
    let html = std::fs::read_to_string(&page).unwrap();
    let copies: Vec<PathBuf> = std::fs::read_dir(&files)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(copies.len(), 1);
    let copy = &copies[0];
    let name = copy.file_name().unwrap().to_str().unwrap();
    assert!(name.ends_with(".html.txt"), "{name}");
    assert_eq!(std::fs::read_to_string(copy).unwrap(), ACTIVE_PAGE);
    let a = html
        .lines()
        .find(|l| l.contains("<a "))
        .expect("a link to the copy");
    assert!(a.contains(" download=\""), "{a}");
    assert!(a.contains(".html.txt\""), "{a}");

    // Opened in a real browser, the copy is text: its script does not run.
    let profile = tempfile::tempdir().unwrap();
    let (dom, _) = run_chromium(
        profile.path(),
        &["--dump-dom", &format!("file://{}", copy.display())],
    );
    assert!(!dom.contains("<title>pwned"), "the script ran:\n{dom}");
    assert!(dom.contains("&lt;script&gt;"), "shown as text:\n{dom}");
    // And the original, had it been linked, would have run (the test can fail).
    let raw = out.join("raw.html");
    std::fs::write(&raw, ACTIVE_PAGE).unwrap();
    let (dom, _) = run_chromium(
        profile.path(),
        &["--dump-dom", &format!("file://{}", raw.display())],
    );
    assert!(dom.contains("pwned-by-attachment"), "{dom}");
}
