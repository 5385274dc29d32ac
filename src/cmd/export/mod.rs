//! `pigeon export`: the archive, read (never changed) and written out as JSON Lines, text,
//! Markdown or HTML. Flags become a [`plan::Plan`]; then the archive is walked one row at
//! a time (the filters run in SQLite) and each message is written as it comes, so memory
//! stays flat however big the history. `-o FILE` is written to a temporary file beside it
//! and renamed at the end: a failed export leaves the old file (or none), never half of one.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::Ctx;
use crate::cli::{ExportArgs, ExportFormat};
use crate::error::Exit;
use crate::keys::{Contacts, IdentityMeta, now};
use crate::store::Store;
use crate::store::history::HistoryFilter;

mod files;
mod groups;
mod html;
mod jsonl;
mod markdown;
pub mod plan;
mod record;
mod text;

pub use files::absolute;
use record::{Names, Record};

/// One output format: a header, one piece per message, a footer.
trait Format {
    fn begin(&mut self, _out: &mut dyn Write) -> Result<()> {
        Ok(())
    }
    fn message(&mut self, out: &mut dyn Write, r: &Record) -> Result<()>;
    fn end(&mut self, _out: &mut dyn Write, _count: u64) -> Result<()> {
        Ok(())
    }
}

pub fn run(ctx: &Ctx, mut args: ExportArgs) -> Result<Exit> {
    let contacts = Contacts::open(&ctx.home);
    // A group by my name for it, or its id (messages carry the id).
    let group_asked = args.group.clone();
    if let Some(g) = &args.group {
        // The archive keeps a group's messages under its id; a name or id I hold no
        // group for is a typo, not an empty history.
        args.group = Some(crate::group::Groups::open(&ctx.home).find(g)?.id);
    }
    let plan = plan::plan(args, &contacts, now())?;
    // My name for my own messages; an archive without an identity still exports.
    let me = IdentityMeta::load(&ctx.home)
        .ok()
        .map(|m| (m.fingerprint, m.name));
    let base = match &plan.output {
        Some(p) => absolute(p.parent().unwrap_or(Path::new("."))),
        None => absolute(Path::new(".")),
    };
    let format: Box<dyn Format> = match plan.format {
        ExportFormat::Jsonl => Box::new(jsonl::Jsonl::default()),
        ExportFormat::Text => Box::new(text::Text),
        ExportFormat::Markdown => Box::new(markdown::Markdown {
            base,
            started: false,
        }),
        ExportFormat::Html => Box::new(html::Html {
            base,
            title: html::title(
                me.as_ref().map(|(_, n)| n.as_str()),
                &plan,
                &contacts,
                group_asked.as_deref(),
            ),
        }),
    };
    let archive = ctx.home.archive_path();
    // Reading must not create an archive where there is none.
    let store = if archive.exists() {
        Some(Store::open(&archive)?)
    } else {
        None
    };
    let mut job = Job {
        format,
        names: Names::new(
            contacts,
            me,
            groups::GroupNames::new(crate::group::Groups::open(&ctx.home)),
        ),
        copier: match &plan.files_dir {
            Some(d) => Some(files::Copier::new(d)?),
            None => None,
        },
        missing: 0,
        progress: Progress::new(ctx, store.as_ref(), &plan.filter)?,
    };
    match &plan.output {
        Some(path) => {
            let n = write_atomically(path, |out| job.write(out, store.as_ref(), &plan.filter))?;
            job.progress.clear();
            ctx.say(format!("exported {n} message(s) to {}", path.display()));
        }
        None => {
            let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            job.write(&mut out, store.as_ref(), &plan.filter)?;
            out.flush()?;
        }
    }
    job.progress.clear();
    if job.missing > 0 {
        ctx.say(format!(
            "{} attachment(s) were no longer in the files folder (\"path\": null)",
            job.missing
        ));
    }
    Ok(Exit::Ok)
}

/// Writes a file through a temporary one in its folder (0600: it is private history),
/// renamed over `path` only when `write` succeeded.
fn write_atomically(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<u64>) -> Result<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".pigeon-export-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let mut out = BufWriter::with_capacity(1 << 16, tmp);
    // On any error the temporary file is dropped, which deletes it.
    let n = write(&mut out)?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(n)
}

struct Job {
    format: Box<dyn Format>,
    names: Names,
    copier: Option<files::Copier>,
    missing: u64,
    progress: Progress,
}

impl Job {
    fn write(
        &mut self,
        out: &mut dyn Write,
        store: Option<&Store>,
        filter: &HistoryFilter,
    ) -> Result<u64> {
        self.format.begin(out)?;
        let n = match store {
            Some(s) => s.history(filter, |m| {
                let mut r = self.names.record(m)?;
                self.relocate(&mut r)?;
                self.format.message(out, &r)?;
                self.progress.tick();
                Ok(())
            })?,
            None => 0,
        };
        self.format.end(out, n)?;
        out.flush()?;
        Ok(n)
    }

    /// Copies the record's attachments under `--files-dir` and points it at the copies.
    fn relocate(&mut self, r: &mut Record) -> Result<()> {
        let Some(copier) = &mut self.copier else {
            return Ok(());
        };
        for f in &mut r.files {
            let Some(src) = f.path.take() else { continue };
            match copier.copy(Path::new(&src), &f.name, !f.linkable)? {
                files::Copied::To(p) => {
                    f.path = Some(p.to_string_lossy().into_owned());
                    f.linkable = true;
                }
                files::Copied::Missing => self.missing += 1,
            }
        }
        Ok(())
    }
}

/// A progress line on stderr, only when it is a terminal and the export is long.
struct Progress {
    total: u64,
    done: u64,
    shown: bool,
    last: Instant,
}

/// Exports shorter than this finish before a progress line would help.
const LONG_EXPORT: u64 = 20_000;

impl Progress {
    fn new(ctx: &Ctx, store: Option<&Store>, filter: &HistoryFilter) -> Result<Progress> {
        let total = match store {
            Some(s) if !ctx.quiet && std::io::stderr().is_terminal() => s.history_count(filter)?,
            _ => 0,
        };
        Ok(Progress {
            total: if total >= LONG_EXPORT { total } else { 0 },
            done: 0,
            shown: false,
            last: Instant::now(),
        })
    }

    fn tick(&mut self) {
        self.done += 1;
        if self.total == 0 || !self.done.is_multiple_of(1024) {
            return;
        }
        // The first line at once, then at most five a second.
        if self.shown && self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        let pct = self.done * 100 / self.total.max(1);
        eprint!("\rpigeon: exporting {}/{} ({pct}%)", self.done, self.total);
    }

    fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[K");
            self.shown = false;
        }
    }
}

impl Drop for Progress {
    /// An error message must not land after a half-drawn progress line.
    fn drop(&mut self) {
        self.clear();
    }
}
