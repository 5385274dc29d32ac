//! Quotas: row overhead, empty payloads, nothing left on refusal, batches by items, hourly cap, floods.

use super::*;

#[test]
fn empty_payloads_are_refused_and_refusals_create_no_mailbox() {
    let h = home();
    // 1000 bytes of quota: a 900-byte payload plus its row overhead does not fit.
    let relay = Relay::start(h.path(), &["--max-mailbox-bytes", "1000"]);
    let m = Owner::new().mbox;
    let r = post(&relay.url, &m, b"", None, None);
    assert_eq!((r.status, rcode(&r)), (400, "bad_request"), "{}", r.text);
    let r = post(&relay.url, &m, &[1u8; 900], None, None);
    assert_eq!((r.status, rcode(&r)), (507, "quota"), "{}", r.text);
    let batch = json!({"v": 1, "items": [
        {"mailbox": Owner::new().mbox, "envelope": envelope(&[2u8; 950])},
        {"mailbox": Owner::new().mbox, "envelope": envelope(b"")},
    ]});
    let r = reply(
        agent()
            .post(format!("{}/v1/batch", relay.url))
            .header("content-type", "application/json")
            .send(batch.to_string()),
    );
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], 507, "{}", r.text);
    assert_eq!(results[1]["status"], 400, "{}", r.text);
    assert_eq!(
        metric(&relay.url, "pigeon_mailboxes"),
        Some(0),
        "no rows left behind"
    );
    // Tiny envelopes count their overhead: 1000 bytes hold 7 one-byte envelopes, not 1000.
    let stored = (0..10)
        .filter(|_| post(&relay.url, &m, b"x", None, None).status == 201)
        .count();
    assert!(
        (1..10).contains(&stored),
        "{stored} one-byte envelopes fit in 1000 bytes"
    );
    assert_eq!(metric(&relay.url, "pigeon_mailboxes"), Some(1));
}

#[test]
fn a_batch_is_rate_limited_by_its_items() {
    let h = home();
    let relay = Relay::start(h.path(), &["--rate", "5"]);
    let items: Vec<Value> = (0..200)
        .map(|_| json!({"mailbox": Owner::new().mbox, "envelope": envelope(b"x")}))
        .collect();
    let r = reply(
        agent()
            .post(format!("{}/v1/batch", relay.url))
            .header("content-type", "application/json")
            .send(json!({"v": 1, "items": items}).to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // 200 items are 10 requests' worth at five a second: the next request waits for them.
    let next = post(&relay.url, &Owner::new().mbox, b"x", None, None);
    assert_eq!(
        (next.status, rcode(&next)),
        (429, "rate_limited"),
        "{}",
        next.text
    );
}

#[test]
fn an_operator_caps_what_one_source_stores_per_hour() {
    let h = home();
    let relay = Relay::start(
        h.path(),
        &[
            "--max-bytes-per-source-hour",
            "2500",
            "--trusted-proxy",
            "127.0.0.1",
        ],
    );
    let m = Owner::new().mbox;
    let (a, b) = (Some("203.0.113.1"), Some("203.0.113.2"));
    assert_eq!(post(&relay.url, &m, &[1u8; 1000], a, None).status, 201);
    assert_eq!(post(&relay.url, &m, &[1u8; 1000], a, None).status, 201);
    let r = post(&relay.url, &m, &[1u8; 1000], a, None);
    assert_eq!((r.status, rcode(&r)), (429, "source_quota"), "{}", r.text);
    assert!(r.retry_after.is_some());
    assert_eq!(post(&relay.url, &m, &[1u8; 1000], b, None).status, 201);
}

#[test]
fn a_flood_from_one_address_does_not_stop_another() {
    let h = home();
    let relay = Relay::start(h.path(), &["--rate", "20", "--trusted-proxy", "127.0.0.1"]);
    let url = relay.url.clone();
    let m = Owner::new().mbox;
    let flood = {
        let (url, m) = (url.clone(), m.clone());
        std::thread::spawn(move || {
            let t = Instant::now();
            let mut limited = 0;
            while t.elapsed() < Duration::from_secs(3) {
                if post(&url, &m, b"flood", Some("203.0.113.66"), None).status == 429 {
                    limited += 1;
                }
            }
            limited
        })
    };
    for _ in 0..10 {
        let r = post(&url, &m, b"served", Some("198.51.100.5"), None);
        assert_eq!(r.status, 201, "{}", r.text);
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(flood.join().unwrap() > 0, "the flood was never limited");
}
