//! Shared helpers: run the real `pigeon` binary with its own `PIGEON_HOME`, start relays on
//! a free loopback port, and talk to them with ureq. Every process started here is killed
//! by PID when its handle drops.

#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_pigeon");
/// The relay alone: `pigeond ARGS` is `pigeon serve ARGS`.
pub const PIGEOND: &str = env!("CARGO_BIN_EXE_pigeond");

/// A temporary `PIGEON_HOME`.
pub fn home() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pigeon-test-")
        .tempdir()
        .expect("temp dir")
}

/// `pigeon ARGS` with `PIGEON_HOME=home` and no inherited `PIGEON_*` settings.
pub fn pigeon(home: &Path) -> Command {
    program(BIN, home)
}

/// `bin ARGS` with `PIGEON_HOME=home` and no inherited `PIGEON_*` settings.
pub fn program(bin: &str, home: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PIGEON_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("PIGEON_HOME", home);
    cmd
}

/// Runs `pigeon ARGS` to completion.
pub fn run(home: &Path, args: &[&str]) -> Output {
    pigeon(home).args(args).output().expect("run pigeon")
}

/// A relay process: `pigeon serve --listen 127.0.0.1:0 ARGS` (or `pigeond …`).
pub struct Relay {
    child: Child,
    pub url: String,
    pub home: PathBuf,
    pub listening: Value,
}

impl Relay {
    /// Starts a relay and waits for its listening line. Its stderr is appended to
    /// `home/relay.stderr`, so restarts keep one log. It listens on a free port of
    /// 127.0.0.1 unless `args` name another `--listen` (a restart on the same port).
    pub fn start(home: &Path, args: &[&str]) -> Relay {
        let mut cmd = pigeon(home);
        cmd.arg("serve");
        Relay::start_cmd(cmd, home, args)
    }

    /// The same, with `pigeond ARGS` (the relay-only binary).
    pub fn start_pigeond(home: &Path, args: &[&str]) -> Relay {
        Relay::start_cmd(program(PIGEOND, home), home, args)
    }

    pub fn start_cmd(mut cmd: Command, home: &Path, args: &[&str]) -> Relay {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.join("relay.stderr"))
            .expect("stderr log");
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn pigeon serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keeps draining after the first line so the relay never blocks on stdout.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "relay did not print its listening line; stderr:\n{}",
                    std::fs::read_to_string(home.join("relay.stderr")).unwrap_or_default()
                );
            }
        };
        let listening: Value = serde_json::from_str(&line).expect("listening line is JSON");
        assert_eq!(listening["type"], "listening", "{line}");
        Relay {
            url: listening["url"].as_str().expect("url").to_string(),
            child,
            home: home.to_path_buf(),
            listening,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> String {
        self.listening["addr"].as_str().unwrap().to_string()
    }

    /// Everything the relay (and earlier relays of this home) wrote on stderr.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.home.join("relay.stderr")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(ok.success());
        wait_exit(&mut self.child, Duration::from_secs(20))
    }

    /// SIGKILL, as a power cut would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A GET or DELETE of `url` with `headers` added (signed requests).
pub fn call_with(method: &str, url: &str, headers: &[(&'static str, String)]) -> Reply {
    let mut req = match method {
        "DELETE" => agent().delete(url),
        _ => agent().get(url),
    };
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    reply(req.call())
}

/// An HTTP client that returns every status as a response.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .proxy(None)
        .build()
        .into()
}

/// A reply: status, JSON body (Null when not JSON), and the headers we look at.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub retry_after: Option<String>,
}

pub fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut r = r.expect("HTTP request");
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let text = r.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
        retry_after,
    }
}

/// Polls `f` until it returns true or `limit` passes.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens a file for the test to append to (for hooks).
pub fn touch(p: &Path) -> File {
    File::create(p).expect("create file")
}

/// `PRAGMA integrity_check` of a relay database (or any SQLite file) says "ok".
pub fn integrity_ok(db: &std::path::Path) {
    let c = rusqlite::Connection::open(db).unwrap();
    let v: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, "ok");
}

/// A tracker process: `pigeon tracker serve --listen 127.0.0.1:0 --db HOME/tracker.sqlite
/// ARGS`. The handle is a [`Relay`] (a server process with its listening line).
pub struct Tracker;

impl Tracker {
    pub fn start(home: &Path, args: &[&str]) -> Relay {
        let mut cmd = pigeon(home);
        cmd.args(["tracker", "serve"]);
        if !args.contains(&"--db") {
            cmd.arg("--db").arg(home.join("tracker.sqlite"));
        }
        Relay::start_cmd(cmd, home, args)
    }
}

/// `PUT url` with `body` (JSON).
pub fn put(url: &str, body: &[u8]) -> Reply {
    reply(
        agent()
            .put(url)
            .header("content-type", "application/json")
            .send(body),
    )
}
