//! Slow clients and stale waiters: long polls, slow readers, connection caps, body budget, idle.

use super::*;

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
