//! `pigeon gen` (hidden): man pages and shell completions from the clap definitions.
//! The output is committed under `man/` and `completions/`; a test checks it is fresh.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::Ctx;
use crate::cli::{Cli, GenArgs, RelayCli};
use crate::error::Exit;

pub fn run(ctx: &Ctx, args: GenArgs) -> Result<Exit> {
    let files = render_all()?;
    for (rel, bytes) in &files {
        let path = args.out_dir.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    ctx.say(format!(
        "wrote {} files under {}",
        files.len(),
        args.out_dir.display()
    ));
    Ok(Exit::Ok)
}

/// Every generated file, as (path relative to the repository, bytes).
pub fn render_all() -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut root = Cli::command();
    root.build();
    man_pages(&root, "pigeon", "pigeon", &mut out)?;
    let mut relay = RelayCli::command();
    relay.build();
    man_pages(&relay, "pigeond", "pigeond", &mut out)?;
    for (bin, cmd) in [("pigeon", Cli::command()), ("pigeond", relay)] {
        for (shell, file) in [
            (Shell::Bash, format!("{bin}.bash")),
            (Shell::Zsh, format!("_{bin}")),
            (Shell::Fish, format!("{bin}.fish")),
        ] {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd.clone(), bin, &mut buf);
            out.push((PathBuf::from("completions").join(file), buf));
        }
    }
    Ok(out)
}

/// The page `name` (pigeon-serve-token) documents the command line `usage` (pigeon serve
/// token); its subcommands get pages of their own.
fn man_pages(
    cmd: &clap::Command,
    name: &str,
    usage: &str,
    out: &mut Vec<(PathBuf, Vec<u8>)>,
) -> Result<()> {
    let page = cmd.clone().name(name.to_string()).bin_name(usage);
    let mut buf = Vec::new();
    clap_mangen::Man::new(page).render(&mut buf)?;
    if name == "pigeon" || name == "pigeond" {
        buf.extend_from_slice(EXIT_STATUS_ROFF.as_bytes());
    }
    out.push((PathBuf::from("man").join(format!("{name}.1")), buf));
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let sub_name = sub.get_name();
        man_pages(
            sub,
            &format!("{name}-{sub_name}"),
            &format!("{usage} {sub_name}"),
            out,
        )?;
    }
    Ok(())
}

/// Appended to pigeon(1); built from the one exit-code table so the two cannot drift.
static EXIT_STATUS_ROFF: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in Exit::TABLE {
        s.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", code.code(), meaning));
    }
    s.push_str(CONFIG_ROFF);
    s
});

const CONFIG_ROFF: &str = r#".SH ENVIRONMENT
.TP
\fBPIGEON_HOME\fR
Keep every file in this folder. Otherwise data lives in \fI$XDG_DATA_HOME/pigeon\fR
(\fI~/.local/share/pigeon\fR) and the config in \fI$XDG_CONFIG_HOME/pigeon\fR.
.TP
\fBPIGEON_PASSPHRASE\fR
The passphrase that protects the identity's secret keys (or \fB--passphrase-file\fR).
.TP
\fBPIGEON_GPG_PASSPHRASE\fR
The passphrase of an OpenPGP key given to \fBkeygen --import\fR.
.TP
\fBNO_COLOR\fR
No colour on stderr.
.SH FILES
.TP
\fIconfig.toml\fR
Settings, in the config folder. Precedence: flags, then \fBPIGEON_*\fR variables, then
this file, then the defaults. Tables: \fB[identity]\fR passphrase_file;
\fB[send]\fR ttl, timeout; \fB[recv]\fR files_dir; \fB[serve]\fR the relay's flags by
their long names with underscores (listen, db, max_body, rate, ...).
.TP
\fIidentity/\fR
Secret keys (mode 0600) and the card state.
.TP
\fIcontacts/\fR
Pinned cards, one file per fingerprint.
.TP
\fIpigeon.sqlite\fR
The archive of sent and received messages, the outbox and the relay cursors.
"#;
