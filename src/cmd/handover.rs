//! Handing received messages to the user: a JSON line, text for people, or a command per
//! message (`recv --exec`). Also writes attachments under safe names.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cli::RecvFormat;
use crate::output::{one_line, sanitize, utc};
use crate::wire::Attachment;

/// How messages reach the user.
pub struct HandOver {
    pub format: RecvFormat,
    pub exec: Option<String>,
    pub files_dir: PathBuf,
    pub from_contacts_only: bool,
    /// `recv --group`: only this group's messages (its id, or a name for a group not yet
    /// held) are handed over.
    pub group: Option<String>,
    /// For `--format text`: recipients by name.
    pub contacts: crate::keys::Contacts,
    /// My fingerprint ("you" among the recipients).
    pub me: String,
}

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Handed {
    Delivered,
    /// From a stranger under `--from-contacts-only`: kept for a later run.
    HeldBack,
    /// Not of the group `recv --group` asked for: kept for a later run.
    OtherGroup,
    /// `--exec` failed: kept, comes back next run.
    Failed,
}

impl HandOver {
    /// A recipient as a person reads them: "you", a contact's name, or the start of the
    /// fingerprint.
    fn name_of(&self, fp: &str) -> String {
        if fp == self.me {
            return "you".into();
        }
        let hex = !fp.is_empty() && fp.bytes().all(|b| b.is_ascii_hexdigit());
        match hex.then(|| self.contacts.by_fingerprint(fp).ok().flatten()) {
            Some(Some(c)) => c.name,
            _ => format!("unknown key {}", fp.chars().take(16).collect::<String>()),
        }
    }

    /// Hands one message (its JSON, as archived) to the user.
    pub fn deliver(&self, msg: &Value) -> Result<Handed> {
        let known = msg["from"]["known"].as_bool().unwrap_or(false);
        if self.from_contacts_only && !known {
            return Ok(Handed::HeldBack);
        }
        if let Some(g) = &self.group
            && msg["group"].as_str() != Some(g.as_str())
            && msg["group_name"].as_str() != Some(g.as_str())
        {
            return Ok(Handed::OtherGroup);
        }
        if msg["from"]["key_change"].as_bool() == Some(true) {
            // Printed even under --quiet: this is how an impersonation attempt looks.
            eprintln!(
                "pigeon: WARNING: message {} claims to be from {} but is signed by key {}, \
                 not the pinned one",
                one_line(msg["id"].as_str().unwrap_or("")),
                one_line(msg["from"]["claimed_name"].as_str().unwrap_or("")),
                one_line(msg["from"]["fingerprint"].as_str().unwrap_or(""))
            );
        }
        if let Some(cmd) = &self.exec {
            return self.run_exec(cmd, msg);
        }
        match self.format {
            RecvFormat::Json => super::emit(msg)?,
            RecvFormat::Text => {
                let mut out = std::io::stdout().lock();
                out.write_all(text(msg, &|fp| self.name_of(fp)).as_bytes())?;
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
            one_line(&text)
        };
        let opt = |v: &Value| if v.is_null() { String::new() } else { env(v) };
        let spawned = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .env("PIGEON_ID", env(&msg["id"]))
            .env("PIGEON_FROM", env(&msg["from"]["fingerprint"]))
            .env("PIGEON_FROM_NAME", env(&msg["from"]["name"]))
            .env("PIGEON_FROM_KNOWN", msg["from"]["known"].to_string())
            .env("PIGEON_BODY_FILE", body_file.path())
            .env("PIGEON_KIND", env(&msg["kind"]))
            // The group id (empty for a message to persons), and my name for it.
            .env("PIGEON_GROUP", opt(&msg["group"]))
            .env("PIGEON_GROUP_NAME", opt(&msg["group_name"]))
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

    /// Writes decoded attachments to `files_dir/<sender>/<message id>/<safe name>`; returns
    /// their paths. Two senders' messages never share a folder, nothing is followed through
    /// a symlink, and an existing file is never replaced (the new one gets another name).
    pub fn save_files(
        &self,
        sender: &str,
        msg_id: &str,
        files: &[Attachment],
        data: Vec<Vec<u8>>,
    ) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        if files.is_empty() {
            return Ok(out);
        }
        crate::home::ensure_private_dir(&self.files_dir)?;
        let mut dir = self.files_dir.clone();
        // Both come from a verified message (hex digits), but are cleaned all the same.
        for part in [sender, msg_id] {
            dir.push(safe_name(part));
            crate::home::ensure_private_subdir(&dir)?;
        }
        for (f, bytes) in files.iter().zip(data) {
            let name = safe_name(&f.name);
            out.push(crate::home::write_new(&dir, &name, &bytes, 0o600)?);
        }
        Ok(out)
    }
}

/// Names Windows reserves for devices (also with an extension): refused on a shared or
/// mounted disk, and a surprise anywhere.
fn is_device_name(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit())
}

/// A file name that cannot escape its folder or surprise a shell: no separators, no
/// leading dots or dashes, no control or bidi characters, no device names, at most 128
/// bytes.
pub fn safe_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut s: String = last
        .chars()
        .map(|c| {
            // Also what Windows and FAT file systems refuse, so a shared or mounted files
            // dir cannot turn a stranger's file name into an error that stops every run.
            if crate::output::is_unsafe_char(c)
                || matches!(c, ':' | '<' | '>' | '"' | '|' | '?' | '*')
            {
                '_'
            } else {
                c
            }
        })
        .collect();
    s = s.trim_start_matches(['.', '-', ' ']).to_string();
    if is_device_name(&s) {
        s.insert(0, '_');
    }
    while s.len() > 128 {
        s.pop();
    }
    if s.is_empty() { "attachment".into() } else { s }
}

/// Longest body line printed as is in text output; longer ones are folded.
const TEXT_LINE: usize = 1000;

/// A message for people. Every field from outside is on its own one line (a name with a
/// newline cannot print a header of its own), and body lines are indented and folded, so
/// no part of a body can pass itself off as the header of another message.
fn text(msg: &Value, name_of: &dyn Fn(&str) -> String) -> String {
    let from = &msg["from"];
    let who = from["name"]
        .as_str()
        .or_else(|| from["claimed_name"].as_str())
        .unwrap_or("?");
    let fp = one_line(from["fingerprint"].as_str().unwrap_or(""));
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
        one_line(who),
        fp.chars().take(16).collect::<String>(),
        status,
        utc(msg["ts"].as_u64().unwrap_or(0)),
        one_line(msg["id"].as_str().unwrap_or(""))
    );
    let to: Vec<String> = msg["to"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(name_of).collect())
        .unwrap_or_default();
    if !to.is_empty() {
        s.push_str(&format!("To:   {}\n", one_line(&to.join(", "))));
    }
    if let Some(g) = msg["group"].as_str() {
        match msg["group_name"].as_str().filter(|n| !n.is_empty()) {
            Some(n) => s.push_str(&format!("Group: {} ({})\n", one_line(n), one_line(g))),
            None => s.push_str(&format!("Group: {}\n", one_line(g))),
        }
    }
    if let Some(files) = msg["files"].as_array() {
        for f in files {
            s.push_str(&format!(
                "File: {} ({} bytes) {}\n",
                one_line(f["name"].as_str().unwrap_or("")),
                f["size"].as_u64().unwrap_or(0),
                f["path"]
                    .as_str()
                    .map(|p| format!("-> {}", one_line(p)))
                    .unwrap_or_default()
            ));
        }
    }
    s.push('\n');
    for line in sanitize(msg["body"].as_str().unwrap_or("")).lines() {
        let chars: Vec<char> = line.chars().collect();
        for part in chars.chunks(TEXT_LINE) {
            s.push_str("    ");
            s.extend(part);
            s.push('\n');
        }
        if chars.is_empty() {
            s.push_str("    \n");
        }
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
        assert_eq!(safe_name("/etc/passwd"), "passwd");
        assert_eq!(safe_name("CON"), "_CON");
        assert_eq!(safe_name(&format!("con.{}", "x".repeat(200))).len(), 128);
        assert_eq!(safe_name("a<b>c?*|\"d"), "a_b_c____d");
        assert_eq!(safe_name("lpt1.txt"), "_lpt1.txt");
        assert_eq!(safe_name("a\0b"), "a_b");
        assert_eq!(safe_name("."), "attachment");
        assert_eq!(safe_name("x\u{202E}fdp.exe"), "x_fdp.exe");
    }

    #[test]
    fn text_keeps_outside_fields_on_one_line() {
        let msg = serde_json::json!({
            "from": {"claimed_name": "x\nFrom: alice (verified contact)", "fingerprint": "ab"},
            "id": "1", "ts": 0, "group": "g\nFrom: y",
            "files": [{"name": "f\nFrom: z", "size": 1}],
            "body": format!("hi\n\x1b[2J{}", "y".repeat(2500)),
        });
        let t = text(&msg, &|fp| fp.to_string());
        assert!(
            t.lines().filter(|l| l.starts_with("From:")).count() == 1,
            "{t}"
        );
        assert!(!t.contains('\x1b'));
        assert!(t.lines().all(|l| l.chars().count() <= TEXT_LINE + 4), "{t}");
    }
}
