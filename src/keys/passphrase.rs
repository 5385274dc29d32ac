//! Where a passphrase comes from: a file named by a flag, else an environment variable.
//! Never argv, never a prompt when stdin is not a terminal.

use std::path::Path;

use anyhow::{Context, Result};
use zeroize::Zeroizing;

/// The passphrase from `file` if given, else from the environment variable `var` if named.
/// A trailing newline in the file is not part of the passphrase.
pub fn read(file: Option<&Path>, var: Option<&str>) -> Result<Option<Zeroizing<String>>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read passphrase file {}", path.display()))?;
        let text = Zeroizing::new(text);
        let trimmed = text.strip_suffix('\n').unwrap_or(&text);
        let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
        if trimmed.is_empty() {
            anyhow::bail!("passphrase file {} is empty", path.display());
        }
        return Ok(Some(Zeroizing::new(trimmed.to_string())));
    }
    let Some(var) = var else { return Ok(None) };
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Some(Zeroizing::new(v))),
        _ => Ok(None),
    }
}
