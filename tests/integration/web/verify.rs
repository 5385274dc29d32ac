//! `pigeon web verify URL`: what a relay serves as the web client is compared with the bundle
//! the binary embeds. A real `serve --web` verifies; a loopback server that serves a changed
//! app.js, the page without its CSP, or a redirect to the real relay is refused (exit 4), and
//! a relay without the page is exit 5.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use pigeon::relay::web::{APP_CSS, APP_JS, CSP, INDEX_HTML};
use serde_json::Value;

use crate::harness::{Relay, home, run};

/// A loopback HTTP server answering every GET with `answer(path)`: (status line, extra
/// headers, body). Serves until the test process ends.
fn serve(answer: impl Fn(&str) -> (String, String, Vec<u8>) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
                    break;
                }
            }
            let (status, headers, body) = answer(&path);
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
    });
    url
}

/// The page as the relay serves it, with `app.js` replaced by `js` and `csp` as its policy.
fn page(js: String, csp: Option<&'static str>) -> String {
    serve(move |path| {
        let body = match path {
            "/" => INDEX_HTML.to_string(),
            "/app.js" => js.clone(),
            "/app.css" => APP_CSS.to_string(),
            _ => return ("404 Not Found".into(), String::new(), Vec::new()),
        };
        let csp = csp.map_or(String::new(), |c| {
            format!("content-security-policy: {c}\r\n")
        });
        ("200 OK".into(), csp, body.into_bytes())
    })
}

fn verify(url: &str) -> (i32, Vec<Value>, String) {
    let h = home();
    let out = run(h.path(), &["web", "verify", url]);
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.code().unwrap(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn web_verify_accepts_the_embedded_page_and_refuses_a_changed_one() {
    let h = home();
    let relay = Relay::start(h.path(), &["--web"]);
    let (code, lines, err) = verify(&format!("{}/", relay.url));
    assert_eq!(code, 0, "{err}");
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/", "/app.js", "/app.css"]);
    assert!(
        lines
            .iter()
            .all(|l| l["ok"] == true && l["sha256"] == l["expected"])
    );

    // The same page by another server, byte for byte: it verifies too (the check is the
    // content, not who serves it).
    let (code, _, err) = verify(&page(APP_JS.to_string(), Some(CSP)));
    assert_eq!(code, 0, "{err}");

    // One changed byte of the script (what a relay would add to read the keys).
    let tampered = APP_JS.replacen("pigeon", "pigeoN", 1);
    let (code, lines, err) = verify(&page(tampered, Some(CSP)));
    assert_eq!(code, 4, "{err}");
    assert_eq!(lines[1]["path"], "/app.js");
    assert_eq!(lines[1]["ok"], false);
    assert!(
        lines[0]["ok"] == true && lines[2]["ok"] == true,
        "{lines:?}"
    );
    assert!(err.contains("/app.js differs"), "{err}");
    assert!(err.contains("hint:"), "{err}");

    // The right files without the policy that keeps the page to its own relay.
    let (code, _, err) = verify(&page(APP_JS.to_string(), None));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("Content-Security-Policy"), "{err}");

    // A redirect to the real relay is not followed.
    let to = relay.url.clone();
    let redirect = serve(move |p| {
        let loc = format!("location: {to}{p}\r\n");
        ("302 Found".into(), loc, Vec::new())
    });
    let (code, lines, err) = verify(&redirect);
    assert_eq!(code, 4, "{err}");
    assert!(lines.is_empty());
    assert!(
        err.contains("redirects") && err.contains("not followed"),
        "{err}"
    );

    // A relay without --web: no page there.
    let plain_home = home();
    let plain = Relay::start(plain_home.path(), &[]);
    let (code, _, err) = verify(&plain.url);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("--web"), "{err}");
}
