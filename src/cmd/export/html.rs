//! `--format html`: one self-contained page (inline stylesheet, no script, no remote
//! resource), readable offline. Everything from messages is HTML-escaped, and the page's
//! Content-Security-Policy forbids scripts besides: a body holding `<script>`,
//! `<img onerror=…>` or a `javascript:` link shows as text and does nothing. Attachment
//! links are built here from file paths, percent-encoded: never a message's own URL. They
//! are downloads (`download`), and an attachment a browser would run or render as a page
//! (`files::is_active`: HTML, SVG, scripts…) is linked only as the inert `.txt` copy
//! `--files-dir` makes.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use super::Format;
use super::files::link;
use super::plan::Plan;
use super::record::Record;
use crate::cmd::handover::safe_name;
use crate::keys::Contacts;
use crate::output::{sanitize, utc};

pub struct Html {
    /// The folder links are relative to (the output file's).
    pub base: PathBuf,
    /// Whose history, and which part of it (see [`title`]).
    pub title: String,
}

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pigeon export">
<title>{TITLE}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 46em; margin: 2em auto; padding: 0 1em; color: #222; background: #fafafa; }
h1 { font-size: 1.3em; }
article { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6em .9em; margin: .8em 0; }
article.sent { border-left: 4px solid #4a7; }
article.received { border-left: 4px solid #47a; }
header { color: #555; font-size: .9em; }
header .who { font-weight: 600; color: #222; }
.body { white-space: pre-wrap; overflow-wrap: anywhere; margin: .4em 0; }
.files { margin: .3em 0; padding-left: 1.2em; font-size: .9em; }
.id { color: #999; font-size: .75em; font-family: monospace; }
.empty { color: #777; font-style: italic; }
.membership { color: #555; font-style: italic; }
.undelivered { color: #a33; }
footer { color: #999; font-size: .8em; margin-top: 2em; }
</style>
</head>
<body>
<h1>{TITLE}</h1>
<main>
"#;

impl Format for Html {
    fn begin(&mut self, out: &mut dyn Write) -> Result<()> {
        out.write_all(HEAD.replace("{TITLE}", &escape(&self.title)).as_bytes())?;
        Ok(())
    }

    fn message(&mut self, out: &mut dyn Write, r: &Record) -> Result<()> {
        let mut s = String::with_capacity(r.body.len() + 512);
        let when = utc(r.received);
        s.push_str(&format!(
            "<article class=\"{}\">\n<header><span class=\"who\">{}</span> → {}{} · <time datetime=\"{}\">{}</time>{}</header>\n",
            r.direction,
            escape(&r.from.label()),
            escape(&r.to_label()),
            r.group_label()
                .map(|g| format!(" · group {}", escape(g)))
                .unwrap_or_default(),
            when.replacen(' ', "T", 1).replace(" UTC", "Z"),
            escape(&when),
            r.delivery_mark()
                .map(|d| format!(" · <strong class=\"undelivered\">{d}</strong>"))
                .unwrap_or_default(),
        ));
        s.push_str(if r.summary.is_some() {
            "<div class=\"body membership\">"
        } else {
            "<div class=\"body\">"
        });
        s.push_str(&escape(r.shown_body()));
        s.push_str("</div>\n");
        if !r.files.is_empty() {
            s.push_str("<ul class=\"files\">\n");
            for f in &r.files {
                let name = escape(&f.name);
                match &f.path {
                    // A download, not a page to open: what a stranger sent must not run as
                    // this file's neighbour (active kinds are only linked as inert copies).
                    Some(p) if f.linkable => s.push_str(&format!(
                        "<li><a href=\"{}\" download=\"{}\">{name}</a> ({} bytes)</li>\n",
                        escape(&link(&self.base, p.as_ref())),
                        escape(&safe_name(&f.name)),
                        f.size
                    )),
                    Some(p) => s.push_str(&format!(
                        "<li>{name} ({} bytes, not linked: a page or script could run when \
                         opened; export with --files-dir for a copy shown as text, or open \
                         <code>{}</code> with care)</li>\n",
                        f.size,
                        escape(p)
                    )),
                    None => s.push_str(&format!("<li>{name} ({} bytes, not saved)</li>\n", f.size)),
                }
            }
            s.push_str("</ul>\n");
        }
        s.push_str(&format!(
            "<div class=\"id\">{} · {}</div>\n</article>\n",
            escape(&r.id),
            escape(&r.kind)
        ));
        out.write_all(s.as_bytes())?;
        Ok(())
    }

    fn end(&mut self, out: &mut dyn Write, count: u64) -> Result<()> {
        if count == 0 {
            out.write_all(b"<p class=\"empty\">No messages.</p>\n")?;
        }
        let s = if count == 1 { "" } else { "s" };
        write!(
            out,
            "</main>\n<footer>{count} message{s}, exported {}</footer>\n</body>\n</html>\n",
            utc(crate::keys::now())
        )?;
        Ok(())
    }
}

/// "pigeon export: alice's history with bob, from 2026-01-01 to 2026-02-01": whose
/// history, and which part of it the filters chose.
pub fn title(me: Option<&str>, plan: &Plan, contacts: &Contacts, group: Option<&str>) -> String {
    let f = &plan.filter;
    let mut t = match me {
        Some(n) => format!("pigeon export: {n}'s history"),
        None => "pigeon export".to_string(),
    };
    if let Some(fp) = &f.with {
        let who = contacts
            .by_fingerprint(fp)
            .ok()
            .flatten()
            .map_or_else(|| fp.chars().take(16).collect(), |c| c.name);
        t.push_str(&format!(" with {who}"));
    }
    if let Some(g) = group {
        t.push_str(&format!(" in group {g}"));
    }
    let day = |ts: u64| utc(ts).chars().take(10).collect::<String>();
    match (f.since, f.until) {
        (Some(a), Some(b)) => t.push_str(&format!(", from {} to {}", day(a), day(b))),
        (Some(a), None) => t.push_str(&format!(", since {}", day(a))),
        (None, Some(b)) => t.push_str(&format!(", until {}", day(b))),
        (None, None) => {}
    }
    t
}

/// Text safe in HTML content and in quoted attribute values, after `output::sanitize`
/// (escape sequences go whole, control characters and bidi overrides become U+FFFD).
pub fn escape(text: &str) -> String {
    let text = sanitize(text);
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_be_markup() {
        assert_eq!(
            escape("<img src=x onerror='a()'> & \"q\"\0"),
            "&lt;img src=x onerror=&#39;a()&#39;&gt; &amp; &quot;q&quot;\u{FFFD}"
        );
    }
}
