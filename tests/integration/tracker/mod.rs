//! The tracker server (`pigeon tracker serve`, `pigeon serve --tracker`): real trackers on
//! loopback, real cards from real homes, plain HTTP as any client would speak it.

mod hardening;
mod limits;
mod mirror;
mod mounted;
mod outgoing;
mod review;
mod rules;

use pigeon::home::Home;
use pigeon::keys::Identity;
use serde_json::Value;

use crate::harness::{Relay, Reply, Tracker, agent, call_with, home, put, reply};
use crate::users::User;

/// A tracker alone in a fresh home; the home lives as long as the handle.
pub struct T {
    pub proc: Relay,
    /// Kept so the tracker's files live as long as it does.
    _home: tempfile::TempDir,
}

impl T {
    pub fn start(args: &[&str]) -> T {
        let home = home();
        let proc = Tracker::start(home.path(), args);
        T { proc, _home: home }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.proc.url)
    }

    pub fn publish(&self, card: &str) -> Reply {
        let fp = fingerprint(card);
        put(&self.url(&format!("/v1/cards/{fp}")), card.as_bytes())
    }

    pub fn get(&self, path: &str) -> Reply {
        reply(agent().get(self.url(path)).call())
    }

    /// A signed `DELETE /v1/names/{name}` with `user`'s mailbox key.
    pub fn release(&self, name: &str, user: &User) -> Reply {
        let path = format!("/v1/names/{name}");
        let key = identity(user).secret.mailbox_signing_key().clone();
        let headers = pigeon::wire::sign_request(
            &key,
            "DELETE",
            &self.proc.addr(),
            &path,
            "",
            pigeon::wire::now(),
        );
        call_with("DELETE", &self.url(&path), &headers)
    }
}

pub fn identity(u: &User) -> Identity {
    Identity::load(&Home::at(u.dir.path()), None).unwrap()
}

pub fn card_json(card: &str) -> Value {
    serde_json::from_str(card).unwrap()
}

pub fn fingerprint(card: &str) -> String {
    card_json(card)["fingerprint"].as_str().unwrap().to_string()
}

/// A user with an identity; returns the user and their card as `pigeon card` printed it.
pub fn person(name: &str, kind: &str) -> (User, String) {
    let u = User::new();
    let card = u.keygen(name, kind);
    (u, card)
}

/// The user's current card (after `relay add` and the like, a higher seq).
pub fn card_of(u: &User) -> String {
    String::from_utf8(u.run(&["card"]).ok().stdout).unwrap()
}
