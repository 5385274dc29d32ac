//! A user of the real binary: their own `PIGEON_HOME`, and helpers to run commands.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub use crate::harness::BIN as PIGEON;

pub struct User {
    pub dir: tempfile::TempDir,
}

/// The result of one run.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// stdout as JSON lines.
    pub fn json(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect()
    }
    /// The single JSON line on stdout.
    pub fn one(&self) -> Value {
        let mut lines = self.json();
        assert_eq!(
            lines.len(),
            1,
            "expected one JSON line, got {lines:?}; stderr: {}",
            self.stderr
        );
        lines.remove(0)
    }
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success; stderr:\n{}", self.stderr);
        self
    }
    pub fn code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}; stderr:\n{}",
            self.stderr
        );
        self
    }
}

impl User {
    pub fn new() -> User {
        User {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = crate::harness::pigeon(self.dir.path());
        c.args(args)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env("NO_COLOR", "1");
        c
    }

    /// Runs with `stdin` as standard input.
    pub fn run_in(&self, args: &[&str], stdin: &[u8]) -> Run {
        run(self.cmd(args), stdin)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_in(args, b"")
    }

    /// keygen + card; returns the card JSON text.
    pub fn keygen(&self, name: &str, kind: &str) -> String {
        self.run(&["keygen", "--name", name, "--kind", kind]).ok();
        String::from_utf8(self.run(&["card"]).ok().stdout).unwrap()
    }

    pub fn add_contact(&self, card: &str) {
        self.run_in(&["contact", "add"], card.as_bytes()).ok();
    }
}

pub fn run(mut cmd: Command, stdin: &[u8]) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pigeon");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait");
    writer.join().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Two users who pinned each other's cards.
pub fn pair(kind_a: &str, kind_b: &str) -> (User, User) {
    let (a, b) = (User::new(), User::new());
    let ca = a.keygen("alice", kind_a);
    let cb = b.keygen("bob", kind_b);
    a.add_contact(&cb);
    b.add_contact(&ca);
    (a, b)
}

/// A relay for messaging tests that can be stopped and started again on the same address.
pub struct Relay {
    pub home: tempfile::TempDir,
    pub url: String,
    addr: String,
    proc: Option<crate::harness::Relay>,
    start: StartFn,
}

type StartFn = fn(&std::path::Path, &[&str]) -> crate::harness::Relay;

impl Relay {
    pub fn start() -> Relay {
        let home = crate::harness::home();
        Relay::wrap(home, crate::harness::Relay::start)
    }

    /// A relay run by `pigeond`, the relay-only binary.
    pub fn start_pigeond() -> Relay {
        let home = crate::harness::home();
        Relay::wrap(home, crate::harness::Relay::start_pigeond)
    }

    fn wrap(home: tempfile::TempDir, start: StartFn) -> Relay {
        let proc = start(home.path(), &[]);
        Relay {
            start,
            url: proc.url.clone(),
            addr: proc.addr(),
            proc: Some(proc),
            home,
        }
    }

    /// The host:port it listens on (kept across restarts).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Kills the relay (SIGKILL).
    pub fn stop(&mut self) {
        if let Some(p) = self.proc.take() {
            p.kill();
        }
    }

    /// Starts it again on the same address and database.
    pub fn restart(&mut self) {
        self.stop();
        for _ in 0..50 {
            if std::net::TcpListener::bind(&self.addr).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let proc = (self.start)(self.home.path(), &["--listen", &self.addr]);
        self.proc = Some(proc);
    }
}

/// Two users on relays, who pinned each other's cards (made after the relays were added).
pub fn pair_on(relays: &[&Relay], kind_a: &str, kind_b: &str) -> (User, User) {
    let (a, b) = (User::new(), User::new());
    for (u, name, kind) in [(&a, "alice", kind_a), (&b, "bob", kind_b)] {
        u.run(&["keygen", "--name", name, "--kind", kind]).ok();
        for r in relays {
            u.run(&["relay", "add", &r.url]).ok();
        }
    }
    let ca = String::from_utf8(a.run(&["card"]).ok().stdout).unwrap();
    let cb = String::from_utf8(b.run(&["card"]).ok().stdout).unwrap();
    a.add_contact(&cb);
    b.add_contact(&ca);
    (a, b)
}
