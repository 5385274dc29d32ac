//! The relay's disk full, on a small tmpfs.

use super::*;

/// A small tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let d = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(d.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(d))
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

#[test]
fn the_relays_disk_full() {
    let Some(fs) = Tmpfs::mount("6m") else {
        let msg = "cannot mount a tmpfs (needs root); the disk-full test did not run";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("SKIPPED: {msg}");
        return;
    };
    let filler = fs.path().join("filler");
    std::fs::write(&filler, vec![0u8; 3 << 20]).unwrap();
    let db = fs.path().join("relay.sqlite");
    let h = home();
    let args = [
        "--db",
        db.to_str().unwrap(),
        "--rate",
        "0",
        "--max-envelopes",
        "100000",
    ];
    let relay = Relay::start(h.path(), &args);
    let alice = Owner::new();
    let mut acked = Vec::new();
    let mut refusal = None;
    for _ in 0..2000 {
        let env = envelope(&[5u8; 32 << 10]);
        let r = reply(
            agent()
                .post(format!("{}/v1/mailboxes/{}", relay.url, alice.mbox))
                .header("content-type", "application/json")
                .send(env.to_string()),
        );
        if r.status == 201 {
            acked.push(env["id"].as_str().unwrap().to_string());
        } else {
            refusal = Some(r);
            break;
        }
    }
    let refusal = refusal.expect("the disk never filled");
    assert!(!acked.is_empty());
    assert_eq!(refusal.status, 507, "{}", refusal.text);
    assert_eq!(rcode(&refusal), "disk_full", "{}", refusal.text);
    // Everything acknowledged is there; the relay still answers reads.
    let held = ids(&relay.url, &alice);
    assert!(
        acked.iter().all(|id| held.contains(id)),
        "an acknowledged envelope is lost"
    );
    // Space comes back: posting resumes.
    std::fs::remove_file(&filler).unwrap();
    let r = post(
        &relay.url,
        &alice.mbox,
        b"after the disk emptied",
        None,
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text);
    drop(relay);
    let relay = Relay::start(h.path(), &args);
    let held = ids(&relay.url, &alice);
    assert!(acked.iter().all(|id| held.contains(id)));
    relay.terminate();
    integrity_ok(&db);
}

#[test]
fn a_recreated_database_hands_out_seqs_above_the_old_ones() {
    let h = home();
    let relay = Relay::start(h.path(), &[]);
    let addr = relay.addr();
    let alice = Owner::new();
    let first = post(&relay.url, &alice.mbox, b"old", None, None);
    let old_seq = first.body["seq"].as_u64().unwrap();
    relay.terminate();
    // The operator starts over: the database is gone, clients keep their cursors.
    for f in ["relay.sqlite", "relay.sqlite-wal", "relay.sqlite-shm"] {
        let _ = std::fs::remove_file(h.path().join(f));
    }
    let relay = Relay::start(h.path(), &["--listen", &addr]);
    let again = post(&relay.url, &alice.mbox, b"new", None, None);
    assert_eq!(again.status, 201, "{}", again.text);
    let new_seq = again.body["seq"].as_u64().unwrap();
    assert!(
        new_seq > old_seq,
        "{new_seq} <= {old_seq}: a cursor at {old_seq} skips it"
    );
    let r = get(&relay.url, &alice, &format!("after={old_seq}"), None);
    assert_eq!(
        r.body["envelopes"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
}
