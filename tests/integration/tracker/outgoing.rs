//! Requests the servers and the client make themselves follow no redirect: a peer, a
//! tracker or a relay answering 302 must not make pigeon send its request (signed, with a
//! token, or with a body) anywhere else. The second listener here must see nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{T, person};
use crate::harness::{Relay, eventually, home};
use crate::users::User;

/// A listener that counts the connections it gets (each one a request that should never
/// have been made) and closes them.
struct Target {
    url: String,
    hits: Arc<AtomicUsize>,
}

impl Target {
    fn start() -> Target {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                h.fetch_add(1, Ordering::SeqCst);
                drop(s);
            }
        });
        Target { url, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Answers every request with `302 Found` to the same path on `to`; counts the requests.
fn redirector(to: &str) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let to = to.to_string();
    let asked = Arc::new(AtomicUsize::new(0));
    let a = asked.clone();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            if r.read_line(&mut first).is_err() {
                continue;
            }
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            a.fetch_add(1, Ordering::SeqCst);
            let path = first.split(' ').nth(1).unwrap_or("/").to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 302 Found\r\nlocation: {to}{path}\r\ncontent-length: 0\r\n\
                 connection: close\r\n\r\n"
            );
        }
    });
    (url, asked)
}

#[test]
fn a_peer_redirect_is_not_followed_by_pulls_or_pushes() {
    let target = Target::start();
    let (peer, asked) = redirector(&target.url);
    let t = T::start(&["--peer", &peer, "--pull-interval", "1h"]);
    assert!(
        eventually(Duration::from_secs(20), || t
            .proc
            .stderr()
            .contains("pulling")),
        "{}",
        t.proc.stderr()
    );
    // A published card is pushed to the peer, which redirects the PUT too.
    let (_alice, card) = person("alice", "age");
    assert_eq!(t.publish(&card).status, 201);
    assert!(
        eventually(Duration::from_secs(20), || t
            .proc
            .stderr()
            .contains("pushing a card")),
        "{}",
        t.proc.stderr()
    );
    assert!(asked.load(Ordering::SeqCst) >= 2);
    assert_eq!(target.hits(), 0, "log:\n{}", t.proc.stderr());
    let log = t.proc.stderr();
    assert!(log.contains("redirects are not followed"), "{log}");
}

#[test]
fn a_tracker_redirect_is_not_followed_by_an_announcing_relay() {
    let target = Target::start();
    let (tracker, asked) = redirector(&target.url);
    let h = home();
    let relay = Relay::start(
        h.path(),
        &[
            "--announce-to",
            &tracker,
            "--public-url",
            "http://relay.example:7447",
        ],
    );
    assert!(
        eventually(Duration::from_secs(20), || relay
            .stderr()
            .contains("announcing")),
        "{}",
        relay.stderr()
    );
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(target.hits(), 0, "log:\n{}", relay.stderr());
    assert!(relay.stderr().contains("redirects are not followed"));
}

#[test]
fn the_client_follows_no_redirect_of_a_tracker_or_a_relay() {
    let target = Target::start();
    let (other, _) = redirector(&target.url);
    let (alice, bob) = (User::new(), User::new());
    alice.keygen("alice", "age");
    bob.keygen("bob", "age");
    let r = bob.run(&["tracker", "lookup", "alice", "--tracker", &other]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("redirect"), "{}", r.stderr);
    // A relay on a card that redirects the post (a body, maybe a token) elsewhere.
    alice.run(&["relay", "add", &other]).ok();
    let card = String::from_utf8(alice.run(&["card"]).ok().stdout).unwrap();
    bob.add_contact(&card);
    let s = bob.run(&["send", "--to", "alice", "hello"]);
    assert_ne!(s.code, 0, "{}", s.stderr);
    assert_eq!(target.hits(), 0, "{}", s.stderr);
    assert!(
        String::from_utf8_lossy(&s.stdout).contains("redirect") || s.stderr.contains("redirect"),
        "{}",
        s.stderr
    );
}
