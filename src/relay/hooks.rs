//! The operator's event hook (`--on-event`): `sh -c CMD` with the event line on stdin.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Hooks running at once, at most; more events are logged without running it.
const MAX_HOOKS: usize = 4;
const HOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `sh -c CMD` with `line` on stdin on its own thread, killed after [`HOOK_TIMEOUT`].
pub fn run_hook(cmd: String, line: String, running: std::sync::Arc<AtomicUsize>) {
    if running.fetch_add(1, Ordering::SeqCst) >= MAX_HOOKS {
        running.fetch_sub(1, Ordering::SeqCst);
        eprintln!("pigeon relay: {MAX_HOOKS} event hooks still running; not starting another");
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("pigeon-hook".into())
        .spawn(move || {
            let result = (|| -> std::io::Result<()> {
                let mut child = Command::new("sh")
                    .arg("-c")
                    .arg(&cmd)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()?;
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = writeln!(stdin, "{line}");
                }
                let deadline = Instant::now() + HOOK_TIMEOUT;
                loop {
                    if let Some(status) = child.try_wait()? {
                        if !status.success() {
                            eprintln!("pigeon relay: event hook exited with {status}");
                        }
                        return Ok(());
                    }
                    if Instant::now() >= deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        eprintln!("pigeon relay: event hook killed after {HOOK_TIMEOUT:?}");
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })();
            if let Err(e) = result {
                eprintln!("pigeon relay: cannot run the event hook: {e}");
            }
            running.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        eprintln!("pigeon relay: cannot start a thread for the event hook");
    }
}
