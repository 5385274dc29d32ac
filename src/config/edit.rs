//! Edits of `config.toml` that commands make for the user (`pigeon tracker add|remove`):
//! in place, keeping the user's comments and layout, checked before it is written (a change
//! that would not load is never saved), written atomically.

use anyhow::{Context, Result};
use toml_edit::{Array, DocumentMut, Item, Table, value};

use crate::home::Home;

/// Applies `change` to `[tracker] urls` and saves the file when it returns true. Returns the
/// list as it is afterwards.
pub fn tracker_urls(
    home: &Home,
    change: impl FnOnce(&mut Vec<String>) -> bool,
) -> Result<Vec<String>> {
    let path = home.config_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut doc: DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let tracker = doc
        .entry("tracker")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_mut()
        .with_context(|| format!("[tracker] in {} is not a table", path.display()))?;
    let mut urls: Vec<String> = match tracker.get("urls") {
        None => Vec::new(),
        Some(item) => item
            .as_array()
            .with_context(|| format!("[tracker] urls in {} is not a list", path.display()))?
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .with_context(|| format!("[tracker] urls in {} holds a non-string", path.display()))?,
    };
    if !change(&mut urls) {
        return Ok(urls);
    }
    let mut list = Array::new();
    for u in &urls {
        list.push(u.as_str());
    }
    tracker.insert("urls", value(list));
    let out = doc.to_string();
    // The whole file must still load as pigeon reads it.
    toml::from_str::<super::Config>(&out)
        .with_context(|| format!("the changed {} would not load", path.display()))?;
    if let Some(dir) = path.parent() {
        crate::home::ensure_private_dir(dir)?;
    }
    crate::home::write_atomic(&path, out.as_bytes(), 0o600)?;
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_added_and_removed_keeping_comments() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::at(d.path());
        let file = home.config_file();
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "# my settings\n[send]\nttl = \"2d\" # two days\n").unwrap();
        let urls = tracker_urls(&home, |u| {
            u.push("http://t1:7448".into());
            true
        })
        .unwrap();
        assert_eq!(urls, ["http://t1:7448"]);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains("# my settings") && text.contains("# two days"),
            "{text}"
        );
        assert!(text.contains("urls = [\"http://t1:7448\"]"), "{text}");
        tracker_urls(&home, |u| {
            u.retain(|x| x != "http://t1:7448");
            true
        })
        .unwrap();
        let cfg: super::super::Config =
            toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert!(cfg.tracker.urls.is_empty());
        // A file pigeon could not load is never made worse.
        std::fs::write(&file, "[tracker]\nurls = \"x\"\n").unwrap();
        assert!(tracker_urls(&home, |_| true).is_err());
    }
}
