//! `--format jsonl`: one `{"type":"message","v":1,…}` object per line (docs/export.md).

use std::io::Write;

use anyhow::Result;

use super::Format;
use super::record::Record;

pub struct Jsonl;

impl Format for Jsonl {
    fn message(&mut self, out: &mut dyn Write, r: &Record) -> Result<()> {
        serde_json::to_writer(&mut *out, r)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}
