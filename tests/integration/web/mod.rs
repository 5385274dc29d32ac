//! The web client (`serve --web`): the committed bundle is current, the relay serves it with
//! a strict CSP, golden vectors and the TypeScript unit tests (in [`vectors`]), and the
//! browser tests (web/test/browser.mjs, real chromium through playwright-core).

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::{Relay, call_with, home};

mod names;
mod vectors;
mod verify;

pub(super) fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// The hash `web/build.mjs` records in the bundle: sha256 over "path\nlength\n" + bytes +
/// "\n" for build.mjs, package-lock.json and every file under src/, sorted by path.
fn source_hash() -> String {
    fn walk(root: &Path, rel: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(root.join(rel)).unwrap() {
            let e = e.unwrap();
            let r = format!("{rel}/{}", e.file_name().to_string_lossy());
            if e.file_type().unwrap().is_dir() {
                walk(root, &r, out);
            } else {
                out.push(r);
            }
        }
    }
    let root = web_dir();
    let mut files = vec!["build.mjs".to_string(), "package-lock.json".to_string()];
    walk(&root, "src", &mut files);
    files.sort();
    let mut h = Sha256::new();
    for rel in files {
        let bytes = std::fs::read(root.join(&rel)).unwrap();
        h.update(format!("{rel}\n{}\n", bytes.len()));
        h.update(&bytes);
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

#[test]
fn web_bundle_is_built_from_the_committed_sources() {
    let js = std::fs::read_to_string(web_dir().join("dist/app.js")).unwrap();
    let first = js.lines().next().unwrap_or_default();
    let want = format!("/* pigeon-web sources sha256:{} */", source_hash());
    assert_eq!(
        first, want,
        "web/dist is stale: run `npm ci && npm run build` in web/ and commit web/dist"
    );
    for f in ["index.html", "app.css"] {
        assert_eq!(
            std::fs::read(web_dir().join("dist").join(f)).unwrap(),
            std::fs::read(web_dir().join("src").join(f)).unwrap(),
            "web/dist/{f} is stale: run `npm run build` in web/"
        );
    }
}

#[test]
fn serve_web_serves_the_page_with_a_strict_csp_and_only_when_asked() {
    let plain = home();
    let relay = Relay::start(plain.path(), &[]);
    assert_eq!(
        call_with("GET", &format!("{}/", relay.url), &[]).status,
        404
    );

    let h = home();
    let relay = Relay::start(h.path(), &["--web"]);
    let cfg = home();
    std::fs::write(cfg.path().join("config.toml"), "[serve]\nweb = true\n").unwrap();
    let from_config = Relay::start_pigeond(cfg.path(), &[]);
    for url in [&relay.url, &from_config.url] {
        for (path, ty) in [
            ("/", "text/html"),
            ("/app.js", "text/javascript"),
            ("/app.css", "text/css"),
        ] {
            let resp = crate::harness::agent()
                .get(format!("{url}{path}"))
                .call()
                .unwrap();
            assert_eq!(resp.status(), 200, "{url}{path}");
            let hdr = |n: &str| {
                resp.headers()
                    .get(n)
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default()
            };
            assert!(hdr("content-type").starts_with(ty), "{path}");
            assert_eq!(hdr("x-content-type-options"), "nosniff");
            let csp = hdr("content-security-policy");
            for rule in [
                "default-src 'none'",
                "script-src 'self'",
                "style-src 'self'",
                "connect-src 'self'",
                "object-src 'none'",
                "base-uri 'none'",
                "frame-ancestors 'none'",
            ] {
                assert!(csp.contains(rule), "{path}: {csp} lacks {rule}");
            }
            assert!(!csp.contains("unsafe"), "{csp}");
        }
        // The API is still there beside the page.
        assert_eq!(call_with("GET", &format!("{url}/v1/info"), &[]).status, 200);
    }
    let page = std::fs::read_to_string(web_dir().join("dist/index.html")).unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the page loads nothing from outside"
    );
    assert!(!page.contains("<script>") && !page.contains("style="));
}

/// `program` on PATH, or None.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// node, with web/'s npm packages installed (`npm ci`, once per test run): the path of node.
/// Runs `node ARGS` in `web`; fails the test with its output when it fails.
pub(super) fn node_ok(node: &Path, web: &Path, args: &[&str]) {
    let out = std::process::Command::new(node)
        .args(args)
        .current_dir(web)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "node {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where browser tests leave their screenshots (made if needed).
fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(super) fn npm_ready() -> PathBuf {
    static READY: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let node = on_path("node").expect("node is missing: run scripts/ensure-deps");
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    if !*ready && !web_dir().join("node_modules/playwright-core").exists() {
        let npm = on_path("npm").expect("npm is missing: run scripts/ensure-deps");
        let ok = std::process::Command::new(npm)
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(web_dir())
            .status()
            .expect("npm ci");
        assert!(ok.success(), "npm ci in web/ failed");
    }
    *ready = true;
    node
}
/// `serve ARGS` on a chosen port of 127.0.0.1 that the page may also open as
/// http://pigeon.test:PORT (chromium maps that name to 127.0.0.1): a plain-http origin that
/// is not a secure context, like http://pi.local:7447/ from a phone. A relay that checks the
/// signed Host against its names is told that name too (`--public-url`, where the relay has
/// that flag), which is why the port is chosen before the relay starts.
fn start_named(home: &Path, args: &[&str]) -> Relay {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let public = format!("http://pigeon.test:{port}");
    let mut all = args.to_vec();
    all.extend(["--listen", &listen]);
    let help = crate::harness::run(home, &["serve", "--help"]);
    if String::from_utf8_lossy(&help.stdout).contains("--public-url") {
        all.extend(["--public-url", &public]);
    }
    Relay::start(home, &all)
}

/// The browser tests (web/test/browser.mjs) against a real `serve --web`: a browser user
/// and a CLI user exchange messages and files both ways, two browser users write to each
/// other, a hostile body stays text, a key change is shown and refused until accepted, an
/// identity moves to the CLI and one comes from it, a relay that needs a password takes
/// posts once the page has it, and a dead relay is reported. Needs
/// node and chromium (scripts/ensure-deps installs them); installs the npm packages itself.
#[test]
fn browser_users_and_cli_users_exchange_messages_and_files() {
    let web = web_dir();
    let node = npm_ready();
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| on_path("chromium"))
        .expect("chromium is missing: run scripts/ensure-deps (apt-get install chromium)");
    let h = home();
    let relay = start_named(h.path(), &["--web"]);
    let locked_home = home();
    let pass = locked_home.path().join("pass");
    std::fs::write(&pass, "relay secret 7\n").unwrap();
    let locked = start_named(
        locked_home.path(),
        &["--web", "--password-file", pass.to_str().unwrap()],
    );
    let work = home();
    let artifacts = artifacts_dir();
    let out = std::process::Command::new(node)
        .arg(web.join("test/browser.mjs"))
        .current_dir(&web)
        .env("PIGEON_BIN", crate::harness::BIN)
        .env("RELAY_URL", &relay.url)
        .env("RELAY_PID", relay.pid().to_string())
        .env("LOCKED_URL", &locked.url)
        .env("LOCKED_PASSWORD", "relay secret 7")
        .env("WORK", work.path())
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM", chromium)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed:\n{stderr}\nrelay log:\n{}",
        relay.stderr()
    );
    let figures: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(figures.len(), 4, "{stdout}");
    for f in [
        "welcome",
        "inbox",
        "keychange",
        "stranger",
        "desktop",
        "relay-down",
    ] {
        assert!(artifacts.join(format!("web-{f}.png")).is_file(), "{f}");
    }
}

/// The inbox under attack and mail the page cannot read (web/test/hostile.mjs, real
/// chromium): a validly signed message with `files:[null]` or a non-string attachment name
/// is refused as a one-line notice and later messages still show; a stranger reusing a
/// contact's message id neither hides it nor replaces it; an OpenPGP sender's message, a
/// membership change and a group message are shown as notices and left on the relay, where
/// the CLI with the identity exported from the page receives them; damaged stored rows do
/// not stop a reload and unlock, and polling goes on.
#[test]
fn browser_inbox_survives_hostile_mail_and_leaves_cli_mail_on_the_relay() {
    let web = web_dir();
    let node = npm_ready();
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| on_path("chromium"))
        .expect("chromium is missing: run scripts/ensure-deps (apt-get install chromium)");
    let build = std::process::Command::new(&node)
        .args(["build.mjs", "--tests"])
        .current_dir(&web)
        .status()
        .expect("run node");
    assert!(build.success(), "node build.mjs --tests failed");
    let h = home();
    let relay = Relay::start(h.path(), &["--web"]);
    let work = home();
    let artifacts = artifacts_dir();
    let out = std::process::Command::new(node)
        .arg(web.join("test/hostile.mjs"))
        .current_dir(&web)
        .env("PIGEON_BIN", crate::harness::BIN)
        .env("RELAY_URL", &relay.url)
        .env("WORK", work.path())
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM", chromium)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "the browser test failed:\n{}\nrelay log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        relay.stderr()
    );
    assert!(artifacts.join("web-hostile.png").is_file());
}
