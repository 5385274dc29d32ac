//! JSON Lines, text and Markdown: schema, order, filters, escaping, the empty archive.

use super::*;

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
    // No group of that name: exit 5, not an empty history.
    export(&f.bob, &["--group", "ops"]).code(5);
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
    assert_eq!(hers[0]["reply_to"], hello["id"]);
    assert_eq!(
        reply["reply_to"], hello["id"],
        "a sent reply says what it answers"
    );
    let sent_file = export(&f.alice, &["--direction", "sent", "--kind", "file"])
        .ok()
        .one();
    assert_eq!(sent_file["files"][0]["name"], PATHLIKE);
    assert_eq!(sent_file["files"][1]["size"], 9);
    assert_eq!(
        sent_file["files"][1]["path"],
        Value::Null,
        "no copy of what was sent"
    );
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
    assert!(
        t.contains("    red RED  end\n    second line\n"),
        "the text stays: {t:?}"
    );
    assert!(
        !t.contains("[31m") && !t.contains("owned-title"),
        "sequences go whole"
    );
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
        md.contains("](<./files/_img%20src%3Dx%20onerror%3Dalert%281%29_.txt>)"),
        "{md}"
    );
    assert_eq!(
        std::fs::read(out.join("files/evil.txt")).unwrap(),
        b"evil bytes"
    );
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
