//! Output helpers: JSON Lines on stdout, and terminal sanitising for text from elsewhere.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

/// Writes one JSON object and a newline, and flushes, so a reader on a pipe sees each
/// line as soon as it is ready (`pigeon recv --follow | …`).
pub fn json_line<W: Write, T: Serialize>(out: &mut W, value: &T) -> Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Replaces control characters (escape sequences included) so text that came from a relay,
/// a tracker or another user cannot drive the terminal. Newlines and tabs are kept.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Whether colour may be used on stderr: a terminal, and `NO_COLOR` unset or empty.
pub fn color_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_escapes_keeps_newlines() {
        assert_eq!(sanitize("a\x1b[31mb\nc\td"), "a\u{FFFD}[31mb\nc\td");
    }

    #[test]
    fn json_line_is_one_line() {
        let mut buf = Vec::new();
        json_line(&mut buf, &serde_json::json!({"type": "x", "s": "a\nb"})).unwrap();
        assert_eq!(buf, b"{\"s\":\"a\\nb\",\"type\":\"x\"}\n");
    }
}
