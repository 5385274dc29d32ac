//! `--files-dir`, atomic `-o`, and `archive prune`.

use super::*;

#[test]
fn files_dir_never_overwrites_nor_follows_symlinks_and_a_failed_export_leaves_no_file() {
    let f = fixture();
    let dir = f.bob.path("copies");
    std::fs::create_dir_all(&dir).unwrap();
    let secret = f.bob.path("secret.txt");
    std::fs::write(&secret, b"secret").unwrap();
    std::fs::write(dir.join("evil.txt"), b"mine").unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("evil-1.txt")).unwrap();
    let lines = export(
        &f.bob,
        &["--kind", "file", "--files-dir", dir.to_str().unwrap()],
    )
    .ok()
    .json();
    let files = &lines[0]["files"];
    let copy = files[0]["path"].as_str().unwrap();
    assert_eq!(copy, dir.join("evil-2.txt").to_str().unwrap());
    assert_eq!(std::fs::read(copy).unwrap(), b"evil bytes");
    assert_eq!(std::fs::read(dir.join("evil.txt")).unwrap(), b"mine");
    assert_eq!(
        std::fs::read(&secret).unwrap(),
        b"secret",
        "the symlink was not followed"
    );
    assert_eq!(files[1]["path"], dir.join(SAVED_IMG_NAME).to_str().unwrap());
    // Again: the copies made last time are used again (same bytes), none made twice.
    let count = || std::fs::read_dir(&dir).unwrap().count();
    let before = count();
    let again = export(
        &f.bob,
        &["--kind", "file", "--files-dir", dir.to_str().unwrap()],
    )
    .ok()
    .json();
    assert_eq!(
        again[0]["files"][0]["path"],
        dir.join("evil-2.txt").to_str().unwrap()
    );
    assert_eq!(count(), before, "a second export made new copies");
    // A copy changed since is not the same file: a new one is made beside it.
    std::fs::write(dir.join("evil-2.txt"), b"changed").unwrap();
    let third = export(
        &f.bob,
        &["--kind", "file", "--files-dir", dir.to_str().unwrap()],
    )
    .ok()
    .json();
    assert_eq!(
        third[0]["files"][0]["path"],
        dir.join("evil-3.txt").to_str().unwrap()
    );

    // A saved attachment swapped for a symlink: the export stops, -o keeps the old file.
    let saved = PathBuf::from(
        export(&f.bob, &["--kind", "file"]).ok().json()[0]["files"][1]["path"]
            .as_str()
            .unwrap(),
    );
    std::fs::remove_file(&saved).unwrap();
    std::os::unix::fs::symlink(&secret, &saved).unwrap();
    let out = f.bob.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let target = out.join("all.jsonl");
    std::fs::write(&target, b"old\n").unwrap();
    let dir2 = f.bob.path("copies2");
    let r = export(
        &f.bob,
        &[
            "-o",
            target.to_str().unwrap(),
            "--files-dir",
            dir2.to_str().unwrap(),
        ],
    )
    .code(1);
    assert!(r.stderr.contains("symlink"), "{}", r.stderr);
    assert_eq!(std::fs::read(&target).unwrap(), b"old\n");
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["all.jsonl"], "no temporary file left");
    let copied: Vec<_> = std::fs::read_dir(&dir2)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !copied
            .iter()
            .any(|n| std::fs::read(dir2.join(n)).unwrap() == b"secret")
    );

    // Without the bad attachment the same command replaces the file, atomically.
    std::fs::remove_file(&saved).unwrap();
    let r = export(&f.bob, &["-o", target.to_str().unwrap()]).ok();
    assert!(r.stdout.is_empty());
    let written = std::fs::read_to_string(&target).unwrap();
    assert_eq!(written.lines().count(), 8);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "history is private");
}

#[test]
fn prune_removes_old_history_and_its_files_only_inside_the_files_dir() {
    let f = fixture();
    let prune = |args: &[&str]| {
        let mut all = vec!["archive", "prune"];
        all.extend_from_slice(args);
        f.bob.run(&all).ok().one()
    };
    let none = prune(&["--before", "1h"]);
    assert_eq!(none["messages"], 0);
    assert_eq!(export(&f.bob, &[]).ok().json().len(), 8);

    let file_msg = export(&f.bob, &["--kind", "file"]).ok().json().remove(0);
    let evil = PathBuf::from(file_msg["files"][0]["path"].as_str().unwrap());
    let img = PathBuf::from(file_msg["files"][1]["path"].as_str().unwrap());
    // The second attachment swapped for a symlink to a file outside the files folder.
    let outside = f.bob.path("outside.txt");
    std::fs::write(&outside, b"not pigeon's").unwrap();
    std::fs::remove_file(&img).unwrap();
    std::os::unix::fs::symlink(&outside, &img).unwrap();

    let dry = prune(&["--before", "2999-01-01", "--dry-run"]);
    assert_eq!(dry["type"], "pruned");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["messages"], 8);
    assert_eq!(dry["files"], 1);
    assert_eq!(dry["kept_files"], 1);
    assert_eq!(
        export(&f.bob, &[]).ok().json().len(),
        8,
        "a dry run deletes nothing"
    );
    assert!(evil.exists());

    let done = prune(&["--before", "2999-01-01"]);
    assert_eq!(done["dry_run"], false);
    assert_eq!(
        (done["messages"].as_u64(), done["files"].as_u64()),
        (Some(8), Some(1))
    );
    assert_eq!(done["kept_files"], 1);
    assert!(
        export(&f.bob, &[]).ok().stdout.is_empty(),
        "the history is gone"
    );
    assert!(!evil.exists(), "its attachment too");
    assert!(
        std::fs::symlink_metadata(&img).is_ok(),
        "the symlink is left alone"
    );
    assert_eq!(std::fs::read(&outside).unwrap(), b"not pigeon's");
    // Messages that arrive later are archived as before.
    f.alice
        .run(&["send", "--to", "bob", "after the prune"])
        .ok();
    assert_eq!(
        bodies(&f.bob.run(&["recv"]).ok().json()),
        ["after the prune"]
    );
    assert_eq!(
        bodies(&export(&f.bob, &[]).ok().json()),
        ["after the prune"]
    );
    f.bob
        .run(&["archive", "prune", "--before", "next week"])
        .code(2);
}
