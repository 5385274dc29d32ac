//! Exit codes (one enum, the documented contract) and the error printer.
//!
//! Errors travel as `anyhow::Error`. Code that knows *why* something failed attaches an
//! [`Exit`] with [`Fail`], and may attach a [`Hint`] that tells the user what to do next.
//! [`report`] prints the chain once, one line per cause, and [`exit_code`] picks the code.

use std::fmt;

/// Process exit codes. The numbers are a public contract (see `pigeon(1)`, EXIT STATUS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Ok = 0,
    /// A failure with no more specific code.
    Failure = 1,
    /// Bad usage: a flag, an argument or input that cannot be parsed.
    Usage = 2,
    /// A relay or tracker could not be reached.
    Network = 3,
    /// Authentication or cryptography failed: bad signature, wrong key, key change.
    Crypto = 4,
    /// Something named does not exist: unknown contact, group or identity.
    NotFound = 5,
    /// Partly done: some recipients or relays failed; the JSON output says which.
    Partial = 6,
    /// Another run holds the lock and `--no-wait` was given.
    Busy = 7,
}

impl Exit {
    /// Every code with a one-line meaning, in order; the man page is generated from this.
    pub const TABLE: &'static [(Exit, &'static str)] = &[
        (Exit::Ok, "success"),
        (Exit::Failure, "failure"),
        (Exit::Usage, "usage error: bad flag, argument or input line"),
        (Exit::Network, "a relay or tracker could not be reached"),
        (
            Exit::Crypto,
            "authentication or crypto failure: bad signature, wrong key, key change",
        ),
        (
            Exit::NotFound,
            "not found: unknown contact, group or identity",
        ),
        (
            Exit::Partial,
            "partial: some recipients or relays failed (the JSON says which)",
        ),
        (Exit::Busy, "another run holds the lock (recv --no-wait)"),
    ];

    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error that decides the exit code. Attach with `.context(Fail(Exit::X, "..."))` or
/// build with [`fail`].
#[derive(Debug)]
pub struct Fail(pub Exit, pub String);

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.1)
    }
}
impl std::error::Error for Fail {}

/// What the user can do about an error; printed as `hint: …` after the causes.
#[derive(Debug)]
pub struct Hint(pub String);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Hint {}

/// A new error with an exit code.
pub fn fail(code: Exit, msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Fail(code, msg.into()))
}

/// Adds a hint to any error or result.
pub trait WithHint<T> {
    fn hint(self, hint: impl Into<String>) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> WithHint<T> for Result<T, E> {
    fn hint(self, hint: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|e| e.into().context(Hint(hint.into())))
    }
}

/// The exit code for an error: the outermost [`Fail`] wins; a broken pipe is success.
pub fn exit_code(err: &anyhow::Error) -> Exit {
    // anyhow finds a context value of this type at any depth, outermost first.
    if let Some(Fail(code, _)) = err.downcast_ref::<Fail>() {
        return *code;
    }
    for cause in err.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::BrokenPipe
        {
            return Exit::Ok;
        }
    }
    Exit::Failure
}

/// Whether the error is only a closed stdout (`pigeon recv | head -1`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            // serde_json writing a long line straight to stdout wraps the I/O error.
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// The lines [`report`] prints: `error: top`, then one `because: …` per distinct cause,
/// then the hints.
pub fn render(err: &anyhow::Error) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    // A hint attached as context shows up in the chain as plain text; anyhow finds the
    // outermost one by type, and it is printed last instead of as a cause.
    let hint = err.downcast_ref::<Hint>().map(|h| h.0.clone());
    let mut seen: Vec<String> = Vec::new();
    for cause in err.chain() {
        let raw = cause.to_string();
        if hint.as_deref() == Some(raw.as_str()) {
            continue;
        }
        let text = crate::output::sanitize(&raw);
        // Wrapped errors often repeat their source's text; print each once.
        if text.is_empty() || seen.iter().any(|s| s.contains(&text)) {
            continue;
        }
        let prefix = if lines.is_empty() { "error" } else { "because" };
        lines.push(format!("{prefix}: {text}"));
        seen.push(text);
    }
    if let Some(h) = hint {
        lines.push(format!("hint: {}", crate::output::sanitize(&h)));
    }
    lines
}

/// Prints the error to stderr, once, one line per cause.
pub fn report(err: &anyhow::Error) {
    for line in render(err) {
        eprintln!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_are_the_documented_numbers() {
        let nums: Vec<i32> = Exit::TABLE.iter().map(|(e, _)| e.code()).collect();
        assert_eq!(nums, vec![0, 1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn outermost_fail_decides_and_broken_pipe_is_ok() {
        let e = fail(Exit::NotFound, "no contact bob").context("while sending");
        assert_eq!(exit_code(&e), Exit::NotFound);
        let e = anyhow::anyhow!("bad sig")
            .context(Fail(Exit::Crypto, "refused".into()))
            .context("while opening");
        assert_eq!(exit_code(&e), Exit::Crypto);
        let e = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(exit_code(&e), Exit::Ok);
        assert_eq!(exit_code(&anyhow::anyhow!("x")), Exit::Failure);
    }

    #[test]
    fn a_closed_pipe_under_a_long_json_line_is_still_a_broken_pipe() {
        struct Closed;
        impl std::io::Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        // Longer than serde_json's buffer, so the write fails inside serde_json.
        let long = serde_json::json!({"type": "message", "body": "x".repeat(64 * 1024)});
        let e = crate::output::json_line(&mut Closed, &long).unwrap_err();
        assert!(is_broken_pipe(&e), "{e:#}");
    }

    #[test]
    fn render_prints_causes_once_and_hints_last() {
        let e: anyhow::Result<()> = Err(anyhow::anyhow!("disk full"));
        let e = e
            .hint("free some space")
            .context("cannot write card")
            .unwrap_err();
        assert_eq!(
            render(&e),
            vec![
                "error: cannot write card",
                "because: disk full",
                "hint: free some space"
            ]
        );
    }
}
