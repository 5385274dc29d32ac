//! Attacks found in review of the tracker server, each with the rule that stops it.

use pigeon::keys::card::sign_card;

use super::{T, identity, person};

/// Anyone can sign a card listing hundreds of made-up relays; the relay list newcomers
/// pick from takes only a few from each card (the card itself is stored as signed).
#[test]
fn one_card_cannot_fill_the_relay_list() {
    let t = T::start(&[]);
    let (spammer, _) = person("spammer", "age");
    let id = identity(&spammer);
    let mut card = id.card().unwrap();
    card.relays = (0..100)
        .map(|i| format!("http://spam{i}.example:7447"))
        .collect();
    card.seq += 1;
    sign_card(&mut card, &id.secret).unwrap();
    let text = serde_json::to_string(&card).unwrap();
    let r = t.publish(&text);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(t.get(&format!("/v1/cards/{}", card.fingerprint)).text, text);
    let relays = t.get("/v1/relays");
    let n = relays.body["relays"].as_array().unwrap().len();
    assert!((1..=16).contains(&n), "{n} relays listed: {}", relays.text);
}

/// A name with a zero-width character prints as the held name but would be another key on
/// the tracker: refused as a name, so nobody can sit beside `alice` looking like her.
#[test]
fn an_invisible_character_does_not_make_a_look_alike_name() {
    let t = T::start(&[]);
    let (_alice, card) = person("alice", "age");
    assert_eq!(t.publish(&card).status, 201);
    let (mallory, _) = person("mallory", "age");
    let id = identity(&mallory);
    for name in [
        "alice\u{200B}",
        "al\u{00AD}ice",
        "alice\u{FE0F}",
        "\u{2060}alice",
    ] {
        let mut c = id.card().unwrap();
        c.name = name.into();
        c.seq += 1;
        sign_card(&mut c, &id.secret).unwrap();
        let r = t.publish(&serde_json::to_string(&c).unwrap());
        assert_eq!(r.status, 400, "{name:?}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "bad_card", "{name:?}");
    }
    let page = t.get("/v1/cards?after=0");
    assert_eq!(
        page.body["cards"].as_array().unwrap().len(),
        1,
        "{}",
        page.text
    );
}

/// Identities cost nothing to make: the tracker holds at most `--max-cards` cards, refuses
/// a new identity past it, and still takes a newer card of one it holds.
#[test]
fn the_card_table_is_bounded() {
    let t = T::start(&["--max-cards", "2"]);
    let (alice, a) = person("alice", "age");
    let (_bob, b) = person("bob", "age");
    let (_carol, c) = person("carol", "age");
    assert_eq!(t.publish(&a).status, 201);
    assert_eq!(t.publish(&b).status, 201);
    let full = t.publish(&c);
    assert_eq!(full.status, 507, "{}", full.text);
    assert_eq!(full.body["error"]["code"], "quota");
    assert_eq!(t.get("/v1/names/carol").status, 404);
    alice
        .run(&["relay", "add", "http://relay.example:7447"])
        .ok();
    let newer = super::card_of(&alice);
    assert_eq!(
        t.publish(&newer).status,
        201,
        "a held identity still updates"
    );
}

/// A peer that takes connections and never answers (the adversary) holds no other peer's
/// mirror up: a card published here reaches the good peer by push at once, not after the
/// hung peer's timeout.
#[test]
fn a_peer_that_never_answers_does_not_hold_up_the_others() {
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_url = format!("http://{}", hung.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in hung.incoming() {
            held.push(s);
        }
    });
    let good = T::start(&[]);
    let t = T::start(&["--peer", &hung_url, "--peer", &good.proc.url]);
    let (_alice, alice) = person("alice", "age");
    assert_eq!(t.publish(&alice).status, 201);
    let path = format!("/v1/cards/{}", super::fingerprint(&alice));
    // Well under the 30 s a request to the hung peer takes to time out.
    assert!(
        crate::harness::eventually(std::time::Duration::from_secs(10), || good
            .get(&path)
            .status
            == 200),
        "the good peer got alice's card by push; log:\n{}",
        t.proc.stderr()
    );
}

/// A card of a version this pigeon does not know is refused, not read as version 1 (its
/// fields may mean something else), signed or not.
#[test]
fn a_card_of_an_unknown_version_is_refused() {
    let t = T::start(&[]);
    let (alice, _) = person("alice", "age");
    let id = identity(&alice);
    let mut c = id.card().unwrap();
    c.v = 2;
    sign_card(&mut c, &id.secret).unwrap();
    let r = t.publish(&serde_json::to_string(&c).unwrap());
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "bad_card");
    assert!(r.text.contains("version 2"), "{}", r.text);
    assert_eq!(t.get("/v1/names/alice").status, 404);
}

/// `http://0.0.0.0:7447` is where a relay listens, never where anyone reaches it: not on
/// the list newcomers pick from, announced or named in a card.
#[test]
fn an_unspecified_address_is_not_listed() {
    let t = T::start(&[]);
    for url in ["http://0.0.0.0:7447", "http://[::]:7447", "https://0.0.0.0"] {
        let body = serde_json::json!({"v": 1, "url": url}).to_string();
        let r = crate::harness::reply(
            crate::harness::agent()
                .post(t.url("/v1/relays"))
                .header("content-type", "application/json")
                .send(body.as_bytes()),
        );
        assert_eq!(r.status, 400, "{url}: {}", r.text);
    }
    let (alice, _) = person("alice", "age");
    let id = identity(&alice);
    let mut c = id.card().unwrap();
    c.relays = vec![
        "http://0.0.0.0:7447".into(),
        "http://relay.example:7447".into(),
    ];
    c.seq += 1;
    sign_card(&mut c, &id.secret).unwrap();
    assert_eq!(t.publish(&serde_json::to_string(&c).unwrap()).status, 201);
    let relays = t.get("/v1/relays");
    assert_eq!(
        relays.body["relays"],
        serde_json::json!([{"url": "http://relay.example:7447", "source": "card",
            "seen": relays.body["relays"][0]["seen"]}]),
        "{}",
        relays.text
    );
}

/// Cards may be 64 KiB each: a page of a thousand would be 64 MiB of the tracker's memory
/// per request. A page stops after 1 MiB, and the cursor brings the rest.
#[test]
fn a_page_of_cards_is_bounded_in_bytes() {
    let t = T::start(&["--rate", "0"]);
    let mut fps = Vec::new();
    for i in 0..20 {
        let (u, _) = person(&format!("big{i}"), "age");
        let id = identity(&u);
        let mut c = id.card().unwrap();
        // 60 KiB of relay URLs: signed, so stored and served as they are.
        c.relays = (0..240)
            .map(|j| format!("http://r{j:03}.{}.example:7447", "x".repeat(220)))
            .collect();
        c.seq += 1;
        sign_card(&mut c, &id.secret).unwrap();
        let r = t.publish(&serde_json::to_string(&c).unwrap());
        assert_eq!(r.status, 201, "{}", r.text);
        fps.push(c.fingerprint);
    }
    let first = t.get("/v1/cards?after=0&limit=1000");
    assert_eq!(first.status, 200);
    let n = first.body["cards"].as_array().unwrap().len();
    assert!(
        first.text.len() < (1 << 20) + 70_000,
        "{} bytes",
        first.text.len()
    );
    assert!((1..20).contains(&n), "{n} cards in one page");
    let mut seen: Vec<String> = Vec::new();
    let mut after = 0;
    loop {
        let page = t.get(&format!("/v1/cards?after={after}&limit=1000"));
        let cards = page.body["cards"].as_array().unwrap().clone();
        if cards.is_empty() {
            break;
        }
        seen.extend(
            cards
                .iter()
                .map(|c| c["fingerprint"].as_str().unwrap().into()),
        );
        after = page.body["next"].as_u64().unwrap();
    }
    assert_eq!(seen, fps, "every card, once, in arrival order");
    // A peer pulling this tracker takes every page in one round (a short page is not the
    // end), not one page per --pull-interval.
    let b = T::start(&["--peer", &t.proc.url, "--pull-interval", "1h"]);
    let last = format!("/v1/cards/{}", fps[19]);
    assert!(
        crate::harness::eventually(std::time::Duration::from_secs(20), || b.get(&last).status
            == 200),
        "the peer pulled every page; log:\n{}",
        b.proc.stderr()
    );
}
