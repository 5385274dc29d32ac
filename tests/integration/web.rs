//! The web client (`serve --web`): the committed bundle is current, the relay serves it with
//! a strict CSP, golden vectors made by the real CLI for the TypeScript unit tests, and the
//! browser tests (web/test/browser.mjs, real chromium through playwright-core).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{Relay, call_with, home};
use crate::users::User;

fn web_dir() -> PathBuf {
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

fn vectors() -> PathBuf {
    web_dir().join("test/vectors")
}

/// Golden vectors for the TypeScript tests, made by the real CLI: two age identities (one
/// passphrase-protected), their cards, a message sealed by alice for bob, and a signed
/// request. Written when `PIGEON_UPDATE_VECTORS=1`; always checked against the CLI.
#[test]
fn web_vectors_from_the_cli_open_and_verify() {
    if std::env::var_os("PIGEON_UPDATE_VECTORS").is_some_and(|v| v == "1") {
        write_vectors();
    }
    let dir = vectors();
    let fixed: Value =
        serde_json::from_slice(&std::fs::read(dir.join("vectors.json")).unwrap()).unwrap();
    let card: Value = serde_json::from_str(fixed["cards"]["alice"].as_str().unwrap()).unwrap();
    assert!(
        card["expires"].as_u64().unwrap() > pigeon::wire::now(),
        "the vectors' cards expired: remake them with PIGEON_UPDATE_VECTORS=1 and commit them"
    );

    // bob's identity as the CLI reads it opens alice's message and checks it.
    let bob = User::new();
    std::fs::create_dir_all(bob.path("identity")).unwrap();
    for f in ["identity.json", "age.key", "mailbox.key"] {
        let text = fixed["identities"]["bob"][f].as_str().unwrap();
        std::fs::write(bob.path("identity").join(f), text).unwrap();
    }
    bob.add_contact(fixed["cards"]["alice"].as_str().unwrap());
    let out = bob
        .run(&["open", dir.join("alice-to-bob.age").to_str().unwrap()])
        .ok()
        .one();
    assert_eq!(out["body"], fixed["body"]);
    assert_eq!(out["from"]["name"], "alice");
    assert_eq!(out["from"]["known"], true);

    // The signed request verifies over the bytes wire::request_signing_bytes builds.
    let r = &fixed["request"];
    let s = |v: &Value| v.as_str().unwrap().to_string();
    let bytes = pigeon::wire::request_signing_bytes(
        &s(&r["method"]),
        &s(&r["host"]),
        &s(&r["path"]),
        &s(&r["query"]),
        r["time"].as_u64().unwrap(),
        &s(&r["headers"]["x-pigeon-nonce"]),
    );
    let key: [u8; 32] = hex::decode(s(&r["headers"]["x-pigeon-key"]))
        .unwrap()
        .try_into()
        .unwrap();
    let sig = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        s(&r["headers"]["x-pigeon-sig"]),
    )
    .unwrap();
    ed25519_dalek::VerifyingKey::from_bytes(&key)
        .unwrap()
        .verify_strict(&bytes, &ed25519_dalek::Signature::from_slice(&sig).unwrap())
        .unwrap();
}

const VECTOR_BODY: &str = "h\u{e9}llo <img src=x onerror=alert(1)> \"q\"\n\u{1f426}";
const VECTOR_PASSPHRASE: &str = "correct horse battery staple";

fn write_vectors() {
    let dir = vectors();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let alice = User::new();
    let bob = User::new();
    let carol = User::new();
    let card_a = alice.keygen("alice", "age");
    let card_b = bob.keygen("bob", "age");
    std::fs::write(carol.path("pass"), VECTOR_PASSPHRASE).unwrap();
    let pass = carol.path("pass");
    carol
        .run(&[
            "keygen",
            "--name",
            "carol",
            "--passphrase-file",
            pass.to_str().unwrap(),
        ])
        .ok();
    alice.add_contact(&card_b);
    let sealed = alice.run(&["seal", "--to", "bob", VECTOR_BODY]).ok().stdout;
    std::fs::write(dir.join("alice-to-bob.age"), sealed).unwrap();
    // The test identities' files go inside the JSON (not as key files in the tree: the
    // hygiene test refuses those), as Rust tests keep theirs in string literals.
    let mut identities = serde_json::Map::new();
    for (u, name) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        let mut files = serde_json::Map::new();
        for f in ["identity.json", "age.key", "mailbox.key"] {
            let text = std::fs::read_to_string(u.path("identity").join(f)).unwrap();
            files.insert(f.into(), Value::String(text));
        }
        identities.insert(name.into(), Value::Object(files));
    }
    let seed_hex = identities["alice"]["mailbox.key"].as_str().unwrap();
    let seed: [u8; 32] = hex::decode(seed_hex.trim()).unwrap().try_into().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let mbox = pigeon::wire::mailbox_id(key.verifying_key().as_bytes());
    let (host, path, query, time) = (
        "127.0.0.1:7447",
        format!("/v1/mailboxes/{mbox}"),
        "after=0&limit=100&wait=25",
        1_700_000_000u64,
    );
    let headers: serde_json::Map<String, Value> =
        pigeon::wire::sign_request(&key, "GET", host, &path, query, time)
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect();
    let fixed = json!({
        "body": VECTOR_BODY,
        "passphrase": VECTOR_PASSPHRASE,
        "note": "test identities made by tests/integration/web.rs for web/test; never use them",
        "cards": {"alice": card_a.trim(), "bob": card_b.trim()},
        "identities": identities,
        "request": {"method": "GET", "host": host, "path": path, "query": query,
            "time": time, "headers": headers},
    });
    std::fs::write(
        dir.join("vectors.json"),
        serde_json::to_string_pretty(&fixed).unwrap() + "\n",
    )
    .unwrap();
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
fn npm_ready() -> PathBuf {
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

/// The TypeScript unit tests (web/test/*.test.ts, node's test runner) against the vectors,
/// and a message sealed by the TypeScript that `pigeon open` checks.
#[test]
fn web_unit_tests_pass_against_the_cli_vectors() {
    let node = npm_ready();
    let web = web_dir();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&node)
            .args(args)
            .current_dir(&web)
            .output()
            .expect("run node");
        assert!(
            out.status.success(),
            "node {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["build.mjs", "--tests"]);
    run(&["--test", ".test-build/wire.test.mjs"]);

    // The other way: what the TypeScript seals, the CLI opens and checks (no browser needed).
    let fixed: Value =
        serde_json::from_slice(&std::fs::read(vectors().join("vectors.json")).unwrap()).unwrap();
    let alice = User::new();
    std::fs::create_dir_all(alice.path("identity")).unwrap();
    for f in ["identity.json", "age.key", "mailbox.key"] {
        let text = fixed["identities"]["alice"][f].as_str().unwrap();
        std::fs::write(alice.path("identity").join(f), text).unwrap();
    }
    alice.add_contact(fixed["cards"]["bob"].as_str().unwrap());
    let sealed = alice.path("from-web.age");
    let body = "from TypeScript: h\u{e9}llo <b>\n";
    run(&[".test-build/seal-cli.mjs", sealed.to_str().unwrap(), body]);
    let out = alice.run(&["open", sealed.to_str().unwrap()]).ok().one();
    assert_eq!(out["body"], body);
    assert_eq!(out["kind"], "file");
    assert_eq!(out["from"]["name"], "bob");
    assert_eq!(out["from"]["known"], true);
    assert_eq!(out["files"][0]["name"], "from-web.bin");
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
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
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
