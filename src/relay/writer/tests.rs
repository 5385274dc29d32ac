//! The writer against a real SQLite file: group commits, duplicates, quotas, acks, seqs.

use super::*;

fn env(mbox: u8, id: u8, len: usize) -> NewEnvelope {
    NewEnvelope::new([mbox; 32], [id; 16], 60, vec![id; len])
}

fn start(dir: &std::path::Path, quotas: Quotas) -> (Writer, JoinHandle<()>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let (w, h) = Writer::start(
        &dir.join("r.sqlite"),
        quotas,
        Arc::default(),
        metrics.clone(),
    )
    .unwrap();
    (w, h, metrics)
}

pub(super) const ROOMY: Quotas = Quotas {
    max_envelopes: 1000,
    max_mailbox_bytes: 1 << 20,
    max_total_bytes: 1 << 30,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posts_share_commits() {
    let d = tempfile::tempdir().unwrap();
    let (w, h, metrics) = start(d.path(), ROOMY);
    let tasks: Vec<_> = (0..200u8)
        .map(|i| {
            let w = w.clone();
            tokio::spawn(async move { w.post(vec![env(i % 4, i, 100)]).await.unwrap() })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        match t.await.unwrap()[0] {
            PostOutcome::Stored(s) => seqs.push(s),
            ref o => panic!("{o:?}"),
        }
    }
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 200, "every post got its own seq");
    let commits = metrics.commits.get();
    assert!(commits <= 100, "{commits} commits for 200 concurrent posts");
    w.stop().await;
    h.join().unwrap();
}

#[tokio::test]
async fn duplicates_quotas_acks_and_seq_survive_restart() {
    let d = tempfile::tempdir().unwrap();
    // Each envelope also counts ROW_OVERHEAD bytes.
    let o = crate::relay::ops::ROW_OVERHEAD;
    let quotas = Quotas {
        max_envelopes: 2,
        max_mailbox_bytes: 250 + 2 * o,
        max_total_bytes: 400 + 3 * o,
    };
    let (w, h, _) = start(d.path(), quotas);
    // The same id twice in one group: stored once.
    let out = w.post(vec![env(1, 1, 100), env(1, 1, 100)]).await.unwrap();
    // A new database counts from the clock (microseconds): far above 1.
    let PostOutcome::Stored(b) = out[0] else {
        panic!("{out:?}")
    };
    assert!(b > 1_700_000_000_000_000, "{b}");
    assert_eq!(out, vec![PostOutcome::Stored(b), PostOutcome::Duplicate(b)]);
    let out = w.post(vec![env(1, 2, 200)]).await.unwrap();
    assert_eq!(out, vec![PostOutcome::MailboxFull("bytes")]);
    let out = w.post(vec![env(1, 3, 10), env(1, 4, 10)]).await.unwrap();
    assert_eq!(
        out,
        vec![
            PostOutcome::Stored(b + 1),
            PostOutcome::MailboxFull("envelopes")
        ]
    );
    // Full, but a re-post of a stored id is still a success.
    let out = w.post(vec![env(1, 1, 100)]).await.unwrap();
    assert_eq!(out, vec![PostOutcome::Duplicate(b)]);
    let out = w.post(vec![env(2, 5, 250), env(3, 6, 100)]).await.unwrap();
    assert_eq!(
        out,
        vec![PostOutcome::Stored(b + 2), PostOutcome::RelayFull]
    );
    assert_eq!(w.ack([1; 32], b, u64::MAX).await.unwrap(), 1);
    assert_eq!(w.ack([1; 32], b, u64::MAX).await.unwrap(), 0);
    assert_eq!(w.ack([9; 32], b + 100, u64::MAX).await.unwrap(), 0);
    assert_eq!(
        w.post(vec![env(1, 7, 10)]).await.unwrap(),
        vec![PostOutcome::Stored(b + 3)]
    );
    // Delete everything: the next seq must still be new after a restart.
    assert_eq!(w.ack([1; 32], b + 100, u64::MAX).await.unwrap(), 2);
    assert_eq!(w.ack([2; 32], b + 100, u64::MAX).await.unwrap(), 1);
    w.stop().await;
    h.join().unwrap();
    let (w, h, _) = start(d.path(), quotas);
    assert_eq!(
        w.post(vec![env(1, 8, 10)]).await.unwrap(),
        vec![PostOutcome::Stored(b + 4)]
    );
    w.stop().await;
    h.join().unwrap();
    // Posting commits do not store the counter; the stored rows carry it.
    let (w, h, _) = start(d.path(), quotas);
    assert_eq!(
        w.post(vec![env(1, 9, 10)]).await.unwrap(),
        vec![PostOutcome::Stored(b + 5)]
    );
    w.stop().await;
    h.join().unwrap();
}

#[tokio::test]
async fn the_same_id_with_other_bytes_is_stored_and_the_same_bytes_are_a_duplicate() {
    let d = tempfile::tempdir().unwrap();
    let quotas = Quotas {
        max_envelopes: 3,
        max_mailbox_bytes: 1 << 20,
        max_total_bytes: 1 << 30,
    };
    let (w, h, _) = start(d.path(), quotas);
    let junk = NewEnvelope::new([1; 32], [7; 16], 60, b"junk first".to_vec());
    let real = || NewEnvelope::new([1; 32], [7; 16], 60, b"the genuine one".to_vec());
    let out = w.post(vec![junk, real(), real()]).await.unwrap();
    let (PostOutcome::Stored(j), PostOutcome::Stored(r)) = (&out[0], &out[1]) else {
        panic!("{out:?}")
    };
    assert_ne!(j, r);
    assert_eq!(
        out[2],
        PostOutcome::Duplicate(*r),
        "a retry in the same group"
    );
    // A retry later, and one when the mailbox is full, are still duplicates; other bytes
    // under the id meet the quota like any new envelope.
    assert_eq!(
        w.post(vec![real()]).await.unwrap(),
        [PostOutcome::Duplicate(*r)]
    );
    let third = |b: &[u8]| NewEnvelope::new([1; 32], [7; 16], 60, b.to_vec());
    assert!(matches!(
        w.post(vec![third(b"3")]).await.unwrap()[0],
        PostOutcome::Stored(_)
    ));
    assert_eq!(
        w.post(vec![third(b"4")]).await.unwrap(),
        [PostOutcome::MailboxFull("envelopes")]
    );
    assert_eq!(
        w.post(vec![real()]).await.unwrap(),
        [PostOutcome::Duplicate(*r)]
    );
    w.stop().await;
    h.join().unwrap();
}

/// The relay schema before payload digests (version 1), as shipped.
pub(super) const SCHEMA_1: &str = "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
     CREATE TABLE mailboxes (
         id INTEGER PRIMARY KEY,
         hash BLOB NOT NULL UNIQUE,
         count INTEGER NOT NULL DEFAULT 0,
         bytes INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE envelopes (
         seq INTEGER PRIMARY KEY,
         mbox INTEGER NOT NULL,
         id BLOB NOT NULL,
         received INTEGER NOT NULL,
         expires INTEGER NOT NULL,
         payload BLOB NOT NULL);
     CREATE INDEX envelopes_mbox ON envelopes (mbox);
     CREATE UNIQUE INDEX envelopes_mbox_id ON envelopes (mbox, id);
     CREATE INDEX envelopes_expires ON envelopes (expires);
     CREATE TABLE blocks (addr TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID;
     PRAGMA user_version = 1;";

#[tokio::test]
async fn a_database_of_the_old_schema_gets_digests_and_keeps_deduping() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("r.sqlite");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(SCHEMA_1).unwrap();
        c.execute_batch(
            "INSERT INTO mailboxes (id, hash, count, bytes) VALUES (1, zeroblob(32), 1200, 0);",
        )
        .unwrap();
        // More rows than one fill step takes, to cross its chunk boundary.
        let mut ins = c
            .prepare(
                "INSERT INTO envelopes (seq, mbox, id, received, expires, payload)
                 VALUES (?1, 1, ?2, 1, 9999999999, ?3)",
            )
            .unwrap();
        for i in 0..1200u32 {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            ins.execute(rusqlite::params![
                100 + i,
                id.as_slice(),
                format!("old {i}").into_bytes()
            ])
            .unwrap();
        }
    }
    let (w, h, _) = start(d.path(), ROOMY);
    w.stop().await;
    h.join().unwrap();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 4);
        let mut stmt = c.prepare("SELECT payload, digest FROM envelopes").unwrap();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 1200);
        for (p, dg) in rows {
            assert_eq!(dg, crate::relay::ops::payload_digest(&p), "{p:?}");
        }
    }
    let old = |i: u32, payload: &str| {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&i.to_be_bytes());
        NewEnvelope::new([0; 32], id, 60, payload.as_bytes().to_vec())
    };
    let quotas = Quotas {
        max_envelopes: 10_000,
        ..ROOMY
    };
    let (w, h, _) = start(d.path(), quotas);
    let out = w
        .post(vec![old(5, "old 5"), old(1100, "old 1100"), old(5, "junk")])
        .await
        .unwrap();
    assert_eq!(out[0], PostOutcome::Duplicate(105));
    assert_eq!(out[1], PostOutcome::Duplicate(1200));
    assert!(
        matches!(out[2], PostOutcome::Stored(s) if s > 1299),
        "{out:?}"
    );
    w.stop().await;
    h.join().unwrap();
}
