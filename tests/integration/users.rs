//! A user of the real binary: their own `PIGEON_HOME`, and helpers to run commands.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub const PIGEON: &str = env!("CARGO_BIN_EXE_pigeon");

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
        let mut c = Command::new(PIGEON);
        c.args(args)
            .env("PIGEON_HOME", self.dir.path())
            .env_remove("PIGEON_PASSPHRASE")
            .env_remove("PIGEON_GPG_PASSPHRASE")
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

/// A real relay process (`pigeon serve`) on 127.0.0.1, killed by PID on drop.
pub struct Relay {
    pub home: tempfile::TempDir,
    pub url: String,
    pub addr: String,
    child: Option<std::process::Child>,
}

impl Relay {
    pub fn start() -> Relay {
        let home = tempfile::tempdir().unwrap();
        let mut r = Relay {
            home,
            url: String::new(),
            addr: "127.0.0.1:0".into(),
            child: None,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        use std::io::BufRead;
        let mut child = Command::new(PIGEON)
            .args(["serve", "--listen", &self.addr])
            .env("PIGEON_HOME", self.home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start relay");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        self.url = v["url"].as_str().unwrap().to_string();
        self.addr = v["addr"].as_str().unwrap().to_string();
        self.child = Some(child);
    }

    /// Kills the relay (SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
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
        self.spawn();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
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
