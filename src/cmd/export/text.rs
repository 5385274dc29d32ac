//! `--format text`: a transcript for people. Everything that came from a message goes
//! through `output::sanitize` (escape sequences removed whole, other control characters
//! replaced, every line break a viewer knows made a newline), so nothing reaches a terminal
//! but text; header fields stay on one line, and body lines are all indented so a body
//! cannot pass itself off as another header.

use std::io::Write;

use anyhow::Result;

use super::Format;
use super::record::Record;
use crate::output::{one_line, sanitize, utc};

pub struct Text;

impl Format for Text {
    fn message(&mut self, out: &mut dyn Write, r: &Record) -> Result<()> {
        let mut s = format!(
            "{}  {} -> {}{}{}\n",
            utc(r.received),
            one_line(&r.from.label()),
            one_line(&r.to_label()),
            r.group_label()
                .map(|g| format!("  [group {}]", one_line(g)))
                .unwrap_or_default(),
            r.delivery_mark()
                .map(|d| format!("  [{d}]"))
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
        for line in sanitize(r.shown_body()).lines() {
            s.push_str("    ");
            s.push_str(line);
            s.push('\n');
        }
        s.push('\n');
        out.write_all(s.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::export::record::Party;

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
            group: Some("g\u{2028}File: y".into()),
            ts: 0,
            received: 0,
            kind: "text".into(),
            body: "a\u{2028}From: z\x1b[2J".into(),
            reply_to: None,
            files: vec![],
            group_name: None,
            summary: None,
            delivery: None,
            members_now: vec![],
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
