//! The relay under attack (issue 10, relay side): the real `pigeon serve` on 127.0.0.1:0,
//! real HTTP (ureq, or raw sockets where a client must misbehave), a real SQLite file.
//! This file holds the shared helpers; each submodule one class of attack.

mod disk;
mod lockout;
mod names;
mod operator;
mod quotas;
mod slow;
mod squat;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use pigeon::message::new_id;
use pigeon::wire::{self, now};
use serde_json::{Value, json};

use crate::harness::{Relay, Reply, agent, eventually, home, integrity_ok, reply};

pub(super) struct Owner {
    pub(super) key: SigningKey,
    pub(super) mbox: String,
}

impl Owner {
    pub(super) fn new() -> Owner {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let mbox = wire::mailbox_id(key.verifying_key().as_bytes());
        Owner { key, mbox }
    }

    pub(super) fn path(&self) -> String {
        format!("/v1/mailboxes/{}", self.mbox)
    }

    /// Headers of a request on `path`, signed for `host` at `time`.
    pub(super) fn sign_path(
        &self,
        method: &str,
        host: &str,
        path: &str,
        query: &str,
        time: u64,
    ) -> Vec<(&'static str, String)> {
        wire::sign_request(&self.key, method, host, path, query, time)
    }

    fn sign(
        &self,
        method: &str,
        host: &str,
        query: &str,
        time: u64,
    ) -> Vec<(&'static str, String)> {
        self.sign_path(method, host, &self.path(), query, time)
    }
}

/// An HTTP answer read off a raw socket.
#[derive(Debug)]
pub(super) struct Raw {
    pub(super) status: u16,
    pub(super) body: Value,
    pub(super) text: String,
}

pub(super) fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// The request's bytes: `target` is path and query as sent, `host` the Host header.
pub(super) fn request(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, String)],
    body: &str,
) -> String {
    let mut r = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        r.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r
}

/// Parses a whole HTTP/1.1 answer (the connection was closed after it).
pub(super) fn parse(bytes: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(bytes).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Raw {
        status,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        text,
    }
}

/// Sends `req` on a fresh connection to `addr` and reads the answer to the end.
pub(super) fn raw(addr: &str, req: &str) -> Raw {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req.as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse(&out)
}

/// A signed request on the owner's mailbox sent with `Host: host` (maybe another relay's).
pub(super) fn signed_raw(
    addr: &str,
    host: &str,
    o: &Owner,
    method: &str,
    query: &str,
    time: u64,
) -> Raw {
    let headers = o.sign(method, host, query, time);
    let target = format!("{}?{query}", o.path());
    raw(addr, &request(method, &target, host, &headers, ""))
}

pub(super) fn envelope(payload: &[u8]) -> Value {
    json!({"v": 1, "id": new_id(), "payload": B64.encode(payload)})
}

/// POST one envelope, maybe with `X-Forwarded-For` and a bearer credential.
pub(super) fn post(
    url: &str,
    mbox: &str,
    payload: &[u8],
    xff: Option<&str>,
    bearer: Option<&str>,
) -> Reply {
    let mut req = agent()
        .post(format!("{url}/v1/mailboxes/{mbox}"))
        .header("content-type", "application/json");
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    if let Some(b) = bearer {
        req = req.header("authorization", format!("Bearer {b}"));
    }
    reply(req.send(envelope(payload).to_string()))
}

pub(super) fn get(url: &str, o: &Owner, query: &str, xff: Option<&str>) -> Reply {
    let host = wire::url_authority(url);
    let mut req = agent().get(format!("{url}{}?{query}", o.path()));
    for (k, v) in o.sign("GET", host, query, now()) {
        req = req.header(k, v);
    }
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    reply(req.call())
}

/// Every envelope id in the mailbox.
pub(super) fn ids(url: &str, o: &Owner) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let r = get(url, o, &format!("after={after}&limit=500"), None);
        assert_eq!(r.status, 200, "{}", r.text);
        let page = r.body["envelopes"].as_array().unwrap().clone();
        for e in &page {
            out.push(e["id"].as_str().unwrap().to_string());
            after = e["seq"].as_u64().unwrap();
        }
        if !r.body["more"].as_bool().unwrap() {
            return out;
        }
    }
}

/// One value of `/metrics`; `None` when the relay has no such line.
pub(super) fn metric(url: &str, name: &str) -> Option<u64> {
    let m = reply(agent().get(format!("{url}/metrics")).call());
    m.text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

pub(super) fn rcode(r: &Reply) -> &str {
    code(&r.body)
}
