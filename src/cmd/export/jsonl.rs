//! `--format jsonl`: one `{"type":"message","v":1,…}` object per line (docs/export.md).

use std::io::Write;

use anyhow::Result;

use super::Format;
use super::record::Record;

#[derive(Default)]
pub struct Jsonl {
    /// One line, reused. Written with `write_all` so a closed stdout is a plain I/O error
    /// (serde_json's own error would hide the broken pipe, which is exit 0).
    line: Vec<u8>,
}

impl Format for Jsonl {
    fn message(&mut self, out: &mut dyn Write, r: &Record) -> Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, r)?;
        self.line.push(b'\n');
        out.write_all(&self.line)?;
        Ok(())
    }
}
