//! Attachment metadata as a message carries it (`wire::Attachment`: name, media type, size,
//! base64 data) and what `recv` does with it before writing: the safe file name and the base64
//! decode. A safe name is one non-empty path component of at most 128 bytes, never hidden,
//! never an option, with no control characters: joined to a folder it stays inside it.
#![no_main]

use std::path::{Component, Path};

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use pigeon::cmd::handover::safe_name;
use pigeon::output::sanitize;
use pigeon::wire::Attachment;

fn check_name(name: &str) {
    let s = safe_name(name);
    assert!(!s.is_empty());
    assert!(s.len() <= 128, "{} bytes", s.len());
    assert!(!s.contains(['/', '\\', '\0', ':']), "{s:?}");
    assert!(!s.starts_with(['.', '-', ' ']), "{s:?}");
    assert!(!s.chars().any(char::is_control), "{s:?}");
    let dir = Path::new("/files/0123");
    let joined = dir.join(&s);
    assert_eq!(joined.parent(), Some(dir), "{s:?} leaves its folder");
    let comps: Vec<_> = Path::new(&s).components().collect();
    assert!(matches!(comps.as_slice(), [Component::Normal(_)]), "{s:?}");
    // Names shown to people are one line without escapes.
    let shown = sanitize(name);
    assert!(
        !shown
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(files) = serde_json::from_slice::<Vec<Attachment>>(data) {
        for f in &files {
            check_name(&f.name);
            let _ = sanitize(&f.media_type);
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&f.data) {
                assert!(bytes.len() <= f.data.len());
            }
        }
    }
    if let Some(f) = pigeon_fuzz::round_trip::<Attachment>(data) {
        check_name(&f.name);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        check_name(s);
    }
});
