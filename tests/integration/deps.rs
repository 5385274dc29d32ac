//! `scripts/ensure-deps` decides what to install by what the build loads. These tests run
//! the real script against a fake root and stub programs on `PATH`: a machine that has
//! `libclang-cpp` but not `libclang` must get `libclang-dev`, and a complete one nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    /// A fake root and a `bin/` holding only what the script may use, plus stubs.
    fn new() -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for tool in ["sed", "grep", "id", "cat", "mktemp", "rm", "tail"] {
            let real = which(tool);
            std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
        }
        // apt-get records how it was called.
        let log = dir.path().join("apt.log");
        stub(
            &bin,
            "apt-get",
            &format!("echo \"$*\" >> '{}'", log.display()),
        );
        Machine { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn file(&self, rel: &str) -> &Machine {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
        self
    }

    /// `ldconfig -p` lists these libraries (paths inside the fake root).
    fn loader_knows(&self, libs: &[&str]) -> &Machine {
        let mut body = format!("echo '{} libs found in cache'\n", libs.len());
        for l in libs {
            let name = Path::new(l).file_name().unwrap().to_string_lossy();
            let path = self.root().join(l.trim_start_matches('/'));
            body += &format!("echo '\t{name} (libc6,x86-64) => {}'\n", path.display());
        }
        stub(&self.dir.path().join("bin"), "ldconfig", &body);
        self
    }

    fn programs(&self, names: &[&str]) -> &Machine {
        for n in names {
            stub(&self.dir.path().join("bin"), n, "exit 0");
        }
        self
    }

    fn run(&self, args: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ensure-deps");
        Command::new(which("bash"))
            .arg(script)
            .args(args)
            .env_clear()
            .env("PATH", self.dir.path().join("bin"))
            .env("PIGEON_DEPS_ROOT", self.root())
            .output()
            .unwrap()
    }

    fn apt_calls(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("apt.log")).unwrap_or_default()
    }

    /// Everything pigeon needs, except what the test leaves out.
    fn nettle(&self) -> &Machine {
        self.file("usr/lib/x86_64-linux-gnu/pkgconfig/nettle.pc")
            .file("usr/lib/x86_64-linux-gnu/pkgconfig/hogweed.pc")
    }
}

fn stub(bin: &Path, name: &str, body: &str) {
    let p = bin.join(name);
    std::fs::write(&p, format!("#!{}\n{body}\n", which("bash").display())).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn which(tool: &str) -> PathBuf {
    for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("{tool} not found");
}

const CLANG_CPP: &str = "/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14";

#[test]
fn libclang_cpp_alone_is_not_libclang() {
    let m = Machine::new();
    m.nettle()
        .file(CLANG_CPP.trim_start_matches('/'))
        .file("usr/lib/llvm-14/lib/libclang-cpp.so.14")
        .file("usr/lib/llvm-14/lib/libLLVM-14.so.1")
        .loader_knows(&[CLANG_CPP])
        .programs(&["pkg-config", "age", "gpg", "chromium", "npm"]);

    let check = m.run(&["--check"]);
    assert_eq!(check.status.code(), Some(1), "{check:?}");
    assert_eq!(String::from_utf8_lossy(&check.stdout), "libclang-dev\n");

    let out = m.run(&[]);
    assert!(out.status.success(), "{out:?}");
    let calls = m.apt_calls();
    assert!(calls.contains("update"), "{calls}");
    let install = calls.lines().find(|l| l.contains("install")).unwrap();
    assert!(install.ends_with(" libclang-dev"), "{install}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("installed libclang-dev"), "{said}");
}

#[test]
fn libclang_without_clang_headers_is_not_enough() {
    let m = Machine::new();
    m.nettle()
        .file("usr/lib/llvm-14/lib/libclang-14.so.1")
        .loader_knows(&["/usr/lib/llvm-14/lib/libclang-14.so.1"])
        .programs(&["pkg-config", "age", "gpg", "chromium", "npm"]);
    let check = m.run(&["--check"]);
    assert_eq!(String::from_utf8_lossy(&check.stdout), "libclang-dev\n");
}

#[test]
fn a_complete_machine_installs_nothing() {
    let m = Machine::new();
    m.nettle()
        .file(CLANG_CPP.trim_start_matches('/'))
        .file("usr/lib/llvm-14/lib/libclang-14.so.1")
        .file("usr/lib/llvm-14/lib/clang/14.0.6/include/stddef.h")
        .loader_knows(&[CLANG_CPP, "/usr/lib/llvm-14/lib/libclang-14.so.1"])
        .programs(&["pkg-config", "age", "gpg", "chromium", "npm"]);
    let out = m.run(&[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(m.apt_calls(), "", "apt-get must not run");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(m.run(&["--check"]).status.code(), Some(0));
}

#[test]
fn each_missing_need_names_its_package() {
    let m = Machine::new();
    // Only LLVM's directory has libclang (no loader entry), nothing else is there.
    m.file("usr/lib/llvm-14/lib/libclang.so.1")
        .file("usr/lib/llvm-14/lib/clang/14/include/stddef.h")
        .loader_knows(&[]);
    let check = m.run(&["--check"]);
    assert_eq!(
        String::from_utf8_lossy(&check.stdout),
        "nettle-dev\npkg-config\nage\ngnupg\nchromium\nnpm\n"
    );
    // scripts/demo asks only for what the build needs.
    let build = m.run(&["build", "--check"]);
    assert_eq!(
        String::from_utf8_lossy(&build.stdout),
        "nettle-dev\npkg-config\n"
    );
    assert_eq!(m.run(&["--bogus"]).status.code(), Some(2));
}

#[test]
fn a_failed_build_names_the_missing_package_in_one_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The log cargo wrote on a machine with libclang-cpp14 and no libclang (trimmed).
    let out = Command::new(root.join("scripts/build"))
        .arg("--explain")
        .arg(root.join("tests/fixtures/build-no-libclang.log"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.starts_with("libclang-dev:"), "{said}");
    // A log without a known cause is not explained (the script then shows its tail).
    let other = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(other.path(), "error[E0308]: mismatched types\n").unwrap();
    let out = Command::new(root.join("scripts/build"))
        .arg("--explain")
        .arg(other.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}
