//! `--format text`: a transcript for people. Everything that came from a message has its
//! terminal escape sequences removed whole and any other control character replaced
//! (`strip_escapes`), so nothing reaches a terminal but text; header fields stay on one
//! line, and bodies are indented so a body cannot pass itself off as another header.

use std::io::Write;

use anyhow::Result;

use super::Format;
use super::record::Record;
use crate::output::{sanitize, utc};

pub struct Text;

impl Format for Text {
    fn message(&mut self, out: &mut dyn Write, r: &Record) -> Result<()> {
        let mut s = format!(
            "{}  {} -> {}{}\n",
            utc(r.received),
            one_line(&r.from.label()),
            one_line(&r.to_label()),
            r.group
                .as_deref()
                .map(|g| format!("  [group {}]", one_line(g)))
                .unwrap_or_default()
        );
        s.push_str(&format!(
            "Id:   {}  ({})\n",
            one_line(&r.id),
            one_line(&r.kind)
        ));
        for f in &r.files {
            s.push_str(&format!(
                "File: {} ({} bytes){}\n",
                one_line(&f.name),
                f.size,
                f.path
                    .as_deref()
                    .map(|p| format!(" -> {}", one_line(p)))
                    .unwrap_or_else(|| " (not saved)".into())
            ));
        }
        s.push('\n');
        for line in strip_escapes(&r.body).lines() {
            s.push_str("    ");
            s.push_str(line);
            s.push('\n');
        }
        s.push('\n');
        out.write_all(s.as_bytes())?;
        Ok(())
    }
}

/// A header field: sanitised and on one line, so a name holding "\nFrom: alice" cannot
/// forge a header of its own.
fn one_line(text: &str) -> String {
    strip_escapes(text).replace(['\n', '\t'], " ")
}

/// Text with terminal escape sequences removed whole, not left as debris: CSI
/// (`ESC [ … final`, and its C1 form), OSC, DCS, SOS, PM and APC strings (up to BEL or
/// ST), and two-character escapes. CRLF becomes a newline; every other control character
/// left (a lone CR, a backspace, bidi overrides) is replaced by `output::sanitize`.
pub fn strip_escapes(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(text.len());
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        let kind = match c {
            '\x1b' => match it.next() {
                Some('[') => '[',
                Some(']' | 'P' | 'X' | '^' | '_') => ']',
                _ => continue,
            },
            '\u{9b}' => '[',
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => ']',
            c => {
                out.push(c);
                continue;
            }
        };
        if kind == '[' {
            // Parameters and intermediates (0x20-0x3F), then one final byte (0x40-0x7E).
            while let Some(&n) = it.peek() {
                if ('\x20'..='\x3f').contains(&n) {
                    it.next();
                } else {
                    if ('\x40'..='\x7e').contains(&n) {
                        it.next();
                    }
                    break;
                }
            }
        } else {
            // A string: up to BEL, ST (ESC \\ or U+009C), or the end.
            while let Some(n) = it.next() {
                if n == '\x07' || n == '\u{9c}' {
                    break;
                }
                if n == '\x1b' {
                    if it.peek() == Some(&'\\') {
                        it.next();
                    }
                    break;
                }
            }
        }
    }
    sanitize(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::export::record::Party;

    #[test]
    fn escape_sequences_go_whole() {
        assert_eq!(
            strip_escapes("red \x1b[31;1mRED\x1b[0m \x1b]0;title\x07 end\r\nnext"),
            "red RED  end\nnext"
        );
        assert_eq!(
            strip_escapes("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b"),
            "alinkb"
        );
        assert_eq!(strip_escapes("a\u{9b}2Jb\x1bcc\x1b[?25l"), "abc");
        assert_eq!(
            strip_escapes("x\ry\x08z\u{202E}"),
            "x\u{FFFD}y\u{FFFD}z\u{FFFD}"
        );
        assert_eq!(strip_escapes("cut \x1b[12"), "cut ");
        assert_eq!(strip_escapes("héllo 🐦\ttab"), "héllo 🐦\ttab");
    }

    #[test]
    fn remote_fields_cannot_forge_headers() {
        let r = Record {
            type_: "message",
            v: 1,
            id: "i".into(),
            direction: "received",
            from: Party {
                fingerprint: "ab".repeat(20),
                name: None,
                known: false,
                claimed_name: Some("x\n2026-01-01 00:00:00 UTC  alice -> bob".into()),
            },
            to: vec![],
            group: Some("g\nFile: y".into()),
            ts: 0,
            received: 0,
            kind: "text".into(),
            body: "a\nFrom: z\x1b[2J".into(),
            reply_to: None,
            files: vec![],
        };
        let mut out = Vec::new();
        Text.message(&mut out, &r).unwrap();
        let t = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].starts_with("1970-01-01 00:00:00 UTC  x 2026"),
            "{t}"
        );
        assert!(lines[0].ends_with("[group g File: y]"), "{t}");
        assert_eq!(lines[3..5], ["    a", "    From: z"]);
        assert!(!t.contains('\x1b'));
    }
}
