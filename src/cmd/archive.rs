//! `pigeon archive prune --before WHEN`: old history out of the archive, with the
//! attachments `recv` saved for it.
//!
//! In batches: the files of a batch go first, then its rows (one transaction), so a crash
//! leaves rows whose files are gone, which the next prune finishes, never files no row
//! knows of. An attachment is deleted only when it lies inside the files folder, reached
//! without passing a symlink, and is a regular file; anything else is kept and counted.

use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::json;

use super::Ctx;
use super::export::{absolute, plan::parse_when};
use crate::cli::{ArchiveCommand, PruneArgs};
use crate::config::Config;
use crate::error::{Exit, Fail, WithHint};
use crate::keys::now;
use crate::store::Store;

/// Messages per transaction.
const BATCH: u32 = 1000;

pub fn run(ctx: &Ctx, cmd: ArchiveCommand) -> Result<Exit> {
    match cmd {
        ArchiveCommand::Prune(a) => prune(ctx, a),
    }
}

#[derive(Default)]
struct Counts {
    messages: u64,
    files: u64,
    kept_files: u64,
}

fn prune(ctx: &Ctx, args: PruneArgs) -> Result<Exit> {
    let before = parse_when(&args.before, now())
        .context(Fail(Exit::Usage, format!("bad --before {:?}", args.before)))
        .hint("give a date (2026-01-01) or a duration ago (90d)")?;
    let cfg = Config::load(&ctx.home)?;
    let files_dir = args
        .files_dir
        .or(cfg.recv.files_dir)
        .unwrap_or_else(|| ctx.home.files_dir());
    let root = absolute(&files_dir);
    let mut counts = Counts::default();
    let archive = ctx.home.archive_path();
    if archive.exists() {
        let mut store = Store::open(&archive)?;
        let mut after = 0;
        loop {
            let batch = store.prune_batch(before, after, BATCH)?;
            let Some(last) = batch.last() else { break };
            after = last.rowid;
            for row in &batch {
                for path in saved_files(&row.json) {
                    match removable(&root, Path::new(&path)) {
                        Place::Inside(p) => {
                            if !args.dry_run {
                                fs::remove_file(&p)
                                    .with_context(|| format!("cannot delete {}", p.display()))?;
                                remove_empty_parents(&root, &p);
                            }
                            counts.files += 1;
                        }
                        Place::Gone => {}
                        Place::Refused => counts.kept_files += 1,
                    }
                }
            }
            if !args.dry_run {
                let rowids: Vec<i64> = batch.iter().map(|r| r.rowid).collect();
                store.delete_rows(&rowids)?;
            }
            counts.messages += batch.len() as u64;
        }
    }
    if counts.kept_files > 0 {
        ctx.say(format!(
            "kept {} attachment(s) outside {} or behind a symlink",
            counts.kept_files,
            root.display()
        ));
    }
    super::emit(&json!({
        "type": "pruned",
        "before": before,
        "dry_run": args.dry_run,
        "messages": counts.messages,
        "files": counts.files,
        "kept_files": counts.kept_files,
    }))?;
    Ok(Exit::Ok)
}

/// The paths an archived JSON line says its attachments were saved at.
fn saved_files(json: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct Line {
        #[serde(default)]
        files: Vec<File>,
    }
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        path: Option<String>,
    }
    serde_json::from_str::<Line>(json)
        .map(|l| l.files.into_iter().filter_map(|f| f.path).collect())
        .unwrap_or_default()
}

enum Place {
    /// A regular file inside the folder, reached through real folders only.
    Inside(PathBuf),
    /// Nothing there any more.
    Gone,
    /// Outside the folder, or a symlink on the way, or not a regular file: left alone.
    Refused,
}

fn removable(root: &Path, path: &Path) -> Place {
    if path.components().any(|c| c == Component::ParentDir) {
        return Place::Refused;
    }
    let abs = absolute(path);
    let Ok(rel) = abs.strip_prefix(root) else {
        return Place::Refused;
    };
    let parts: Vec<_> = rel.components().collect();
    let Some((last, dirs)) = parts.split_last() else {
        return Place::Refused;
    };
    let mut cur = root.to_path_buf();
    for d in dirs {
        cur.push(d);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return Place::Refused,
            Err(_) => return Place::Gone,
        }
    }
    cur.push(last);
    match fs::symlink_metadata(&cur) {
        Ok(m) if m.file_type().is_file() => Place::Inside(cur),
        Ok(_) => Place::Refused,
        Err(_) => Place::Gone,
    }
}

/// Removes the folders `recv` made for a message once they are empty, up to the root.
fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_inside_the_root_through_real_folders() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("files");
        let outside = d.path().join("outside");
        fs::create_dir_all(root.join("m1")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(root.join("m1/a.txt"), b"a").unwrap();
        fs::write(outside.join("b.txt"), b"b").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("m2")).unwrap();
        std::os::unix::fs::symlink(outside.join("b.txt"), root.join("m1/l.txt")).unwrap();
        let inside = |p: &Path| matches!(removable(&root, p), Place::Inside(_));
        let refused = |p: &Path| matches!(removable(&root, p), Place::Refused);
        assert!(inside(&root.join("m1/a.txt")));
        assert!(refused(&root.join("m2/b.txt")), "a symlinked folder");
        assert!(refused(&root.join("m1/l.txt")), "a symlink");
        assert!(refused(&outside.join("b.txt")));
        assert!(refused(&root.join("m1/../../outside/b.txt")));
        assert!(refused(&root), "the root itself");
        assert!(matches!(
            removable(&root, &root.join("m1/gone")),
            Place::Gone
        ));
    }
}
