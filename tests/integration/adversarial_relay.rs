//! The relay under attack (issue 10, relay side): the real `pigeon serve` on 127.0.0.1:0,
//! real HTTP (ureq, or raw sockets where a client must misbehave), a real SQLite file.

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

use crate::harness::{Relay, Reply, agent, eventually, home, reply};

struct Owner {
    key: SigningKey,
    mbox: String,
}

impl Owner {
    fn new() -> Owner {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let mbox = wire::mailbox_id(key.verifying_key().as_bytes());
        Owner { key, mbox }
    }

    fn path(&self) -> String {
        format!("/v1/mailboxes/{}", self.mbox)
    }

    /// Headers of a request on `path`, signed for `host` at `time`.
    fn sign_path(
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
struct Raw {
    status: u16,
    body: Value,
    text: String,
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// The request's bytes: `target` is path and query as sent, `host` the Host header.
fn request(
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
fn parse(bytes: &[u8]) -> Raw {
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
fn raw(addr: &str, req: &str) -> Raw {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req.as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse(&out)
}

/// A signed request on the owner's mailbox sent with `Host: host` (maybe another relay's).
fn signed_raw(addr: &str, host: &str, o: &Owner, method: &str, query: &str, time: u64) -> Raw {
    let headers = o.sign(method, host, query, time);
    let target = format!("{}?{query}", o.path());
    raw(addr, &request(method, &target, host, &headers, ""))
}

fn envelope(payload: &[u8]) -> Value {
    json!({"v": 1, "id": new_id(), "payload": B64.encode(payload)})
}

/// POST one envelope, maybe with `X-Forwarded-For` and a bearer credential.
fn post(url: &str, mbox: &str, payload: &[u8], xff: Option<&str>, bearer: Option<&str>) -> Reply {
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

fn get(url: &str, o: &Owner, query: &str, xff: Option<&str>) -> Reply {
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
fn ids(url: &str, o: &Owner) -> Vec<String> {
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
fn metric(url: &str, name: &str) -> Option<u64> {
    let m = reply(agent().get(format!("{url}/metrics")).call());
    m.text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

fn rcode(r: &Reply) -> &str {
    code(&r.body)
}

// ---- 1. signed requests are bound to the relay ----

#[test]
fn a_request_signed_for_relay_a_is_refused_by_relay_b_and_not_counted() {
    let (ha, hb) = (home(), home());
    let a = Relay::start(ha.path(), &[]);
    let b = Relay::start(hb.path(), &["--max-failures", "1"]);
    let alice = Owner::new();
    assert_eq!(post(&b.url, &alice.mbox, b"kept", None, None).status, 201);
    // Relay A replays to B what Alice signed for A: Host A, a valid signature.
    for _ in 0..3 {
        let r = signed_raw(&b.addr(), &a.addr(), &alice, "DELETE", "upto=100", now());
        assert_eq!(
            (r.status, code(&r.body)),
            (401, "wrong_relay"),
            "{}",
            r.text
        );
        let r = signed_raw(&b.addr(), &a.addr(), &alice, "GET", "after=0", now());
        assert_eq!(
            (r.status, code(&r.body)),
            (401, "wrong_relay"),
            "{}",
            r.text
        );
    }
    // Not a failed attempt: with --max-failures 1 one would have locked Alice out.
    let r = signed_raw(&b.addr(), &b.addr(), &alice, "GET", "after=0", now());
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["envelopes"].as_array().unwrap().len(), 1);
    // localhost names a loopback relay too.
    let port = b.addr().rsplit_once(':').unwrap().1.to_string();
    let r = signed_raw(
        &b.addr(),
        &format!("localhost:{port}"),
        &alice,
        "GET",
        "",
        now(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn a_signature_for_a_public_url_name_is_accepted_and_others_are_not() {
    let h = home();
    let relay = Relay::start(h.path(), &["--public-url", "https://Relay.Example"]);
    let alice = Owner::new();
    let r = signed_raw(
        &relay.addr(),
        "relay.example",
        &alice,
        "GET",
        "after=0",
        now(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = signed_raw(&relay.addr(), "relay.example:443", &alice, "GET", "", now());
    assert_eq!(r.status, 200, "{}", r.text);
    let r = signed_raw(&relay.addr(), "other.example", &alice, "GET", "", now());
    assert_eq!(
        (r.status, code(&r.body)),
        (401, "wrong_relay"),
        "{}",
        r.text
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("relay.example"),
        "{}",
        r.text
    );
}

#[test]
fn a_delete_replayed_after_a_restart_spares_what_arrived_later() {
    let h = home();
    let relay = Relay::start(h.path(), &[]);
    let addr = relay.addr();
    let alice = Owner::new();
    assert_eq!(
        post(&relay.url, &alice.mbox, b"one", None, None).status,
        201
    );
    // What a hostile relay would make recv ask for: everything, forever.
    let t = now();
    let headers = alice.sign("DELETE", &addr, "upto=9223372036854775807", t);
    let target = format!("{}?upto=9223372036854775807", alice.path());
    let del = request("DELETE", &target, &addr, &headers, "");
    let r = raw(&addr, &del);
    assert_eq!(
        (r.status, r.body["deleted"].as_u64()),
        (200, Some(1)),
        "{}",
        r.text
    );
    // A restart empties the replay cache; the signature is still within its time window.
    drop(relay);
    let relay = Relay::start(h.path(), &["--listen", &addr]);
    while now() <= t {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        post(&relay.url, &alice.mbox, b"two", None, None).status,
        201
    );
    let r = raw(&addr, &del);
    assert_eq!(
        (r.status, r.body["deleted"].as_u64()),
        (200, Some(0)),
        "{}",
        r.text
    );
    assert_eq!(
        ids(&relay.url, &alice).len(),
        1,
        "the later envelope is kept"
    );
}

// ---- 2. lockout behind a reverse proxy ----

fn password_relay(h: &Path, extra: &[&str]) -> Relay {
    let pass = h.join("pass");
    std::fs::write(&pass, "pw\n").unwrap();
    let mut args = vec!["--password-file", pass.to_str().unwrap()];
    args.extend_from_slice(extra);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Relay::start(h, &args)
}

#[test]
fn behind_a_trusted_proxy_lockout_is_per_forwarded_address() {
    let h = home();
    let relay = password_relay(h.path(), &["--trusted-proxy", "127.0.0.1"]);
    let m = Owner::new().mbox;
    let (eve, bob) = ("203.0.113.7", "198.51.100.1, 203.0.113.8");
    for _ in 0..3 {
        let r = post(&relay.url, &m, b"x", Some(eve), Some("guess"));
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let r = post(&relay.url, &m, b"x", Some(eve), Some("pw"));
    assert_eq!((r.status, rcode(&r)), (429, "locked_out"), "{}", r.text);
    // Bob comes through the same proxy: the right-most address is his, and not locked.
    let r = post(&relay.url, &m, b"x", Some(bob), Some("pw"));
    assert_eq!(r.status, 201, "{}", r.text);
    // Eve cannot hide behind a forged address of her own left of the proxy's.
    let r = post(
        &relay.url,
        &m,
        b"x",
        Some(&format!("192.0.2.1, {eve}")),
        Some("pw"),
    );
    assert_eq!(r.status, 429, "{}", r.text);
}

#[test]
fn without_a_trusted_proxy_forwarded_headers_are_ignored() {
    let h = home();
    let relay = password_relay(h.path(), &[]);
    let m = Owner::new().mbox;
    for i in 0..3 {
        let xff = format!("203.0.113.{i}");
        assert_eq!(
            post(&relay.url, &m, b"x", Some(&xff), Some("guess")).status,
            401
        );
    }
    // The three came from one socket address, whatever they claimed.
    let r = post(&relay.url, &m, b"x", Some("198.51.100.9"), Some("pw"));
    assert_eq!((r.status, rcode(&r)), (429, "locked_out"), "{}", r.text);
}

#[test]
fn a_throwaway_keys_bad_signatures_do_not_stop_another_keys_reads() {
    let h = home();
    let relay = Relay::start(h.path(), &[]);
    let host = relay.addr();
    let (mallory, alice) = (Owner::new(), Owner::new());
    for _ in 0..5 {
        let mut headers = mallory.sign("GET", &host, "", now());
        headers[3].1 = B64.encode([7u8; 64]);
        let target = mallory.path();
        let r = raw(&host, &request("GET", &target, &host, &headers, ""));
        assert!(r.status == 401 || r.status == 429, "{}", r.text);
    }
    // Mallory's key is locked out from here...
    let r = get(&relay.url, &mallory, "", None);
    assert_eq!((r.status, rcode(&r)), (429, "locked_out"), "{}", r.text);
    // ...Alice at the same address reads and posts as before.
    let r = get(&relay.url, &alice, "after=0", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(post(&relay.url, &alice.mbox, b"hi", None, None).status, 201);
}

// ---- 4. quotas ----

#[test]
fn empty_payloads_are_refused_and_refusals_create_no_mailbox() {
    let h = home();
    // 1000 bytes of quota: a 900-byte payload plus its row overhead does not fit.
    let relay = Relay::start(h.path(), &["--max-mailbox-bytes", "1000"]);
    let m = Owner::new().mbox;
    let r = post(&relay.url, &m, b"", None, None);
    assert_eq!((r.status, rcode(&r)), (400, "bad_request"), "{}", r.text);
    let r = post(&relay.url, &m, &[1u8; 900], None, None);
    assert_eq!((r.status, rcode(&r)), (507, "quota"), "{}", r.text);
    let batch = json!({"v": 1, "items": [
        {"mailbox": Owner::new().mbox, "envelope": envelope(&[2u8; 950])},
        {"mailbox": Owner::new().mbox, "envelope": envelope(b"")},
    ]});
    let r = reply(
        agent()
            .post(format!("{}/v1/batch", relay.url))
            .header("content-type", "application/json")
            .send(batch.to_string()),
    );
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], 507, "{}", r.text);
    assert_eq!(results[1]["status"], 400, "{}", r.text);
    assert_eq!(
        metric(&relay.url, "pigeon_mailboxes"),
        Some(0),
        "no rows left behind"
    );
    // Tiny envelopes count their overhead: 1000 bytes hold 7 one-byte envelopes, not 1000.
    let stored = (0..10)
        .filter(|_| post(&relay.url, &m, b"x", None, None).status == 201)
        .count();
    assert!(
        (1..10).contains(&stored),
        "{stored} one-byte envelopes fit in 1000 bytes"
    );
    assert_eq!(metric(&relay.url, "pigeon_mailboxes"), Some(1));
}

#[test]
fn a_batch_is_rate_limited_by_its_items() {
    let h = home();
    let relay = Relay::start(h.path(), &["--rate", "5"]);
    let items: Vec<Value> = (0..20)
        .map(|_| json!({"mailbox": Owner::new().mbox, "envelope": envelope(b"x")}))
        .collect();
    let r = reply(
        agent()
            .post(format!("{}/v1/batch", relay.url))
            .header("content-type", "application/json")
            .send(json!({"v": 1, "items": items}).to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // Twenty items at five a second: the next request waits for them to be paid for.
    let next = post(&relay.url, &Owner::new().mbox, b"x", None, None);
    assert_eq!(
        (next.status, rcode(&next)),
        (429, "rate_limited"),
        "{}",
        next.text
    );
}

#[test]
fn an_operator_caps_what_one_source_stores_per_hour() {
    let h = home();
    let relay = Relay::start(
        h.path(),
        &[
            "--max-bytes-per-source-hour",
            "2500",
            "--trusted-proxy",
            "127.0.0.1",
        ],
    );
    let m = Owner::new().mbox;
    let (a, b) = (Some("203.0.113.1"), Some("203.0.113.2"));
    assert_eq!(post(&relay.url, &m, &[1u8; 1000], a, None).status, 201);
    assert_eq!(post(&relay.url, &m, &[1u8; 1000], a, None).status, 201);
    let r = post(&relay.url, &m, &[1u8; 1000], a, None);
    assert_eq!((r.status, rcode(&r)), (429, "source_quota"), "{}", r.text);
    assert!(r.retry_after.is_some());
    assert_eq!(post(&relay.url, &m, &[1u8; 1000], b, None).status, 201);
}

// ---- 3. slow clients and stale waiters ----

#[test]
fn long_polls_whose_clients_left_are_cancelled() {
    let h = home();
    let relay = Relay::start(h.path(), &[]);
    let addr = relay.addr();
    let socks: Vec<TcpStream> = (0..5)
        .map(|_| {
            let o = Owner::new();
            let headers = o.sign("GET", &addr, "wait=50", now());
            let target = format!("{}?wait=50", o.path());
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(request("GET", &target, &addr, &headers, "").as_bytes())
                .unwrap();
            s
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(10), || metric(
            &relay.url,
            "pigeon_long_polls"
        ) == Some(5)),
        "{:?}",
        metric(&relay.url, "pigeon_long_polls")
    );
    for s in socks {
        let _ = s.shutdown(Shutdown::Both);
    }
    // Well before their 50 s wait is over.
    assert!(
        eventually(Duration::from_secs(15), || metric(
            &relay.url,
            "pigeon_long_polls"
        ) == Some(0)),
        "{:?}",
        metric(&relay.url, "pigeon_long_polls")
    );
}

#[test]
fn a_client_that_never_reads_is_cut_off_after_the_write_timeout() {
    let h = home();
    let relay = Relay::start(h.path(), &["--write-timeout", "2s", "--rate", "0"]);
    let addr = relay.addr();
    let alice = Owner::new();
    for _ in 0..6 {
        let r = post(&relay.url, &alice.mbox, &vec![9u8; 600_000], None, None);
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // Twelve pipelined reads of ~5 MB each, never read: far more than socket buffers hold.
    let mut s = TcpStream::connect(&addr).unwrap();
    for _ in 0..12 {
        let headers = alice.sign("GET", &addr, "after=0", now());
        let target = format!("{}?after=0", alice.path());
        let req = request("GET", &target, &addr, &headers, "").replace("Connection: close\r\n", "");
        s.write_all(req.as_bytes()).unwrap();
    }
    assert!(
        eventually(Duration::from_secs(20), || {
            metric(&relay.url, "pigeon_write_timeouts_total").unwrap_or(0) >= 1
        }),
        "the stalled reply was not given up"
    );
    // The relay let go of the connection: reading what is buffered ends.
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut ended = false;
    for _ in 0..200 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => {
                ended = true;
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(ended, "the connection is still served");
}

/// A connection to `addr` from the local address `from` (another loopback source).
fn connect_from(from: &str, addr: &str) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
        let s = sock.connect(addr.parse().unwrap()).await.unwrap();
        let s = s.into_std().unwrap();
        s.set_nonblocking(false).unwrap();
        s
    })
}

#[test]
fn one_source_at_its_connection_cap_does_not_stop_another() {
    let h = home();
    let relay = Relay::start(
        h.path(),
        &[
            "--max-connections-per-source",
            "3",
            "--header-timeout",
            "60s",
        ],
    );
    let addr = relay.addr();
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let health = request("GET", "/healthz", &addr, &[], "");
    let r = raw(&addr, &health);
    assert_eq!((r.status, code(&r.body)), (503, "busy"), "{}", r.text);
    let mut other = connect_from("127.0.0.2", &addr);
    other
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    other.write_all(health.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = other.read_to_end(&mut out);
    let r = parse(&out);
    assert_eq!(r.status, 200, "{}", r.text);
    drop(held);
    assert!(eventually(Duration::from_secs(10), || raw(&addr, &health)
        .status
        == 200));
}

#[test]
fn an_announced_body_holds_no_budget_until_it_arrives() {
    let h = home();
    // The whole in-flight budget is one maximal body.
    std::fs::write(
        h.path().join("config.toml"),
        "[serve]\nmax_inflight_bytes = 1048576\n",
    )
    .unwrap();
    let relay = Relay::start(h.path(), &[]);
    let addr = relay.addr();
    let m = Owner::new().mbox;
    let mut stalled = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /v1/mailboxes/{m} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 1048576\r\n\r\n{{"
    );
    stalled.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let r = post(&relay.url, &m, b"still served", None, None);
    assert_eq!(r.status, 201, "{}", r.text);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_at_the_header_timeout() {
    let h = home();
    let relay = Relay::start(h.path(), &["--header-timeout", "2s"]);
    let addr = relay.addr();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let t = Instant::now();
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("still open after {:?}: {e}", t.elapsed()),
        }
    }
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
}

// ---- 5. disk full, floods, brute force ----

/// A small tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let d = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(d.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(d))
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

fn integrity_ok(db: &Path) {
    let c = rusqlite::Connection::open(db).unwrap();
    let v: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, "ok");
}

#[test]
fn the_relays_disk_full() {
    let Some(fs) = Tmpfs::mount("6m") else {
        let msg = "cannot mount a tmpfs (needs root); the disk-full test did not run";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("SKIPPED: {msg}");
        return;
    };
    let filler = fs.path().join("filler");
    std::fs::write(&filler, vec![0u8; 3 << 20]).unwrap();
    let db = fs.path().join("relay.sqlite");
    let h = home();
    let args = [
        "--db",
        db.to_str().unwrap(),
        "--rate",
        "0",
        "--max-envelopes",
        "100000",
    ];
    let relay = Relay::start(h.path(), &args);
    let alice = Owner::new();
    let mut acked = Vec::new();
    let mut refusal = None;
    for _ in 0..2000 {
        let env = envelope(&[5u8; 32 << 10]);
        let r = reply(
            agent()
                .post(format!("{}/v1/mailboxes/{}", relay.url, alice.mbox))
                .header("content-type", "application/json")
                .send(env.to_string()),
        );
        if r.status == 201 {
            acked.push(env["id"].as_str().unwrap().to_string());
        } else {
            refusal = Some(r);
            break;
        }
    }
    let refusal = refusal.expect("the disk never filled");
    assert!(!acked.is_empty());
    assert_eq!(refusal.status, 507, "{}", refusal.text);
    assert_eq!(rcode(&refusal), "disk_full", "{}", refusal.text);
    // Everything acknowledged is there; the relay still answers reads.
    let held = ids(&relay.url, &alice);
    assert!(
        acked.iter().all(|id| held.contains(id)),
        "an acknowledged envelope is lost"
    );
    // Space comes back: posting resumes.
    std::fs::remove_file(&filler).unwrap();
    let r = post(
        &relay.url,
        &alice.mbox,
        b"after the disk emptied",
        None,
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text);
    drop(relay);
    let relay = Relay::start(h.path(), &args);
    let held = ids(&relay.url, &alice);
    assert!(acked.iter().all(|id| held.contains(id)));
    relay.terminate();
    integrity_ok(&db);
}

#[test]
fn a_flood_from_one_address_does_not_stop_another() {
    let h = home();
    let relay = Relay::start(h.path(), &["--rate", "20", "--trusted-proxy", "127.0.0.1"]);
    let url = relay.url.clone();
    let m = Owner::new().mbox;
    let flood = {
        let (url, m) = (url.clone(), m.clone());
        std::thread::spawn(move || {
            let t = Instant::now();
            let mut limited = 0;
            while t.elapsed() < Duration::from_secs(3) {
                if post(&url, &m, b"flood", Some("203.0.113.66"), None).status == 429 {
                    limited += 1;
                }
            }
            limited
        })
    };
    for _ in 0..10 {
        let r = post(&url, &m, b"served", Some("198.51.100.5"), None);
        assert_eq!(r.status, 201, "{}", r.text);
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(flood.join().unwrap() > 0, "the flood was never limited");
}

#[test]
fn password_brute_force_under_concurrency_is_bounded() {
    let h = home();
    let relay = password_relay(
        h.path(),
        &[
            "--max-failures",
            "3",
            "--lockout",
            "1h",
            "--max-lockouts",
            "100",
            "--rate",
            "0",
        ],
    );
    let m = Owner::new().mbox;
    let go = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (url, m, go) = (relay.url.clone(), m.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                (0..4)
                    .map(|j| post(&url, &m, b"x", None, Some(&format!("guess{i}-{j}"))).status)
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    let statuses: Vec<u16> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let answered = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        answered <= 3,
        "{answered} guesses were answered: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    let r = post(&relay.url, &m, b"x", None, Some("pw"));
    assert_eq!(r.status, 429, "still locked out: {}", r.text);
}

// ---- 6. URLs read one way only ----

#[test]
fn urls_the_client_and_relay_could_read_differently_are_refused() {
    let h = home();
    let relay = Relay::start(h.path(), &["--max-failures", "100"]);
    let addr = relay.addr();
    let alice = Owner::new();
    let send = |path: &str, query: &str| {
        let headers = alice.sign_path("GET", &addr, path, query, now());
        let target = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        raw(&addr, &request("GET", &target, &addr, &headers, ""))
    };
    assert_eq!(
        send(&alice.path(), "after=0").status,
        200,
        "the canonical form"
    );
    // Percent-encoding the mailbox id: signed as sent, but routed decoded.
    let first = alice.mbox.as_bytes()[0];
    let encoded = format!("/v1/mailboxes/%{first:02X}{}", &alice.mbox[1..]);
    let r = send(&encoded, "after=0");
    assert_eq!(
        (r.status, code(&r.body)),
        (400, "bad_request"),
        "{}",
        r.text
    );
    for q in ["after=0&after=5", "after=+5", "upto=1&upto=2", "limit=%31"] {
        let r = send(&alice.path(), q);
        assert_eq!(
            (r.status, code(&r.body)),
            (400, "bad_request"),
            "{q}: {}",
            r.text
        );
    }
    let upper = format!("/v1/mailboxes/{}", alice.mbox.to_uppercase());
    assert_eq!(send(&upper, "").status, 400);
    let doubled = format!("//v1/mailboxes/{}", alice.mbox);
    assert_ne!(send(&doubled, "").status, 200);
}
