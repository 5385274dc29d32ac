//! The JSON shape of a received message, shared by `open` and `recv`.

use serde_json::{Value, json};

use crate::message::Sender;
use crate::wire::Inner;

/// A saved attachment, as reported to the user.
pub struct SavedFile {
    pub name: String,
    pub size: u64,
    pub media_type: String,
    pub path: Option<String>,
}

/// `{"type":"message","id","from":{…},"to","group","ts","received","kind","body","files"}`.
/// A stranger's card is included so a script can pin it.
pub fn message_json(
    inner: &Inner,
    sender: &Sender,
    card: &Value,
    received: Option<u64>,
    files: &[SavedFile],
) -> Value {
    let files: Vec<Value> = if files.is_empty() {
        inner
            .files
            .iter()
            .map(|f| json!({"name": f.name, "size": f.size, "media_type": f.media_type}))
            .collect()
    } else {
        files
            .iter()
            .map(|f| json!({"name": f.name, "size": f.size, "media_type": f.media_type, "path": f.path}))
            .collect()
    };
    let mut v = json!({
        "type": "message",
        "id": inner.id,
        "from": {
            // Only a contact has a name: a stranger's card can claim any name, so it goes
            // in `claimed_name` where a script matching on `.from.name` will not trip on it.
            "name": if sender.known { Value::from(sender.name.clone()) } else { Value::Null },
            "fingerprint": sender.fingerprint,
            "known": sender.known,
            "verified": sender.verified,
        },
        "to": inner.to,
        "group": inner.group,
        "ts": inner.ts,
        "kind": inner.kind,
        "body": inner.body,
        "files": files,
    });
    if let Some(r) = received {
        v["received"] = json!(r);
    }
    if let Some(r) = &inner.reply_to {
        v["reply_to"] = json!(r);
    }
    if sender.key_change {
        v["from"]["key_change"] = json!(true);
    }
    if !sender.known {
        v["from"]["claimed_name"] = json!(sender.name);
        v["card"] = card.clone();
    }
    v
}
