//! The body of a `kind: "membership"` message: a group's whole new state after one change,
//! signed (as every inner message is) by whoever made the change. Carrying the full state,
//! not only the change, lets a newcomer start from it and lets every member check that the
//! state follows from the one they hold. See `docs/protocol.md` (Groups).

use serde::{Deserialize, Serialize};

use super::v1;

/// `{"type":"membership","v":1,"group","name","version","change","subjects","members",
/// "admins","banned"}`, carried as the JSON text of the inner message's `body`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    #[serde(rename = "type", default = "membership_type")]
    pub type_: String,
    #[serde(default = "v1")]
    pub v: u32,
    /// The group id: 32 lowercase hex digits (128 random bits), as in the inner `group`.
    pub group: String,
    /// The name its creator gave it; each member may call it something else locally.
    pub name: String,
    /// 1 at creation, one more with every change.
    pub version: u64,
    /// `added`, `removed`, `left`, `banned`, `admin` or `revoked`.
    pub change: String,
    /// Fingerprints of the members the change is about.
    pub subjects: Vec<String>,
    /// Every member after the change, each with their signed card (so a member can learn
    /// the key of a joiner they never met).
    pub members: Vec<GroupMember>,
    /// Fingerprints of the admins after the change.
    pub admins: Vec<String>,
    /// Fingerprints nobody may add again.
    #[serde(default)]
    pub banned: Vec<String>,
}

/// A member as a membership message lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMember {
    pub fingerprint: String,
    /// The member's signed card, as received (unknown fields kept).
    pub card: serde_json::Value,
}

fn membership_type() -> String {
    "membership".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn golden_membership() {
        let m = Membership {
            type_: "membership".into(),
            v: 1,
            group: "00112233445566778899aabbccddeeff".into(),
            name: "ops".into(),
            version: 2,
            change: "added".into(),
            subjects: vec!["d".into()],
            members: vec![GroupMember {
                fingerprint: "a".into(),
                card: json!({"type": "card"}),
            }],
            admins: vec!["a".into()],
            banned: vec![],
        };
        let golden = json!({"type":"membership","v":1,"group":"00112233445566778899aabbccddeeff",
            "name":"ops","version":2,"change":"added","subjects":["d"],
            "members":[{"fingerprint":"a","card":{"type":"card"}}],"admins":["a"],"banned":[]});
        assert_eq!(serde_json::to_value(&m).unwrap(), golden);
        let mut newer = golden.clone();
        newer["future"] = json!(1);
        newer.as_object_mut().unwrap().remove("banned");
        let back: Membership = serde_json::from_value(newer).unwrap();
        assert_eq!(back.banned, Vec::<String>::new());
        assert_eq!(back.version, 2);
    }
}
