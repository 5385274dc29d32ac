//! `POST /v1/fanout`: one envelope for many mailboxes of one relay, sent and stored once.
//! A group message to a hundred members is one sealed payload; posting it through
//! `/v1/batch` repeats its bytes per mailbox on the wire and, on the relay, on disk.

use serde::{Deserialize, Serialize};

use super::{BatchResult, Envelope, v1};

/// One envelope and the mailboxes it goes to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutItem {
    pub mailboxes: Vec<String>,
    pub envelope: Envelope,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutRequest {
    #[serde(default = "v1")]
    pub v: u32,
    pub items: Vec<FanoutItem>,
}

/// Per item, per mailbox in request order: what `/v1/batch` would have answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutReply {
    #[serde(default = "v1")]
    pub v: u32,
    pub results: Vec<Vec<BatchResult>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_fanout() {
        let req: FanoutRequest = serde_json::from_str(
            r#"{"v":1,"items":[{"mailboxes":["aa","bb"],
                "envelope":{"v":1,"id":"0123456789abcdef0123456789abcdef","payload":"aGk=","ttl":60}}]}"#,
        )
        .unwrap();
        assert_eq!(req.items[0].mailboxes, ["aa", "bb"]);
        assert_eq!(req.items[0].envelope.ttl, Some(60));
        let reply = FanoutReply {
            v: 1,
            results: vec![vec![
                BatchResult {
                    status: 201,
                    seq: Some(7),
                    error: None,
                },
                BatchResult {
                    status: 200,
                    seq: Some(5),
                    error: None,
                },
            ]],
        };
        assert_eq!(
            serde_json::to_string(&reply).unwrap(),
            r#"{"v":1,"results":[[{"status":201,"seq":7},{"status":200,"seq":5}]]}"#
        );
    }
}
