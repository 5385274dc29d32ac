//! The relay list takes the tracker's publishing admission, and every `/v1` answer of the
//! relay and the tracker (errors included) says `X-Content-Type-Options: nosniff`.

use super::{T, person};
use crate::harness::{Relay, agent, home};

fn announce(t: &T, bearer: Option<&str>) -> crate::harness::Reply {
    let mut req = agent()
        .post(t.url("/v1/relays"))
        .header("content-type", "application/json");
    if let Some(b) = bearer {
        req = req.header("authorization", format!("Bearer {b}"));
    }
    crate::harness::reply(req.send(r#"{"v":1,"url":"https://relay.example"}"#))
}

#[test]
fn announcing_a_relay_needs_the_trackers_password() {
    let h = home();
    let pass = h.path().join("pass");
    std::fs::write(&pass, "correct horse\n").unwrap();
    let t = T::start(&["--password-file", pass.to_str().unwrap()]);
    let none = announce(&t, None);
    assert_eq!(none.status, 401, "{}", none.text);
    assert_eq!(none.body["error"]["code"], "unauthorized");
    assert_eq!(announce(&t, Some("battery staple")).status, 401);
    assert_eq!(t.get("/v1/relays").body["relays"], serde_json::json!([]));
    let right = announce(&t, Some("correct horse"));
    assert_eq!(right.status, 201, "{}", right.text);
    assert_eq!(
        t.get("/v1/relays").body["relays"][0]["url"],
        "https://relay.example"
    );
    // An open tracker takes announcements as before.
    assert_eq!(announce(&T::start(&[]), None).status, 201);
}

/// Status and the `x-content-type-options` header of one request.
fn sniff(method: &str, url: &str, body: &[u8]) -> (u16, Option<String>) {
    let a = agent();
    let r = match method {
        "PUT" => a
            .put(url)
            .header("content-type", "application/json")
            .send(body),
        "POST" => a
            .post(url)
            .header("content-type", "application/json")
            .send(body),
        "DELETE" => a.delete(url).call(),
        _ => a.get(url).call(),
    }
    .unwrap();
    let h = r
        .headers()
        .get("x-content-type-options")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), h)
}

#[test]
fn every_answer_says_nosniff() {
    let t = T::start(&[]);
    let (_alice, card) = person("alice", "age");
    let fp = super::fingerprint(&card);
    let u = |p: &str| t.url(p);
    let relay = Relay::start(home().path(), &["--tracker"]);
    let r = |p: &str| format!("{}{p}", relay.url);
    let cases = [
        ("GET", u("/v1/info"), Vec::new(), 200),
        (
            "PUT",
            u(&format!("/v1/cards/{fp}")),
            card.clone().into_bytes(),
            201,
        ),
        ("GET", u("/v1/names/alice"), Vec::new(), 200),
        ("GET", u("/v1/names/nobody"), Vec::new(), 404),
        (
            "PUT",
            u(&format!("/v1/cards/{fp}")),
            b"{not json".to_vec(),
            400,
        ),
        ("DELETE", u("/v1/names/alice"), Vec::new(), 401),
        ("GET", u("/no/such/route"), Vec::new(), 404),
        ("GET", r("/v1/info"), Vec::new(), 200),
        (
            "POST",
            r(&format!("/v1/mailboxes/{}", "0".repeat(64))),
            b"{}".to_vec(),
            400,
        ),
        (
            "GET",
            r(&format!("/v1/mailboxes/{}", "0".repeat(64))),
            Vec::new(),
            401,
        ),
        ("GET", r("/v1/cards?after=0"), Vec::new(), 200),
    ];
    for (method, url, body, status) in cases {
        let (got, h) = sniff(method, &url, &body);
        assert_eq!(got, status, "{method} {url}");
        assert_eq!(h.as_deref(), Some("nosniff"), "{method} {url} ({got})");
    }
}
