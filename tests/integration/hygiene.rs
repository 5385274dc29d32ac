//! The repository holds what a user needs and never a secret: a private key committed by
//! accident (a scratch file from an experiment) fails this test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Files git tracks, or, outside a git checkout, every file but `target/` and `.git/`.
fn repository_files(root: &Path) -> Vec<PathBuf> {
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output();
    if let Ok(out) = listed
        && out.status.success()
    {
        return out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
            .filter(|p| p.is_file())
            .collect();
    }
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name();
            if name == "target" || name == ".git" || name == "node_modules" {
                continue;
            }
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files
}

/// What marks a private key, in any format pigeon or its tools write.
fn looks_like_private_key(path: &Path, text: &str) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(ext, "pem" | "key" | "p12" | "pfx" | "gpg" | "kbx") {
        return true;
    }
    // Rust sources may hold test vectors inside string literals; a key file starts with one.
    if ext == "rs" {
        return false;
    }
    text.contains("PRIVATE KEY-----")
        || text.contains("BEGIN PGP PRIVATE KEY BLOCK")
        || text
            .lines()
            .any(|l| l.trim_start().starts_with("AGE-SECRET-KEY-1"))
}

#[test]
fn no_private_key_is_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = repository_files(root);
    assert!(
        files.iter().any(|p| p.ends_with("Cargo.toml")),
        "listing is empty"
    );
    let keys: Vec<_> = files
        .iter()
        .filter(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
            looks_like_private_key(p, &text)
        })
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert!(keys.is_empty(), "private keys in the repository: {keys:?}");
}

#[test]
fn the_detector_sees_each_key_format() {
    let p = Path::new("x.txt");
    assert!(looks_like_private_key(
        p,
        "-----BEGIN PRIVATE KEY-----\nMC4C\n"
    ));
    assert!(looks_like_private_key(
        p,
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n"
    ));
    assert!(looks_like_private_key(
        p,
        "# created\nAGE-SECRET-KEY-1QQQ\n"
    ));
    assert!(looks_like_private_key(Path::new("mbox.pem"), ""));
    assert!(!looks_like_private_key(p, "age1qqq public\n"));
}
