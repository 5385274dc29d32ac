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

/// Whether a character must not reach a terminal as is: control characters (escape
/// sequences start with one), bidirectional marks, overrides and isolates, which make
/// text read differently from what it is (a fingerprint or a name shown reversed), and the
/// line and paragraph separators, which editors and viewers break lines at.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || is_line_break(c)
        || matches!(
            c,
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        )
}

/// Characters that some viewer or editor starts a new line at, besides `\n`: a header field
/// holding one could show a forged header line below it.
fn is_line_break(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{0B}' | '\u{0C}')
}

/// The one sanitiser for text from elsewhere (a relay, a tracker, another user) on its way
/// to a person: terminal escape sequences are removed whole, CRLF and the other line breaks
/// ([`is_line_break`]) become `\n` (so a body's indentation applies to every line a viewer
/// shows), and every other unsafe character ([`is_unsafe_char`]: a lone CR, a backspace, a
/// bidi override) becomes U+FFFD. Newlines and tabs are kept.
pub fn sanitize(text: &str) -> String {
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
            '\r' if it.peek() == Some(&'\n') => continue,
            '\n' | '\t' => {
                out.push(c);
                continue;
            }
            c if is_line_break(c) => {
                out.push('\n');
                continue;
            }
            c if is_unsafe_char(c) => {
                out.push('\u{FFFD}');
                continue;
            }
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
    out
}

/// [`sanitize`], and on one line: for a field from outside shown in a header, where a
/// line break could start a forged header line. Line breaks and tabs become spaces.
pub fn one_line(text: &str) -> String {
    sanitize(text).replace(['\n', '\t'], " ")
}

/// Whether colour may be used on stderr: a terminal, and `NO_COLOR` unset or empty.
pub fn color_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(ts: u64) -> String {
    let days = (ts / 86_400) as i64;
    let secs = ts % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm), valid for any date after 1970.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Percent-encodes every byte of `s` but ASCII letters, digits, `-_~` and those in `keep`.
pub fn percent_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_306_880), "2026-11-22 00:21:20 UTC");
    }

    #[test]
    fn sanitize_removes_escapes_keeps_newlines() {
        assert_eq!(sanitize("a\x1b[31mb\nc\td"), "ab\nc\td");
        assert_eq!(sanitize("x\u{202E}y"), "x\u{FFFD}y");
    }

    #[test]
    fn every_line_break_a_viewer_knows_is_a_newline() {
        assert_eq!(
            sanitize("a\u{2028}b\u{2029}c\u{85}d\u{0B}e\u{0C}f\r\ng"),
            "a\nb\nc\nd\ne\nf\ng"
        );
        assert_eq!(
            one_line("alice\u{2028}From: mallory\u{2029}x"),
            "alice From: mallory x"
        );
        assert!(is_unsafe_char('\u{2028}') && is_unsafe_char('\u{2029}'));
    }

    #[test]
    fn escape_sequences_go_whole() {
        assert_eq!(
            sanitize("red \x1b[31;1mRED\x1b[0m \x1b]0;title\x07 end\r\nnext"),
            "red RED  end\nnext"
        );
        assert_eq!(
            sanitize("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b"),
            "alinkb"
        );
        assert_eq!(sanitize("a\u{9b}2Jb\x1bcc\x1b[?25l"), "abc");
        assert_eq!(sanitize("x\ry\x08z\u{202E}"), "x\u{FFFD}y\u{FFFD}z\u{FFFD}");
        assert_eq!(sanitize("cut \x1b[12"), "cut ");
        assert_eq!(sanitize("héllo 🐦\ttab"), "héllo 🐦\ttab");
    }

    #[test]
    fn one_line_keeps_fields_on_one_line() {
        assert_eq!(
            one_line("x\nFrom: alice\r\u{2028}\t\u{200F}y"),
            "x From: alice\u{FFFD}  \u{FFFD}y"
        );
    }

    #[test]
    fn json_line_is_one_line() {
        let mut buf = Vec::new();
        json_line(&mut buf, &serde_json::json!({"type": "x", "s": "a\nb"})).unwrap();
        assert_eq!(buf, b"{\"s\":\"a\\nb\",\"type\":\"x\"}\n");
    }
}
