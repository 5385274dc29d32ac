//! A minimal blocking HTTP/1.1 keep-alive client: just enough for the load generator.
//!
//! Requests are built as bytes up front; a response is read until its headers end and then
//! exactly `content-length` more bytes. Both servers it talks to (the relay and the trivial
//! baseline) answer with a length, never chunked. Only loopback addresses are accepted.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Where requests go: host:port of a server on this machine.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
}

impl Target {
    /// Parses `http://127.0.0.1:PORT`; refuses anything that is not a loopback address.
    pub fn parse(url: &str) -> Result<Target> {
        let rest = url
            .strip_prefix("http://")
            .context("the url must start with http://")?;
        let host = rest.trim_end_matches('/').to_string();
        let addr: SocketAddr = host
            .parse()
            .with_context(|| format!("{host:?} is not an IP address and port"))?;
        if !addr.ip().is_loopback() {
            bail!("pigeon-bench only loads servers on this machine (loopback), not {addr}");
        }
        Ok(Target { addr, host })
    }
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A response: status and body.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Conn {
    pub fn open(t: &Target) -> Result<Conn> {
        let stream = TcpStream::connect_timeout(&t.addr, Duration::from_secs(5))
            .with_context(|| format!("cannot connect to {}", t.addr))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends one request (head and body already joined) and reads its response.
    pub fn call(&mut self, request: &[u8]) -> Result<Reply> {
        self.stream.write_all(request).context("sending")?;
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill()?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).context("response head")?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no status in the response")?;
        let mut len = None;
        for line in head.split("\r\n").skip(1) {
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse::<usize>().ok();
                } else if k.eq_ignore_ascii_case("transfer-encoding") {
                    bail!("chunked responses are not supported by the load generator");
                }
            }
        }
        let len = len.context("the response has no content-length")?;
        while self.buf.len() < head_end + len {
            self.fill()?;
        }
        let body = self.buf[head_end..head_end + len].to_vec();
        Ok(Reply { status, body })
    }

    fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk).context("receiving")?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A request's bytes: `method path` with `extra` header lines and an optional JSON body.
pub fn request(
    t: &Target,
    method: &str,
    path: &str,
    extra: &[(&str, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", t.host);
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}
