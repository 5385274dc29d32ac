//! Where pigeon keeps its files: `$PIGEON_HOME` when set, else the XDG directories.
//!
//! Layout under the data dir: `identity/` (secrets 0600), `contacts/`, `pigeon.sqlite`
//! (archive, outbox, cursors), `files/` (received attachments), `relay.sqlite` (the
//! embedded relay's default database).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::WithHint;

/// The directories pigeon uses.
#[derive(Debug, Clone)]
pub struct Home {
    pub data: PathBuf,
    pub config: PathBuf,
}

impl Home {
    /// `$PIGEON_HOME` (data and config both there), else `$XDG_DATA_HOME/pigeon` and
    /// `$XDG_CONFIG_HOME/pigeon`, else `~/.local/share/pigeon` and `~/.config/pigeon`.
    pub fn from_env() -> Result<Home> {
        if let Some(h) = std::env::var_os("PIGEON_HOME").filter(|v| !v.is_empty()) {
            let p = PathBuf::from(h);
            return Ok(Home {
                data: p.clone(),
                config: p,
            });
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let xdg = |var: &str, fallback: &str| -> Result<PathBuf> {
            match std::env::var_os(var).filter(|v| !v.is_empty()) {
                Some(v) => Ok(PathBuf::from(v).join("pigeon")),
                None => home
                    .as_ref()
                    .map(|h| h.join(fallback).join("pigeon"))
                    .context("neither PIGEON_HOME nor HOME is set")
                    .hint("set PIGEON_HOME to the folder pigeon should use"),
            }
        };
        Ok(Home {
            data: xdg("XDG_DATA_HOME", ".local/share")?,
            config: xdg("XDG_CONFIG_HOME", ".config")?,
        })
    }

    pub fn at(dir: &Path) -> Home {
        Home {
            data: dir.to_path_buf(),
            config: dir.to_path_buf(),
        }
    }

    pub fn identity_dir(&self) -> PathBuf {
        self.data.join("identity")
    }
    pub fn contacts_dir(&self) -> PathBuf {
        self.data.join("contacts")
    }
    pub fn archive_path(&self) -> PathBuf {
        self.data.join("pigeon.sqlite")
    }
    pub fn files_dir(&self) -> PathBuf {
        self.data.join("files")
    }
    pub fn relay_db_path(&self) -> PathBuf {
        self.data.join("relay.sqlite")
    }
    pub fn tracker_db_path(&self) -> PathBuf {
        self.data.join("tracker.sqlite")
    }
    pub fn config_file(&self) -> PathBuf {
        self.config.join("config.toml")
    }

    /// Creates the data dir (0700) if missing.
    pub fn ensure_data(&self) -> Result<()> {
        ensure_private_dir(&self.data)
    }
}

/// The `*.json` files directly in `dir`, in no particular order; none when it does not exist.
pub fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            out.push(path);
        }
    }
    Ok(out)
}

/// Creates a directory and its missing parents, each created one with mode 0700 whatever
/// the umask (directories that exist are left as they are).
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        ensure_private_dir(parent)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        // Made by someone else meanwhile (another pigeon): fine if it is a directory.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set permissions on {}", dir.display()))
}

/// Creates `dir` (0700) in an existing parent, or checks that it is a directory of ours:
/// a symlink or a file planted there (in a shared `--files-dir`, by another local user) is
/// refused rather than followed.
pub fn ensure_private_subdir(dir: &Path) -> Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot set permissions on {}", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            use std::os::unix::fs::MetadataExt;
            let meta = fs::symlink_metadata(dir)
                .with_context(|| format!("cannot read {}", dir.display()))?;
            // Our own uid is the owner of /proc/self (std has no geteuid).
            let ours = fs::metadata("/proc/self").is_ok_and(|me| me.uid() == meta.uid());
            if meta.file_type().is_dir() && ours {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "{} exists and is not a directory of yours (a symlink or a file planted \
                     there?); refusing to write through it",
                    dir.display()
                ))
                .hint("remove it, or pick another --files-dir")
            }
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
}

/// Writes a new file `dir/name` (exact `mode`, fsynced) without ever replacing or
/// following anything there: when the name is taken, `1-name`, `2-name`, … are tried.
/// Returns the path written.
pub fn write_new(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<PathBuf> {
    let candidates = || {
        (0..1000).map(move |i| {
            if i == 0 {
                dir.join(name)
            } else {
                dir.join(format!("{i}-{name}"))
            }
        })
    };
    let create = |path: &Path| -> std::io::Result<fs::File> {
        let f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        Ok(f)
    };
    let tmp = dir.join(format!(".{:016x}.tmp", rand::random::<u64>()));
    let result = (|| -> Result<PathBuf> {
        let mut f = create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        let mut linked = None;
        for path in candidates() {
            // A hard link fails if anything (a file, a symlink) has the name: no clobber,
            // and the file appears whole or not at all.
            match fs::hard_link(&tmp, &path) {
                Ok(()) => {
                    linked = Some(path);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                // A file system without hard links (FAT, some network mounts): below.
                Err(_) => break,
            }
        }
        fs::remove_file(&tmp)?;
        let path = match linked {
            Some(p) => p,
            None => {
                // Exclusive creation: never follows a symlink, never replaces a file.
                let mut found = None;
                for path in candidates() {
                    match create(&path) {
                        Ok(mut f) => {
                            f.write_all(bytes)?;
                            f.sync_all()?;
                            found = Some(path);
                            break;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                found.with_context(|| format!("too many files named {name:?}"))?
            }
        };
        fs::File::open(dir)?.sync_all()?;
        Ok(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {} in {}", name, dir.display()))
}

/// Creates an empty file with mode 0600 if it is missing (SQLite then gives its journal
/// files the same mode), so what a database holds does not depend on the umask.
pub fn ensure_private_file(path: &Path) -> Result<()> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => f
            .set_permissions(fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot set permissions on {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// Writes a file atomically: a temporary file beside it with `mode`, fsync, rename, fsync of
/// the directory. A crash leaves the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_private_dir(dir)?;
    let name = path.file_name().context("path has no file name")?;
    // A fresh random name, created exclusively: a file or symlink planted at a guessable
    // name (in a shared --files-dir, say) is never followed or overwritten.
    let tmp = dir.join(format!(
        ".{}.{:016x}.tmp",
        name.to_string_lossy(),
        rand::random::<u64>()
    ));
    let result = (|| -> Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The mode passed to open is masked by umask; make it exact.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_never_replace_or_follow() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("t"), dir.path().join("f")).unwrap();
        let a = write_new(dir.path(), "f", b"1", 0o600).unwrap();
        let b = write_new(dir.path(), "f", b"2", 0o600).unwrap();
        assert_eq!(a, dir.path().join("1-f"));
        assert_eq!(b, dir.path().join("2-f"));
        assert_eq!(fs::read(&b).unwrap(), b"2");
        assert!(
            !outside.path().join("t").exists(),
            "the symlink was not followed"
        );
        let mode = fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Only the three names: no temporary file left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn a_planted_symlink_is_not_a_subdir() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let link = dir.path().join("sub");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        assert!(ensure_private_subdir(&link).is_err());
        let real = dir.path().join("real");
        ensure_private_subdir(&real).unwrap();
        ensure_private_subdir(&real).unwrap();
        let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/secret");
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }
}
