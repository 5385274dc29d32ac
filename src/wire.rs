//! Wire types shared by the client, the relay and the tracker: what crosses the network.
//!
//! Every object carries `v` (the wire version). Unknown fields are ignored on input, so a
//! newer peer may add fields. The relay API is described with curl examples in
//! `docs/protocol.md`; the golden tests at the bottom pin the JSON shapes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod membership;
pub use membership::{GroupMember, Membership};
mod fanout;
pub use fanout::{FanoutItem, FanoutReply, FanoutRequest};

/// The version every wire object carries.
pub const V: u32 = 1;

/// The inner message version of a group message whose `to` is empty: its recipients are
/// the group's members (v 1 lists them, 40 hex digits each: over 4 KB of a 100-member
/// group's every message, which then padded to 8 KiB). Everything else is still written
/// as v 1, so older clients read it.
pub const GROUP_V: u32 = 2;

fn v1() -> u32 {
    V
}

// ---------------------------------------------------------------------------------------
// Relay API
// ---------------------------------------------------------------------------------------

/// An envelope as a sender posts it: opaque ciphertext for one mailbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(default = "v1")]
    pub v: u32,
    /// 128-bit id, 32 lowercase hex digits (pigeon makes them time-ordered: 48 bits of
    /// milliseconds, 80 random); the same id is stored once per mailbox.
    pub id: String,
    /// The ciphertext, standard base64.
    pub payload: String,
    /// Seconds the relay should keep it; the relay caps it at its maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
}

/// An envelope as the relay returns it to the mailbox owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEnvelope {
    /// The relay's own sequence number: the cursor for `after=` and `upto=`.
    pub seq: u64,
    pub id: String,
    pub payload: String,
    /// When the relay received it (unix seconds).
    pub received: u64,
    /// When the relay will drop it (unix seconds).
    pub expires: u64,
}

/// 201 (stored) or 200 (already stored: `duplicate`) for a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostReply {
    #[serde(default = "v1")]
    pub v: u32,
    pub seq: u64,
    #[serde(default)]
    pub duplicate: bool,
}

/// One item of `POST /v1/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchItem {
    pub mailbox: String,
    pub envelope: Envelope,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRequest {
    #[serde(default = "v1")]
    pub v: u32,
    pub items: Vec<BatchItem>,
}

/// The answer for one batch item, in request order: the HTTP status it would have had alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchReply {
    #[serde(default = "v1")]
    pub v: u32,
    pub results: Vec<BatchResult>,
}

/// `GET /v1/mailboxes/{mbox}`: envelopes after the cursor, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchReply {
    #[serde(default = "v1")]
    pub v: u32,
    pub envelopes: Vec<StoredEnvelope>,
    /// Whether more envelopes wait after the last one returned.
    #[serde(default)]
    pub more: bool,
    /// A random id of the relay's database, made when it was created: a client whose
    /// cursor came from another instance (the database was recreated and seqs restarted)
    /// starts again from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// `DELETE /v1/mailboxes/{mbox}?upto=SEQ`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteReply {
    #[serde(default = "v1")]
    pub v: u32,
    pub deleted: u64,
}

/// The body of every error answer: a stable machine `code` and a message for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    #[serde(default = "v1")]
    pub v: u32,
    pub error: ApiError,
}

/// `GET /v1/info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayInfo {
    #[serde(default = "v1")]
    pub v: u32,
    pub name: String,
    pub version: String,
    /// `open`, `password` or `token`.
    pub admission: String,
    pub tracker: bool,
    pub limits: RelayLimits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayLimits {
    pub max_body_bytes: u64,
    pub max_envelopes_per_mailbox: u64,
    pub max_bytes_per_mailbox: u64,
    pub max_ttl_secs: u64,
    pub default_ttl_secs: u64,
    pub max_wait_secs: u64,
    pub max_page: u64,
}

// ---------------------------------------------------------------------------------------
// Signed mailbox requests
// ---------------------------------------------------------------------------------------

/// Header carrying the mailbox key (64 hex digits, Ed25519 public key).
pub const HDR_KEY: &str = "x-pigeon-key";
/// Header carrying the request time (unix seconds).
pub const HDR_TIME: &str = "x-pigeon-time";
/// Header carrying a random nonce (32 hex digits), so two equal requests differ.
pub const HDR_NONCE: &str = "x-pigeon-nonce";
/// Header carrying the Ed25519 signature (base64) over [`request_signing_bytes`].
pub const HDR_SIG: &str = "x-pigeon-sig";

/// What a mailbox owner signs for a read or delete: a domain prefix, then method, host
/// (the `Host` header: the relay's authority as in its URL, e.g. `pi.local:7447`), path,
/// query (as sent, without `?`), time and nonce, one per line. The host ties a signature to
/// one relay, so a relay cannot replay it to another relay on the same card.
pub fn request_signing_bytes(
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    time: u64,
    nonce: &str,
) -> Vec<u8> {
    format!("pigeon-request-v1\n{method}\n{host}\n{path}\n{query}\n{time}\n{nonce}").into_bytes()
}

/// The authority (`host[:port]`) of a relay URL, as written: what its `Host` header carries
/// (`relay add` stores URLs with the authority lowercased and refuses user info).
pub fn url_authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// The headers a mailbox owner adds to a read or delete: key, time, a fresh nonce and the
/// signature over [`request_signing_bytes`]. `query` is the query string exactly as it will be
/// sent, without `?`; `now` is unix seconds. The relay and the client both use this module, so
/// they cannot disagree about what is signed.
pub fn sign_request(
    key: &ed25519_dalek::SigningKey,
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    now: u64,
) -> Vec<(&'static str, String)> {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    use rand::RngCore as _;

    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let nonce = hex::encode(nonce);
    let sig = key.sign(&request_signing_bytes(
        method, host, path, query, now, &nonce,
    ));
    vec![
        (HDR_KEY, hex::encode(key.verifying_key().as_bytes())),
        (HDR_TIME, now.to_string()),
        (HDR_NONCE, nonce),
        (
            HDR_SIG,
            base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
        ),
    ]
}

/// The current time as the wire carries it: unix seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A mailbox id: the SHA-256 of the Ed25519 mailbox key, 64 lowercase hex digits.
pub fn mailbox_id(mailbox_key: &[u8; 32]) -> String {
    hex::encode(Sha256::digest(mailbox_key))
}

/// Whether `s` looks like a mailbox id.
pub fn is_mailbox_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `s` looks like an envelope or message id (32 lowercase hex digits).
pub fn is_message_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

// ---------------------------------------------------------------------------------------
// Cards and messages
// ---------------------------------------------------------------------------------------

/// The public half of an identity, signed by it. See `keys` for signing and checking.
///
/// The signature covers `"pigeon-card-v1\n"` followed by the card's canonical JSON
/// (every field but `sig`, keys sorted, no spaces), so unknown fields added by newer
/// versions are covered too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    #[serde(rename = "type", default = "card_type")]
    pub type_: String,
    #[serde(default = "v1")]
    pub v: u32,
    pub name: String,
    /// `age` or `pgp`.
    pub kind: String,
    pub fingerprint: String,
    /// The X25519 recipient (`age1…`), for kind `age`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<String>,
    /// The ASCII-armoured OpenPGP certificate, for kind `pgp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgp: Option<String>,
    /// The Ed25519 mailbox key, 64 hex digits.
    pub mailbox_key: String,
    /// The mailbox id on every relay: SHA-256 of the mailbox key.
    pub mailbox: String,
    pub relays: Vec<String>,
    /// Relays the owner still reads but senders must not post to: where an identity that
    /// moved keeps collecting what was sent before the move. Optional (absent when empty),
    /// so a card without it is byte for byte what older pigeons made; they ignore it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub draining: Vec<String>,
    /// Grows with every new card; a lower or equal one never replaces a stored card.
    pub seq: u64,
    pub issued: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// Base64 signature: Ed25519 (kind `age`) or an OpenPGP detached signature (kind `pgp`).
    #[serde(default)]
    pub sig: String,
}

fn card_type() -> String {
    "card".into()
}

/// An attachment inside a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub media_type: String,
    pub size: u64,
    /// The file's bytes, standard base64.
    pub data: String,
}

/// The inner message: what the sender signs (exactly these bytes) and encrypts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inner {
    #[serde(default = "v1")]
    pub v: u32,
    pub id: String,
    /// Sender fingerprint.
    pub from: String,
    /// Recipient fingerprints.
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Sender's clock, unix seconds.
    pub ts: u64,
    /// `text`, `file`, `membership`, …
    pub kind: String,
    #[serde(default)]
    pub body: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<Attachment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// Canonical bytes of a JSON value: keys sorted, no insignificant white space.
pub fn canonical_json(value: &serde_json::Value) -> Vec<u8> {
    // serde_json's Map is a BTreeMap (no `preserve_order`), so keys come out sorted.
    serde_json::to_vec(value).expect("a Value always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn golden_envelope_and_replies() {
        let e = Envelope {
            v: 1,
            id: "00112233445566778899aabbccddeeff".into(),
            payload: "aGk=".into(),
            ttl: Some(60),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"v":1,"id":"00112233445566778899aabbccddeeff","payload":"aGk=","ttl":60})
        );
        let back: Envelope =
            serde_json::from_value(json!({"id":"ab","payload":"","extra":true})).unwrap();
        assert_eq!(back.v, 1);
        assert_eq!(back.ttl, None);
        assert_eq!(
            serde_json::to_value(PostReply {
                v: 1,
                seq: 7,
                duplicate: false
            })
            .unwrap(),
            json!({"v":1,"seq":7,"duplicate":false})
        );
        let err = ErrorReply {
            v: 1,
            error: ApiError {
                code: "too_large".into(),
                message: "body over 1 MiB".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(err).unwrap(),
            json!({"v":1,"error":{"code":"too_large","message":"body over 1 MiB"}})
        );
    }

    #[test]
    fn golden_batch_and_fetch() {
        let r = BatchReply {
            v: 1,
            results: vec![
                BatchResult {
                    status: 201,
                    seq: Some(3),
                    error: None,
                },
                BatchResult {
                    status: 507,
                    seq: None,
                    error: Some(ApiError {
                        code: "quota".into(),
                        message: "full".into(),
                    }),
                },
            ],
        };
        assert_eq!(
            serde_json::to_value(r).unwrap(),
            json!({"v":1,"results":[{"status":201,"seq":3},
                {"status":507,"error":{"code":"quota","message":"full"}}]})
        );
        let f = FetchReply {
            v: 1,
            envelopes: vec![StoredEnvelope {
                seq: 9,
                id: "ab".into(),
                payload: "cA==".into(),
                received: 100,
                expires: 200,
            }],
            more: true,
            instance: None,
        };
        assert_eq!(
            serde_json::to_value(f).unwrap(),
            json!({"v":1,"envelopes":[{"seq":9,"id":"ab","payload":"cA==","received":100,
                "expires":200}],"more":true})
        );
    }

    #[test]
    fn golden_card_and_inner() {
        let c: Card = serde_json::from_value(json!({
            "type":"card","v":1,"name":"alice","kind":"age","fingerprint":"f",
            "age":"age1x","mailbox_key":"00","mailbox":"m","relays":["http://r"],
            "seq":2,"issued":5,"sig":"s","future_field":1
        }))
        .unwrap();
        assert_eq!(c.name, "alice");
        assert_eq!(c.pgp, None);
        assert!(c.draining.is_empty());
        let mut v = serde_json::to_value(&c).unwrap();
        assert!(
            v.get("draining").is_none(),
            "an empty draining list is left out"
        );
        v["draining"] = json!(["http://old"]);
        let d: Card = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(d.draining, vec!["http://old".to_string()]);
        assert_eq!(serde_json::to_value(&d).unwrap(), v);
        let i = Inner {
            v: 1,
            id: "i".into(),
            from: "a".into(),
            to: vec!["b".into()],
            group: None,
            ts: 1,
            kind: "text".into(),
            body: "hi".into(),
            files: vec![],
            reply_to: None,
        };
        assert_eq!(
            serde_json::to_value(i).unwrap(),
            json!({"v":1,"id":"i","from":"a","to":["b"],"ts":1,"kind":"text","body":"hi"})
        );
    }

    #[test]
    fn sign_request_headers_verify_and_nonces_differ() {
        use base64::Engine as _;
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let h = sign_request(&key, "GET", "r:1", "/v1/mailboxes/m", "after=3", 1000);
        let get = |name: &str| h.iter().find(|(k, _)| *k == name).unwrap().1.clone();
        assert_eq!(get(HDR_KEY), hex::encode(key.verifying_key().as_bytes()));
        assert_eq!(get(HDR_TIME), "1000");
        assert!(is_message_id(&get(HDR_NONCE)));
        let sig = base64::engine::general_purpose::STANDARD
            .decode(get(HDR_SIG))
            .unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        let msg = request_signing_bytes(
            "GET",
            "r:1",
            "/v1/mailboxes/m",
            "after=3",
            1000,
            &get(HDR_NONCE),
        );
        key.verifying_key().verify_strict(&msg, &sig).unwrap();
        let other = request_signing_bytes(
            "GET",
            "r:1",
            "/v1/mailboxes/m",
            "after=4",
            1000,
            &get(HDR_NONCE),
        );
        assert!(key.verifying_key().verify_strict(&other, &sig).is_err());
        let other = request_signing_bytes(
            "GET",
            "r:2",
            "/v1/mailboxes/m",
            "after=3",
            1000,
            &get(HDR_NONCE),
        );
        assert!(key.verifying_key().verify_strict(&other, &sig).is_err());
        let h2 = sign_request(&key, "GET", "r:1", "/v1/mailboxes/m", "after=3", 1000);
        assert_ne!(h2[2].1, get(HDR_NONCE));
    }

    #[test]
    fn mailbox_id_is_sha256_hex_and_signing_bytes_are_stable() {
        let id = mailbox_id(&[0u8; 32]);
        assert_eq!(
            id,
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        assert!(is_mailbox_id(&id));
        assert!(!is_mailbox_id("ABC"));
        assert_eq!(
            request_signing_bytes("GET", "pi:7447", "/v1/mailboxes/x", "after=1", 5, "n"),
            b"pigeon-request-v1\nGET\npi:7447\n/v1/mailboxes/x\nafter=1\n5\nn".to_vec()
        );
        assert_eq!(
            canonical_json(&json!({"b":1,"a":[2]})),
            br#"{"a":[2],"b":1}"#.to_vec()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Tracker (docs/protocol.md, "Tracker")
// ---------------------------------------------------------------------------------------

/// The answer to `PUT /v1/cards/{fingerprint}`: 201 with `stored` true for a new card or a
/// higher `seq`, 200 with `stored` false for the very card already held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardPutReply {
    pub v: u32,
    pub stored: bool,
    /// The seq held now.
    pub seq: u64,
}

/// The answer to a signed `DELETE /v1/names/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseReply {
    pub v: u32,
    pub released: bool,
}

/// `GET /v1/cards?after=CURSOR&limit=N`: cards in the tracker's arrival order, each exactly
/// as it was published; pass `next` back as `after` for the following page.
#[derive(Debug, Serialize, Deserialize)]
pub struct CardPage {
    pub v: u32,
    pub cards: Vec<Box<serde_json::value::RawValue>>,
    pub next: u64,
}

/// One relay a tracker knows: named in a stored card (`source` "card") or announced by
/// the relay itself ("announce"), last seen at unix time `seen`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownRelay {
    pub url: String,
    pub source: String,
    pub seen: u64,
}

/// `GET /v1/relays`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayList {
    pub v: u32,
    pub relays: Vec<KnownRelay>,
}

/// `POST /v1/relays`: a relay announces the URL clients reach it by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayAnnounce {
    pub v: u32,
    pub url: String,
}

/// `GET /v1/info` of a tracker on its own (a relay with a tracker mounted answers
/// [`RelayInfo`] with `tracker` true).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackerInfo {
    pub v: u32,
    /// Always `pigeon-tracker`.
    pub name: String,
    pub version: String,
    /// The trackers it mirrors cards with.
    pub peers: Vec<String>,
    pub max_card_bytes: u64,
    /// How publishing is admitted: `open` or `password`.
    pub admission: String,
    /// The longest a card may still be valid when it arrives, in seconds (`--max-lifetime`):
    /// a card without `expires`, or expiring later, is refused. Absent from trackers that
    /// took cards without `expires`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_card_lifetime: Option<u64>,
}

#[cfg(test)]
mod tracker_golden {
    use super::*;
    use serde_json::json;

    #[test]
    fn tracker_bodies() {
        let put = CardPutReply {
            v: 1,
            stored: true,
            seq: 3,
        };
        assert_eq!(
            serde_json::to_value(put).unwrap(),
            json!({"v":1,"stored":true,"seq":3})
        );
        let rel = ReleaseReply {
            v: 1,
            released: true,
        };
        assert_eq!(
            serde_json::to_value(rel).unwrap(),
            json!({"v":1,"released":true})
        );
        let raw = serde_json::value::RawValue::from_string(r#"{"type":"card", "v":1}"#.into());
        let page = CardPage {
            v: 1,
            cards: vec![raw.unwrap()],
            next: 7,
        };
        // Cards go out byte for byte as published (note the space kept inside).
        assert_eq!(
            serde_json::to_string(&page).unwrap(),
            r#"{"v":1,"cards":[{"type":"card", "v":1}],"next":7}"#
        );
        let list = RelayList {
            v: 1,
            relays: vec![KnownRelay {
                url: "https://r.example".into(),
                source: "announce".into(),
                seen: 9,
            }],
        };
        assert_eq!(
            serde_json::to_value(list).unwrap(),
            json!({"v":1,"relays":[{"url":"https://r.example","source":"announce","seen":9}]})
        );
        let ann: RelayAnnounce =
            serde_json::from_value(json!({"v":1,"url":"http://pi.local:7447"})).unwrap();
        assert_eq!(ann.url, "http://pi.local:7447");
        let info = TrackerInfo {
            v: 1,
            name: "pigeon-tracker".into(),
            version: "0.1.0".into(),
            peers: vec!["http://t2".into()],
            max_card_bytes: 65536,
            admission: "open".into(),
            max_card_lifetime: Some(65_664_000),
        };
        assert_eq!(
            serde_json::to_value(info).unwrap(),
            json!({"v":1,"name":"pigeon-tracker","version":"0.1.0","peers":["http://t2"],
                "max_card_bytes":65536,"admission":"open","max_card_lifetime":65_664_000})
        );
        // A tracker from before the field: it took cards without `expires`.
        let old: TrackerInfo = serde_json::from_value(json!({"v":1,"name":"pigeon-tracker",
            "version":"0.1.0","peers":[],"max_card_bytes":65536,"admission":"open"}))
        .unwrap();
        assert_eq!(old.max_card_lifetime, None);
    }
}
