//! The relay's HTTP API end to end: the input is the raw bytes a client sends on one
//! connection, to a real relay (`relay::start`, SQLite in a temporary folder) on 127.0.0.1.
//! This reaches hyper's request parser, routing, the post and batch bodies as the handlers
//! deserialise them, signed fetch and delete (headers, query) and the quotas. The relay never
//! answers 500, and every refusal is a well-formed `ErrorReply`.
#![no_main]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pigeon::relay::{self, RelayConfig};
use pigeon::wire::ErrorReply;

struct Running {
    _dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
    addr: SocketAddr,
}

fn running() -> &'static Running {
    static R: OnceLock<Running> = OnceLock::new();
    R.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut cfg = RelayConfig::defaults(dir.path().join("relay.sqlite"));
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        // One source sends everything: no rate limit and no lockout, or the fuzzer would
        // only ever see 429s. Small quotas keep the database small over a long run.
        cfg.rate = 0;
        cfg.max_failures = u32::MAX;
        cfg.max_lockouts = u32::MAX;
        cfg.max_mailbox_bytes = 256 << 10;
        cfg.max_total_bytes = 4 << 20;
        cfg.header_timeout = Duration::from_secs(2);
        cfg.body_timeout = Duration::from_secs(2);
        let r = rt.block_on(relay::start(cfg)).expect("the relay starts");
        let addr = r.addr();
        // The relay runs for the life of the process.
        std::mem::forget(r);
        Running {
            _dir: dir,
            _rt: rt,
            addr,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let r = running();
    let mut s = TcpStream::connect(r.addr).expect("connect to the relay");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    if s.write_all(data).is_err() {
        return;
    }
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    // Close with a reset: a long run makes millions of connections, and TIME_WAIT would
    // use up the ephemeral ports.
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    drop(s);
    if reply.is_empty() {
        return;
    }
    // hyper answers an HTTP/1.0 request in HTTP/1.0.
    assert!(
        reply.starts_with(b"HTTP/1.1 ") || reply.starts_with(b"HTTP/1.0 "),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    let status: u16 = std::str::from_utf8(&reply[9..12.min(reply.len())])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    assert_ne!(status, 500, "{}", String::from_utf8_lossy(&reply));
    if status >= 400 {
        let Some(at) = reply.windows(4).position(|w| w == b"\r\n\r\n") else {
            return;
        };
        let head = String::from_utf8_lossy(&reply[..at]).to_ascii_lowercase();
        // hyper's own refusals (a request it cannot parse) have no body.
        if !head.contains("content-type: application/json") {
            return;
        }
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let body = &reply[at + 4..];
        let body = len.map_or(body, |n| &body[..n.min(body.len())]);
        let e: ErrorReply = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("a refusal that is not an ErrorReply ({e}): {body:?}"));
        assert!(!e.error.code.is_empty());
    }
});
