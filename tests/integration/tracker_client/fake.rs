//! A hostile tracker: answers every card or name lookup with whatever bytes the test puts
//! in it (a forged, stale, expired or someone else's card). It is the adversary, so it
//! follows no rule of the real tracker. Its thread ends with the test process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub struct FakeTracker {
    pub url: String,
    card: Arc<Mutex<Vec<u8>>>,
    /// Paths asked for, in order.
    pub asked: Arc<Mutex<Vec<String>>>,
}

impl FakeTracker {
    pub fn start(card: &[u8]) -> FakeTracker {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let card = Arc::new(Mutex::new(card.to_vec()));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (c, a) = (card.clone(), asked.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    continue;
                }
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let path = first.split(' ').nth(1).unwrap_or("").to_string();
                a.lock().unwrap().push(path.clone());
                let card = c.lock().unwrap().clone();
                let lookup = path.starts_with("/v1/cards/") || path.starts_with("/v1/names/");
                let (status, body) = if lookup && !card.is_empty() {
                    ("200 OK", card)
                } else {
                    (
                        "404 Not Found",
                        br#"{"v":1,"error":{"code":"not_found","message":"no"}}"#.to_vec(),
                    )
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        FakeTracker { url, card, asked }
    }

    /// Serves these bytes from now on.
    pub fn serve(&self, card: &[u8]) {
        *self.card.lock().unwrap() = card.to_vec();
    }
}
