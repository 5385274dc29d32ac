//! `--format text`: a transcript for people. Everything that came from a message goes
//! through `output::sanitize`, so no control sequence reaches a terminal, and bodies are
//! indented so a body cannot pass itself off as the header of another message.

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
            sanitize(&r.from.label()),
            sanitize(&r.to_label()),
            r.group
                .as_deref()
                .map(|g| format!("  [group {}]", sanitize(g)))
                .unwrap_or_default()
        );
        s.push_str(&format!(
            "Id:   {}  ({})\n",
            sanitize(&r.id),
            sanitize(&r.kind)
        ));
        for f in &r.files {
            s.push_str(&format!(
                "File: {} ({} bytes){}\n",
                sanitize(&f.name),
                f.size,
                f.path
                    .as_deref()
                    .map(|p| format!(" -> {}", sanitize(p)))
                    .unwrap_or_else(|| " (not saved)".into())
            ));
        }
        s.push('\n');
        for line in sanitize(&r.body).lines() {
            s.push_str("    ");
            s.push_str(line);
            s.push('\n');
        }
        s.push('\n');
        out.write_all(s.as_bytes())?;
        Ok(())
    }
}
