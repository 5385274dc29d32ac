//! Groups as an export shows them: my name for each and its members now, read once per
//! group per export (a history of a million group messages reads each state file once).

use std::collections::HashMap;

use crate::group::Groups;

/// A group I hold, as far as an export needs it.
#[derive(Debug, Clone)]
pub struct Held {
    pub name: String,
    pub members: Vec<String>,
}

pub struct GroupNames {
    groups: Groups,
    cache: HashMap<String, Option<Held>>,
}

impl GroupNames {
    pub fn new(groups: Groups) -> GroupNames {
        GroupNames {
            groups,
            cache: HashMap::new(),
        }
    }

    /// The group with this id, if I hold it; a state file that cannot be read costs the
    /// name, not the export.
    pub fn get(&mut self, id: &str) -> Option<Held> {
        if let Some(h) = self.cache.get(id) {
            return h.clone();
        }
        let held = self.groups.get(id).ok().flatten().map(|g| Held {
            name: g.name.clone(),
            members: g.members.iter().map(|m| m.fingerprint.clone()).collect(),
        });
        // Bounded: an archive naming many groups does not grow the export's memory.
        if self.cache.len() >= 10_000 {
            self.cache.clear();
        }
        self.cache.insert(id.to_string(), held.clone());
        held
    }
}
