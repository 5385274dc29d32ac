//! `--format markdown`: every ASCII punctuation character from a message is
//! backslash-escaped (CommonMark allows that for each of them), so no message text becomes
//! markup, a link, an HTML tag or an entity; escape sequences are removed as for text.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use super::Format;
use super::files::link;
use super::record::Record;
use crate::output::{one_line, sanitize, utc};

pub struct Markdown {
    /// The folder links are relative to (the output file's).
    pub base: PathBuf,
    pub started: bool,
}

impl Format for Markdown {
    fn message(&mut self, out: &mut dyn Write, r: &Record) -> Result<()> {
        let mut s = String::new();
        if !self.started {
            s.push_str("# pigeon export\n\n");
            self.started = true;
        }
        s.push_str(&format!(
            "### {} · {} → {}{}{}\n\n",
            utc(r.received),
            escape(&r.from.label()),
            escape(&r.to_label()),
            r.group_label()
                .map(|g| format!(" · group {}", escape(g)))
                .unwrap_or_default(),
            r.delivery_mark()
                .map(|d| format!(" · **{d}**"))
                .unwrap_or_default()
        ));
        for line in sanitize(r.shown_body()).lines() {
            s.push_str(&escape_line(line));
            s.push_str("  \n");
        }
        s.push('\n');
        for f in &r.files {
            let name = escape(&f.name);
            match &f.path {
                Some(p) if f.linkable => s.push_str(&format!(
                    "- [{name}](<{}>) ({} bytes)\n",
                    link(&self.base, p.as_ref()),
                    f.size
                )),
                // A page or script a viewer could run when the link is followed.
                Some(p) => s.push_str(&format!(
                    "- {name} ({} bytes, not linked: it could run when opened; export with \
                     --files-dir for a copy shown as text; saved at {})\n",
                    f.size,
                    escape(p)
                )),
                None => s.push_str(&format!("- {name} ({} bytes, not saved)\n", f.size)),
            }
        }
        if !r.files.is_empty() {
            s.push('\n');
        }
        s.push_str(&format!("<sub>id {}</sub>\n\n---\n\n", escape(&r.id)));
        out.write_all(s.as_bytes())?;
        Ok(())
    }
}

/// Text sanitised, on one line, with every ASCII punctuation character backslash-escaped
/// (for one-line places: headings, link text).
pub fn escape(text: &str) -> String {
    escape_line(&one_line(text))
}

/// One line of a body, already sanitised: escaped, and leading spaces kept as character
/// references so an indented line does not turn into a code block.
fn escape_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut leading = true;
    for c in line.chars() {
        if leading && (c == ' ' || c == '\t') {
            out.push_str("&#32;");
            continue;
        }
        leading = false;
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<script>x</script> [a](javascript:b) *c* # d &amp;"),
            "\\<script\\>x\\<\\/script\\> \\[a\\]\\(javascript\\:b\\) \\*c\\* \\# d \\&amp\\;"
        );
        assert_eq!(escape_line("    code"), "&#32;&#32;&#32;&#32;code");
        assert_eq!(escape("a\x1b[31mb\x07"), "ab\u{FFFD}");
    }
}
