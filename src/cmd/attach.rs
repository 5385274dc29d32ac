//! Files to attach: read, named and typed for the inner message.

use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{Exit, Fail};
use crate::wire::Attachment;

/// Reads a file to attach; an unreadable file is a usage error (exit 2).
pub fn read(path: &Path) -> Result<Attachment> {
    let bytes = std::fs::read(path)
        .map_err(anyhow::Error::from)
        .context(Fail(
            Exit::Usage,
            format!("cannot read the attachment {}", path.display()),
        ))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".into());
    Ok(Attachment {
        media_type: media_type(&name).into(),
        size: bytes.len() as u64,
        data: B64.encode(&bytes),
        name,
    })
}

/// A media type from the file name, for the common cases; the rest are octet streams.
fn media_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}
