//! Handing received messages to the user: a JSON line, text for people, or a command per
//! message (`recv --exec`). Also writes attachments under safe names.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use crate::cli::RecvFormat;
use crate::output::{sanitize, utc};
use crate::wire::Attachment;

/// How messages reach the user.
pub struct HandOver {
    pub format: RecvFormat,
    pub exec: Option<String>,
    pub files_dir: PathBuf,
    pub from_contacts_only: bool,
}

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Handed {
    Delivered,
    /// From a stranger under `--from-contacts-only`: kept for a later run.
    HeldBack,
    /// `--exec` failed: kept, comes back next run.
    Failed,
}

impl HandOver {
    /// Hands one message (its JSON, as archived) to the user.
    pub fn deliver(&self, msg: &Value) -> Result<Handed> {
        let known = msg["from"]["known"].as_bool().unwrap_or(false);
        if self.from_contacts_only && !known {
            return Ok(Handed::HeldBack);
        }
        if msg["from"]["key_change"].as_bool() == Some(true) {
            // Printed even under --quiet: this is how an impersonation attempt looks.
            eprintln!(
                "pigeon: WARNING: message {} claims to be from {} but is signed by key {}, \
                 not the pinned one",
                msg["id"].as_str().unwrap_or(""),
                sanitize(msg["from"]["claimed_name"].as_str().unwrap_or("")),
                msg["from"]["fingerprint"].as_str().unwrap_or("")
            );
        }
        if let Some(cmd) = &self.exec {
            return self.run_exec(cmd, msg);
        }
        match self.format {
            RecvFormat::Json => super::emit(msg)?,
            RecvFormat::Text => {
                let mut out = std::io::stdout().lock();
                out.write_all(text(msg).as_bytes())?;
                out.flush()?;
            }
        }
        Ok(Handed::Delivered)
    }

    fn run_exec(&self, cmd: &str, msg: &Value) -> Result<Handed> {
        let id = msg["id"].as_str().unwrap_or_default();
        let body_file = tempfile::Builder::new()
            .prefix("pigeon-body-")
            .tempfile()
            .context("cannot create the body file for --exec")?;
        std::fs::write(body_file.path(), msg["body"].as_str().unwrap_or_default())?;
        // Values from the message go into the environment cleaned: a NUL would make the
        // spawn fail (and a stranger could block every run), escapes could reach a terminal.
        let env = |v: &Value| -> String {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            sanitize(&text).replace(['\n', '\t'], " ")
        };
        let spawned = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .env("PIGEON_ID", env(&msg["id"]))
            .env("PIGEON_FROM", env(&msg["from"]["fingerprint"]))
            .env("PIGEON_FROM_NAME", env(&msg["from"]["name"]))
            .env("PIGEON_FROM_KNOWN", msg["from"]["known"].to_string())
            .env("PIGEON_BODY_FILE", body_file.path())
            .env("PIGEON_KIND", env(&msg["kind"]))
            // The script handles what strangers wrote: it gets no secrets of ours.
            .env_remove("PIGEON_PASSPHRASE")
            .env_remove("PIGEON_GPG_PASSPHRASE")
            .stdin(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                eprintln!("pigeon: cannot run --exec {cmd:?}: {e}; message {id} will be retried");
                return Ok(Handed::Failed);
            }
        };
        if let Some(mut stdin) = child.stdin.take() {
            // The command may not read its stdin; that is its business.
            let _ = serde_json::to_writer(&mut stdin, msg);
            let _ = stdin.write_all(b"\n");
        }
        let status = child.wait()?;
        if status.success() {
            Ok(Handed::Delivered)
        } else {
            eprintln!(
                "pigeon: --exec failed for message {id} ({status}); it will be retried next run"
            );
            Ok(Handed::Failed)
        }
    }

    /// Writes attachments to `files_dir/<message id>/<safe name>`; returns their paths.
    pub fn save_files(&self, msg_id: &str, files: &[Attachment]) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        if files.is_empty() {
            return Ok(out);
        }
        let dir = self.files_dir.join(msg_id);
        crate::home::ensure_private_dir(&dir)?;
        let mut used: Vec<String> = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let mut name = safe_name(&f.name);
            if used.contains(&name) {
                name = format!("{i}-{name}");
            }
            used.push(name.clone());
            let bytes = B64
                .decode(&f.data)
                .with_context(|| format!("attachment {:?} is not base64", sanitize(&f.name)))?;
            let path = dir.join(&name);
            crate::home::write_atomic(&path, &bytes, 0o600)?;
            out.push(path);
        }
        Ok(out)
    }
}

/// A file name that cannot escape its folder or surprise a shell: no separators, no
/// leading dots or dashes, no control characters, at most 128 bytes.
pub fn safe_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut s: String = last
        .chars()
        .map(|c| if c.is_control() || c == ':' { '_' } else { c })
        .collect();
    s = s.trim_start_matches(['.', '-', ' ']).to_string();
    while s.len() > 128 {
        s.pop();
    }
    if s.is_empty() { "attachment".into() } else { s }
}

/// A message for people.
fn text(msg: &Value) -> String {
    let from = &msg["from"];
    let who = from["name"]
        .as_str()
        .or_else(|| from["claimed_name"].as_str())
        .unwrap_or("?");
    let fp = from["fingerprint"].as_str().unwrap_or("");
    let status = if from["key_change"].as_bool() == Some(true) {
        "KEY CHANGED: not the key you pinned"
    } else if from["verified"].as_bool() == Some(true) {
        "verified contact"
    } else if from["known"].as_bool() == Some(true) {
        "contact"
    } else {
        "stranger"
    };
    let mut s = format!(
        "From: {} ({}, {})\nDate: {}\nId:   {}\n",
        sanitize(who),
        &fp[..fp.len().min(16)],
        status,
        utc(msg["ts"].as_u64().unwrap_or(0)),
        msg["id"].as_str().unwrap_or("")
    );
    if let Some(files) = msg["files"].as_array() {
        for f in files {
            s.push_str(&format!(
                "File: {} ({} bytes) {}\n",
                sanitize(f["name"].as_str().unwrap_or("")),
                f["size"],
                f["path"]
                    .as_str()
                    .map(|p| format!("-> {p}"))
                    .unwrap_or_default()
            ));
        }
    }
    s.push('\n');
    // The body is indented, so it cannot pass itself off as the header of another message.
    for line in sanitize(msg["body"].as_str().unwrap_or("")).lines() {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s.push('\n');
    s
}

pub fn path_string(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("..\\..\\x.txt"), "x.txt");
        assert_eq!(safe_name(".bashrc"), "bashrc");
        assert_eq!(safe_name("-rf"), "rf");
        assert_eq!(safe_name("a\x1b[0mb"), "a_[0mb");
        assert_eq!(safe_name(".."), "attachment");
        assert_eq!(safe_name(&"x".repeat(300)).len(), 128);
    }
}
