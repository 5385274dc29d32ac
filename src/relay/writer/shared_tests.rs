//! Fan-out payloads against a real SQLite file: stored once, read back whole by every
//! mailbox, freed with the last reference (ack or expiry), counted per mailbox by quotas.

use super::*;
use crate::relay::ops::ROW_OVERHEAD;

fn start(path: &std::path::Path, quotas: Quotas) -> (Writer, JoinHandle<()>) {
    Writer::start(path, quotas, Arc::default(), Arc::default()).unwrap()
}

use super::tests::ROOMY;

fn count(path: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn payloads(path: &std::path::Path) -> i64 {
    count(path, "SELECT count(*) FROM payloads")
}

fn fetch_all(path: &std::path::Path, mbox: u8) -> Vec<Vec<u8>> {
    let c = rusqlite::Connection::open(path).unwrap();
    let (rows, _) = storage::fetch(&c, &[mbox; 32], 0, 100, 1 << 30, storage::now()).unwrap();
    rows.into_iter().map(|r| r.payload).collect()
}

fn stored(outs: &[PostOutcome]) -> Vec<u64> {
    outs.iter()
        .map(|o| match o {
            PostOutcome::Stored(s) => *s,
            o => panic!("{o:?}"),
        })
        .collect()
}

#[tokio::test]
async fn one_copy_for_many_mailboxes_until_the_last_ack() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("r.sqlite");
    let (w, h) = start(&path, ROOMY);
    let payload = vec![7u8; 5000];
    let outs = w
        .post(NewEnvelope::fan_out(
            &[[1; 32], [2; 32], [3; 32]],
            [9; 16],
            60,
            payload.clone(),
        ))
        .await
        .unwrap();
    let seqs = stored(&outs);
    // A retry of the same fan-out is a duplicate everywhere and adds no reference.
    let again = w
        .post(NewEnvelope::fan_out(
            &[[1; 32], [2; 32], [3; 32]],
            [9; 16],
            60,
            payload.clone(),
        ))
        .await
        .unwrap();
    assert_eq!(
        again,
        seqs.iter()
            .map(|&s| PostOutcome::Duplicate(s))
            .collect::<Vec<_>>()
    );
    assert_eq!(payloads(&path), 1);
    assert_eq!(count(&path, "SELECT refs FROM payloads"), 3);
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM envelopes WHERE length(payload) = 0"
        ),
        3
    );
    for m in 1..=3 {
        assert_eq!(
            fetch_all(&path, m),
            std::slice::from_ref(&payload),
            "mailbox {m}"
        );
    }
    // Every mailbox is charged the whole envelope: fanning out gives no free room.
    let bytes = count(&path, "SELECT sum(bytes) FROM mailboxes");
    assert_eq!(bytes as u64, 3 * (5000 + ROW_OVERHEAD));
    // One member acks: the others still have it.
    assert_eq!(w.ack([1; 32], seqs[0], u64::MAX).await.unwrap(), 1);
    assert!(fetch_all(&path, 1).is_empty());
    assert_eq!(fetch_all(&path, 2), std::slice::from_ref(&payload));
    assert_eq!(payloads(&path), 1);
    assert_eq!(count(&path, "SELECT refs FROM payloads"), 2);
    w.ack([2; 32], seqs[1], u64::MAX).await.unwrap();
    w.ack([3; 32], seqs[2], u64::MAX).await.unwrap();
    assert_eq!(payloads(&path), 0, "the last ack frees the payload");
    assert_eq!(
        count(&path, "SELECT coalesce(sum(bytes), 0) FROM mailboxes"),
        0
    );
    w.stop().await;
    h.join().unwrap();
}

#[tokio::test]
async fn expiry_frees_the_payload_and_quotas_count_each_mailbox() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("r.sqlite");
    // Room for one 1000-byte envelope per mailbox, and for two in the whole relay.
    let quotas = Quotas {
        max_envelopes: 10,
        max_mailbox_bytes: 1000 + ROW_OVERHEAD,
        max_total_bytes: 2 * (1000 + ROW_OVERHEAD),
    };
    let (w, h) = start(&path, quotas);
    let outs = w
        .post(NewEnvelope::fan_out(
            &[[1; 32], [2; 32], [3; 32]],
            [4; 16],
            1,
            vec![1; 1000],
        ))
        .await
        .unwrap();
    assert!(matches!(outs[0], PostOutcome::Stored(_)), "{outs:?}");
    assert!(matches!(outs[1], PostOutcome::Stored(_)), "{outs:?}");
    assert_eq!(
        outs[2],
        PostOutcome::RelayFull,
        "the third copy counts in full"
    );
    let outs = w
        .post(NewEnvelope::fan_out(&[[1; 32]], [5; 16], 60, vec![2; 10]))
        .await
        .unwrap();
    assert_eq!(outs, [PostOutcome::MailboxFull("bytes")]);
    assert_eq!(payloads(&path), 1);
    // A shared payload whose every post was refused leaves no row behind.
    let outs = w
        .post(NewEnvelope::fan_out(
            &[[1; 32], [2; 32]],
            [6; 16],
            60,
            vec![3; 10],
        ))
        .await
        .unwrap();
    assert!(
        outs.iter().all(|o| !matches!(o, PostOutcome::Stored(_))),
        "{outs:?}"
    );
    assert_eq!(payloads(&path), 1);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(w.sweep(100).await.unwrap(), 2);
    assert_eq!(
        payloads(&path),
        0,
        "expiry of the last reference frees the payload"
    );
    // The quota room is back.
    let outs = w
        .post(NewEnvelope::fan_out(
            &[[1; 32], [2; 32]],
            [7; 16],
            60,
            vec![1; 1000],
        ))
        .await
        .unwrap();
    stored(&outs);
    w.stop().await;
    h.join().unwrap();
}

#[tokio::test]
async fn a_schema_2_database_keeps_its_envelopes_and_takes_fanouts() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("r.sqlite");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(super::tests::SCHEMA_1).unwrap();
        c.execute_batch(
            "ALTER TABLE envelopes ADD COLUMN digest BLOB NOT NULL DEFAULT x'';
             DROP INDEX envelopes_mbox_id;
             CREATE UNIQUE INDEX envelopes_mbox_id_digest ON envelopes (mbox, id, digest);
             PRAGMA user_version = 2;
             INSERT INTO mailboxes (id, hash, count, bytes) VALUES (1, zeroblob(32), 1, 131);
             INSERT INTO envelopes (seq, mbox, id, received, expires, payload, digest)
                 VALUES (5, 1, zeroblob(16), 1, 9999999999, x'010203', x'');",
        )
        .unwrap();
    }
    let (w, h) = start(&path, ROOMY);
    let outs = w
        .post(NewEnvelope::fan_out(
            &[[0; 32], [8; 32]],
            [1; 16],
            60,
            b"new".to_vec(),
        ))
        .await
        .unwrap();
    stored(&outs);
    assert_eq!(fetch_all(&path, 0), [vec![1, 2, 3], b"new".to_vec()]);
    assert_eq!(fetch_all(&path, 8), [b"new".to_vec()]);
    // Acking both an old inline envelope and a shared one.
    assert_eq!(w.ack([0; 32], u64::MAX, u64::MAX).await.unwrap(), 2);
    assert_eq!(payloads(&path), 1);
    assert_eq!(
        count(&path, "SELECT bytes FROM mailboxes"),
        3 + ROW_OVERHEAD as i64
    );
    w.stop().await;
    h.join().unwrap();
    assert_eq!(
        count(&path, "PRAGMA user_version"),
        4,
        "migrated to the fan-out schema"
    );
}
