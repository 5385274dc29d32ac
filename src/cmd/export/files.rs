//! `--files-dir`: attachments copied out of the archive's files folder under safe names,
//! never overwriting anything (a name taken gets a suffix) and never following a symlink,
//! on either side.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};

use crate::cmd::handover::safe_name;
use crate::error::WithHint;
use crate::output::sanitize;

/// Where copies go.
pub struct Copier {
    dir: PathBuf,
    /// The next suffix to try per name: many attachments named alike stay cheap.
    next: HashMap<String, u32>,
}

/// What became of one attachment.
pub enum Copied {
    To(PathBuf),
    /// Its saved file is gone (deleted by hand, or pruned).
    Missing,
}

impl Copier {
    /// Creates the folder (0700) if needed; it must be a folder.
    pub fn new(dir: &Path) -> Result<Copier> {
        crate::home::ensure_private_dir(dir)?;
        if !dir.is_dir() {
            return Err(crate::error::fail(
                crate::error::Exit::Usage,
                format!("--files-dir {} is not a folder", dir.display()),
            ));
        }
        Ok(Copier {
            dir: dir.to_path_buf(),
            next: HashMap::new(),
        })
    }

    /// Copies the saved file `src` as `name` (made safe; an [`is_active`] one gets `.txt`
    /// added, so a browser shows it as text instead of running it). A symlink at `src` or
    /// at its folder is refused: the export stops rather than copy something else.
    pub fn copy(&mut self, src: &Path, name: &str, active: bool) -> Result<Copied> {
        let Some(mut input) = open_no_follow(src)? else {
            return Ok(Copied::Missing);
        };
        let mut base = safe_name(name);
        if active {
            base.push_str(".txt");
        }
        let (stem, ext) = match base.rfind('.') {
            Some(i) if i > 0 => (&base[..i], &base[i..]),
            _ => (base.as_str(), ""),
        };
        let mut n = self.next.get(&base).copied().unwrap_or(0);
        loop {
            let candidate = if n == 0 {
                base.clone()
            } else {
                format!("{stem}-{n}{ext}")
            };
            let path = self.dir.join(&candidate);
            // create_new: an existing file or symlink (even dangling) is never opened.
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(mut out) => {
                    // Only a shortcut (create_new decides): bounded, so a million
                    // attachments do not grow the export's memory.
                    if self.next.len() >= 10_000 {
                        self.next.clear();
                    }
                    self.next.insert(base.clone(), n + 1);
                    let copied = io::copy(&mut input, &mut out).and_then(|_| out.sync_all());
                    if let Err(e) = copied {
                        let _ = fs::remove_file(&path);
                        return Err(e).with_context(|| format!("cannot write {}", path.display()));
                    }
                    return Ok(Copied::To(path));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    // A second export of the same history: the copy made last time is
                    // used again, not made twice.
                    if same_content(&mut input, &path)? {
                        self.next.insert(base.clone(), n);
                        return Ok(Copied::To(path));
                    }
                    n += 1;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()));
                }
            }
        }
    }
}

/// Whether `path` is a regular file (not a symlink) with the same bytes as `input`;
/// `input` is read from its start, and left there again.
fn same_content(input: &mut File, path: &Path) -> Result<bool> {
    use io::Seek;
    let Ok(seen) = fs::symlink_metadata(path) else {
        return Ok(false);
    };
    if !seen.is_file() || seen.len() != input.metadata()?.len() {
        return Ok(false);
    }
    let Ok(mut other) = File::open(path) else {
        return Ok(false);
    };
    let opened = other.metadata()?;
    if (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) {
        return Ok(false);
    }
    input.rewind()?;
    let (mut a, mut b) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let same = loop {
        let n = read_full(input, &mut a)?;
        if n != read_full(&mut other, &mut b)? || a[..n] != b[..n] {
            break false;
        }
        if n == 0 {
            break true;
        }
    };
    input.rewind()?;
    Ok(same)
}

/// Reads until `buf` is full or the file ends.
fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    use io::Read;
    let mut at = 0;
    while at < buf.len() {
        match f.read(&mut buf[at..])? {
            0 => break,
            k => at += k,
        }
    }
    Ok(at)
}

/// File name endings a browser renders as a document or runs when a page links to the
/// file (on `file://` it goes by the ending): HTML and its kin, SVG and XML (which can hold
/// scripts), scripts, HTML applications and web archives.
const ACTIVE_ENDINGS: &[&str] = &[
    "html", "htm", "xhtml", "xht", "shtml", "shtm", "svg", "svgz", "xml", "xsl", "xslt", "js",
    "mjs", "hta", "mht", "mhtml",
];

/// Media types of the same kinds, as a sender declared them.
const ACTIVE_TYPES: &[&str] = &[
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "application/hta",
    "multipart/related",
    "message/rfc822",
];

/// Whether an attachment would run or render as a page if an exported page linked to it:
/// by its name's ending, or by the media type its sender gave.
pub fn is_active(name: &str, media_type: &str) -> bool {
    let ending = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let media = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ending.is_some_and(|e| ACTIVE_ENDINGS.contains(&e.as_str()))
        || ACTIVE_TYPES.contains(&media.as_str())
}

/// Opens a regular file that is not a symlink and whose folder is not one; `None` when it
/// does not exist. The file opened is checked to be the one looked at (no swap between).
fn open_no_follow(src: &Path) -> Result<Option<File>> {
    let refuse = |what: &str| {
        Err(anyhow::anyhow!(
            "refusing to copy the attachment {}: {what}",
            sanitize(&src.display().to_string())
        ))
        .hint("pigeon never follows symlinks in the files folder; look at what put it there")
    };
    let seen = match fs::symlink_metadata(src) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", src.display())),
    };
    if seen.file_type().is_symlink() {
        return refuse("it is a symlink");
    }
    if !seen.is_file() {
        return refuse("it is not a regular file");
    }
    if let Some(parent) = src.parent()
        && fs::symlink_metadata(parent).is_ok_and(|m| m.file_type().is_symlink())
    {
        return refuse("its folder is a symlink");
    }
    let file = File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
    let opened = file.metadata()?;
    if (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) {
        return refuse("it changed while being opened");
    }
    Ok(Some(file))
}

/// How a page at `base` (a folder) links to `path`: relative (`./…`) when the file is
/// under `base`, else a `file://` URL. Every byte outside [A-Za-z0-9-._~/] is
/// percent-encoded, so a link can never be read as another scheme (`javascript:`).
pub fn link(base: &Path, path: &Path) -> String {
    let abs = absolute(path);
    match abs.strip_prefix(absolute(base)) {
        Ok(rel) => format!("./{}", encode(&rel.to_string_lossy())),
        Err(_) => format!("file://{}", encode(&abs.to_string_lossy())),
    }
}

/// An absolute path with `.` and `..` resolved by name (no symlinks are read).
pub fn absolute(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(p)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

fn encode(s: &str) -> String {
    crate::output::percent_encode(s, b"./")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_under_the_page_and_never_a_scheme() {
        let base = Path::new("/home/a/out");
        assert_eq!(
            link(base, Path::new("/home/a/out/files/x y.txt")),
            "./files/x%20y.txt"
        );
        assert_eq!(
            link(base, Path::new("/data/javascript:alert(1)")),
            "file:///data/javascript%3Aalert%281%29"
        );
        assert_eq!(
            link(base, Path::new("/home/a/out/../f\"<.txt")),
            "file:///home/a/f%22%3C.txt"
        );
    }

    #[test]
    fn copies_get_suffixes_and_symlinks_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src.txt");
        fs::write(&src, b"hi").unwrap();
        let out = d.path().join("out");
        let mut c = Copier::new(&out).unwrap();
        fs::write(out.join("a.txt"), b"keep").unwrap();
        std::os::unix::fs::symlink(&src, out.join("a-1.txt")).unwrap();
        let Copied::To(p) = c.copy(&src, "../../a.txt", false).unwrap() else {
            panic!("copied")
        };
        assert_eq!(p, out.join("a-2.txt"));
        assert_eq!(fs::read(out.join("a.txt")).unwrap(), b"keep");
        assert_eq!(fs::read(&p).unwrap(), b"hi");
        let link = d.path().join("link.txt");
        std::os::unix::fs::symlink(&src, &link).unwrap();
        assert!(c.copy(&link, "l.txt", false).is_err());
        assert!(matches!(
            c.copy(&d.path().join("gone"), "g", false).unwrap(),
            Copied::Missing
        ));
        let Copied::To(p) = c.copy(&src, "page.HTML", true).unwrap() else {
            panic!("copied")
        };
        assert_eq!(p, out.join("page.HTML.txt"));
    }

    #[test]
    fn active_attachments_by_ending_or_type() {
        for (name, media) in [
            ("a.html", "text/plain"),
            ("a.SVG", ""),
            ("x.mhtml", "application/octet-stream"),
            ("noext", "text/html; charset=utf-8"),
            ("pic.png", "image/svg+xml"),
        ] {
            assert!(is_active(name, media), "{name} {media}");
        }
        for (name, media) in [
            ("a.txt", "text/plain"),
            ("a.png", "image/png"),
            ("html", ""),
        ] {
            assert!(!is_active(name, media), "{name} {media}");
        }
    }
}
