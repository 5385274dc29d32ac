//! Groups on disk: one JSON file per group under `groups/`, named by its id, written
//! atomically (0600). A member's card lives here, not among the contacts: being in a group
//! with someone is not having pinned them.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context, Result};

use super::Group;
use crate::crypto::StanzaOrder;
use crate::error::{Exit, WithHint, fail};
use crate::home::{Home, write_atomic};
use crate::output::sanitize;

/// A group as read, with its file's modification time and length then.
type Cached = (SystemTime, u64, Arc<Group>);

/// The groups folder.
pub struct Groups {
    dir: PathBuf,
    /// Groups read in this process, with the file's modification time and length then:
    /// `recv` checks every group message against its group, and a group of a hundred
    /// members with their cards is too much JSON to parse per message. A file changed by
    /// another process (`pigeon group add` during `recv --follow`) is read again.
    cache: Mutex<HashMap<String, Cached>>,
    /// [`super::stanza_order`] of my groups, made once (again after a save).
    order: Mutex<Option<Arc<StanzaOrder>>>,
}

impl Groups {
    pub fn open(home: &Home) -> Groups {
        Groups {
            dir: home.data.join("groups"),
            cache: Mutex::default(),
            order: Mutex::default(),
        }
    }

    /// Where my stanza probably is in an age file sealed to one of my groups.
    pub fn stanza_order(&self, me: &str) -> Result<Arc<StanzaOrder>> {
        let mut order = self.order.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = &*order {
            return Ok(o.clone());
        }
        let o = Arc::new(super::stanza_order(&self.list()?, me));
        *order = Some(o.clone());
        Ok(o)
    }

    /// [`Groups::get`] without a copy, read from disk only when the file changed.
    pub fn get_shared(&self, id: &str) -> Result<Option<Arc<Group>>> {
        if !crate::wire::is_message_id(id) {
            return Ok(None);
        }
        let path = self.path(id);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let stamp = (meta.modified()?, meta.len());
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((t, n, g)) = cache.get(id)
            && (*t, *n) == stamp
        {
            return Ok(Some(g.clone()));
        }
        let g = Arc::new(read(&path)?);
        cache.insert(id.to_string(), (stamp.0, stamp.1, g.clone()));
        Ok(Some(g))
    }

    /// Every group I hold, sorted by name then id.
    pub fn list(&self) -> Result<Vec<Group>> {
        let mut out = Vec::new();
        for path in crate::home::json_files(&self.dir)? {
            out.push(read(&path)?);
        }
        out.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(out)
    }

    /// The group with this id, if I hold it.
    pub fn get(&self, id: &str) -> Result<Option<Group>> {
        if !crate::wire::is_message_id(id) {
            return Ok(None);
        }
        let path = self.path(id);
        match fs::metadata(&path) {
            Ok(_) => Ok(Some(read(&path)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// A group by its id, a unique id prefix of 8+ digits, or its (local) name. Two groups
    /// of that name is an error that lists their ids; none is exit 5.
    pub fn find(&self, key: &str) -> Result<Group> {
        if let Some(g) = self.get(key)? {
            return Ok(g);
        }
        let all = self.list()?;
        let mut hits: Vec<&Group> = all.iter().filter(|g| g.name == key).collect();
        if hits.is_empty() && key.len() >= 8 {
            hits = all.iter().filter(|g| g.id.starts_with(key)).collect();
        }
        match hits.as_slice() {
            [g] => Ok((*g).clone()),
            [] => Err(fail(
                Exit::NotFound,
                format!("no group {:?}", sanitize(key)),
            ))
            .hint("list them with `pigeon group list`; make one with `pigeon group create`"),
            many => {
                let ids: Vec<&str> = many.iter().map(|g| g.id.as_str()).collect();
                Err(fail(
                    Exit::Usage,
                    format!(
                        "{} groups are called {:?}: {}",
                        many.len(),
                        sanitize(key),
                        ids.join(", ")
                    ),
                ))
                .hint("name the one you mean by its id")
            }
        }
    }

    /// What `recv --group key` matches: the id of the group `key` names, or `key` itself
    /// (matched against ids and names as messages arrive) when I do not hold that group
    /// yet, as before its invitation arrives. An ambiguous name is an error.
    pub fn filter_key(&self, key: &str) -> Result<String> {
        match self.find(key) {
            Ok(g) => Ok(g.id),
            Err(e) if crate::error::exit_code(&e) == Exit::NotFound => Ok(key.to_string()),
            Err(e) => Err(e),
        }
    }

    pub fn save(&self, g: &Group) -> Result<()> {
        crate::home::ensure_private_dir(&self.dir)?;
        let mut bytes = serde_json::to_vec_pretty(g)?;
        bytes.push(b'\n');
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&g.id);
        *self.order.lock().unwrap_or_else(|e| e.into_inner()) = None;
        write_atomic(&self.path(&g.id), &bytes, 0o600)
            .with_context(|| format!("cannot save group {}", g.name))
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }
}

fn read(path: &std::path::Path) -> Result<Group> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is damaged", path.display()))
}
