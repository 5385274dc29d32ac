//! man/ and completions/ must match the CLI definitions byte for byte.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn man_pages_and_completions_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = pigeon::cmd::generate::render_all().unwrap();
    let mut expected = BTreeSet::new();
    let mut stale = Vec::new();
    for (rel, bytes) in &files {
        expected.insert(rel.clone());
        let path = root.join(rel);
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            stale.push(rel.display().to_string());
        }
    }
    for dir in ["man", "completions"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let rel = Path::new(dir).join(entry.unwrap().file_name());
            if !expected.contains(&rel) {
                stale.push(format!("{} (no longer generated)", rel.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files: {stale:?}; run scripts/gen-docs and commit"
    );
    assert!(files.iter().any(|(p, _)| p.ends_with("pigeon-keygen.1")));
    let root_page = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(root_page.contains("EXIT STATUS") && root_page.contains("PIGEON_HOME"));
}
