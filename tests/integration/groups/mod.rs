//! Groups (issue 12) end to end: three or four users with their own homes, age and pgp
//! mixed, on two real relays; membership changes as signed messages that every member
//! applies by the same rules.

mod ciphertext;
mod history;
mod recv;
mod rules;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use crate::harness::call_with;
use crate::users::{Relay, User};

/// A named user on some relays.
pub(super) struct Person {
    pub(super) name: &'static str,
    pub(super) u: User,
    pub(super) card: String,
}

impl Person {
    pub(super) fn new(name: &'static str, kind: &str, relays: &[&Relay]) -> Person {
        let urls: Vec<&str> = relays.iter().map(|r| r.url.as_str()).collect();
        Person::on(name, kind, &urls)
    }

    /// A user on the relays at these URLs.
    pub(super) fn on(name: &'static str, kind: &str, urls: &[&str]) -> Person {
        let u = User::new();
        u.run(&["keygen", "--name", name, "--kind", kind]).ok();
        for url in urls {
            u.run(&["relay", "add", url]).ok();
        }
        let card = String::from_utf8(u.run(&["card"]).ok().stdout).unwrap();
        Person { name, u, card }
    }

    pub(super) fn knows(&self, other: &Person) {
        self.u.add_contact(&other.card);
    }

    pub(super) fn fp(&self) -> String {
        let card: Value = serde_json::from_str(&self.card).unwrap();
        card["fingerprint"].as_str().unwrap().to_string()
    }

    /// `recv`: every line it printed (must succeed).
    pub(super) fn recv(&self) -> Vec<Value> {
        self.u.run(&["recv"]).ok().json()
    }

    /// The group as `group show` prints it.
    pub(super) fn show(&self, group: &str) -> Value {
        self.u.run(&["group", "show", group]).ok().one()
    }

    /// The path of my state file of a group.
    pub(super) fn state_file(&self, id: &str) -> std::path::PathBuf {
        self.u.path(&format!("groups/{id}.json"))
    }

    /// Rewrites my state of a group (what a tampering member would do).
    pub(super) fn tamper(&self, id: &str, f: impl FnOnce(&mut Value)) {
        let p = self.state_file(id);
        let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    }

    /// The envelopes waiting in my mailbox on `relay`, read with my own mailbox key and
    /// left there: what a relay stores, ciphertext and all.
    pub(super) fn raw_mailbox(&self, relay: &Relay) -> Vec<(String, Vec<u8>)> {
        let seed = std::fs::read_to_string(self.u.path("identity/mailbox.key")).unwrap();
        let seed: [u8; 32] = hex::decode(seed.trim()).unwrap().try_into().unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let mbox = pigeon::wire::mailbox_id(key.verifying_key().as_bytes());
        let path = format!("/v1/mailboxes/{mbox}");
        let query = "after=0&limit=500";
        let headers = pigeon::wire::sign_request(
            &key,
            "GET",
            pigeon::wire::url_authority(&relay.url),
            &path,
            query,
            pigeon::wire::now(),
        );
        let r = call_with("GET", &format!("{}{path}?{query}", relay.url), &headers);
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["envelopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let id = e["id"].as_str().unwrap().to_string();
                (id, B64.decode(e["payload"].as_str().unwrap()).unwrap())
            })
            .collect()
    }

    /// `pigeon open` of a ciphertext: the exit code and the one line it printed.
    pub(super) fn open(&self, ciphertext: &[u8]) -> (i32, Vec<Value>) {
        let r = self.u.run_in(&["open"], ciphertext);
        let lines = if r.code == 0 { r.json() } else { Vec::new() };
        (r.code, lines)
    }

    /// Whether my key opens nothing of this ciphertext: `open` fails at decryption (exit 4
    /// and said so), not at a later rule such as the group check.
    pub(super) fn cannot_decrypt(&self, ciphertext: &[u8]) -> bool {
        let r = self.u.run_in(&["open"], ciphertext);
        r.code == 4 && r.stderr.contains("cannot decrypt")
    }
}

/// Only the membership records of recv output.
pub(super) fn memberships(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l["type"] == "membership")
        .cloned()
        .collect()
}

/// What every member must agree on about a change: version, change, subjects and author
/// (fingerprints: names are each member's own).
pub(super) fn change_key(m: &Value) -> (u64, String, Vec<String>, String) {
    let change = m["change"].as_str().unwrap().to_string();
    let subjects = m[change.as_str()]
        .as_array()
        .unwrap_or_else(|| panic!("no {change} list in {m}"))
        .iter()
        .map(|s| s["fingerprint"].as_str().unwrap().to_string())
        .collect();
    (
        m["version"].as_u64().unwrap(),
        change,
        subjects,
        m["by"].as_str().unwrap().to_string(),
    )
}

/// Messages of recv output by body.
pub(super) fn bodies(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["type"] == "message")
        .map(|l| l["body"].as_str().unwrap().to_string())
        .collect()
}

/// Runs a group command that changes members: its membership line and sent line.
pub(super) fn change(p: &Person, args: &[&str]) -> (Value, Value) {
    let out = p.u.run(args).ok().json();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["type"], "membership", "{out:?}");
    assert_eq!(out[1]["type"], "sent", "{out:?}");
    assert!(
        out[1]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["ok"] == true),
        "{out:?}"
    );
    (out[0].clone(), out[1].clone())
}
