//! Config files: the client's `config.toml` (`config::Config::parse`) and the relay's
//! `[serve]` table of it, read as the relay reads it (`relay::config::load_file` from a real
//! file, then `resolve` with no flags). What resolves is a configuration the relay can run:
//! the checks `resolve` promises hold. Durations parse without overflow.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pigeon::cli::ServeRunArgs;
use pigeon::config::{Config, parse_duration};
use pigeon::home::Home;
use pigeon::relay::config::{load_file, resolve};

fn home() -> &'static (tempfile::TempDir, Home) {
    static H: OnceLock<(tempfile::TempDir, Home)> = OnceLock::new();
    H.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let h = Home::at(d.path());
        (d, h)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_duration(text);
    if let Ok(c) = Config::parse(text) {
        if let Some(ttl) = &c.send.ttl {
            let _ = parse_duration(ttl);
        }
    }
    let (_dir, home) = home();
    std::fs::write(home.config_file(), text).unwrap();
    let Ok(mut file) = load_file(home) else {
        return;
    };
    // The password file is a path to read; the fuzzer must not make the relay read
    // /dev/zero or a FIFO of this machine.
    file.password_file = None;
    if let Ok(c) = resolve(&ServeRunArgs::default(), file, home) {
        assert!(c.default_ttl <= c.max_ttl);
        assert!(c.max_inflight_bytes >= c.max_body);
        assert!(c.max_body > 0 && c.max_page > 0 && c.max_batch > 0);
        assert!(c.readers >= 1 && c.readers <= 16);
        assert!(!c.header_timeout.is_zero() && !c.sweep_interval.is_zero());
    }
});
