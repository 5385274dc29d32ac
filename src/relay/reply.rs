//! Answers: JSON bodies, the error type every handler returns, and reading a request body
//! within the size, time and memory limits.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde::Serialize;
use tokio::sync::OwnedSemaphorePermit;

use super::App;
use crate::wire::{self, ApiError, BatchResult, ErrorReply};

/// How long a request waits for room in the body budget before it is turned away.
const BUDGET_PATIENCE: Duration = Duration::from_secs(2);

/// Marks a refusal for the metrics: the error code, read back by the request wrapper.
#[derive(Debug, Clone, Copy)]
pub struct RejectCode(pub &'static str);

/// A JSON answer with `status`.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// A refusal: status, stable code, message for people, and maybe `Retry-After`.
#[derive(Debug)]
pub struct ApiErr {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
    pub bearer: bool,
}

impl ApiErr {
    pub fn new(status: StatusCode, code: &'static str, message: &str) -> ApiErr {
        ApiErr {
            status,
            code,
            message: message.to_string(),
            retry_after: None,
            bearer: false,
        }
    }

    pub fn bad(message: &str) -> ApiErr {
        ApiErr::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400 unless a request body's `v` is the one version this server speaks.
    pub fn check_version(what: &str, v: u32) -> Result<(), ApiErr> {
        if v == crate::wire::V {
            return Ok(());
        }
        Err(ApiErr::bad(&format!(
            "{what} version {v} is not supported ({} is)",
            crate::wire::V
        )))
    }

    /// The writer is gone: the relay is stopping.
    pub fn unavailable(message: String) -> ApiErr {
        ApiErr::new(StatusCode::SERVICE_UNAVAILABLE, "busy", &message).retry_after(1)
    }

    pub fn retry_after(mut self, secs: u64) -> ApiErr {
        self.retry_after = Some(secs);
        self
    }

    /// Adds `WWW-Authenticate: Bearer`, as a 401 for posting should.
    pub fn bearer(mut self) -> ApiErr {
        self.bearer = true;
        self
    }

    pub fn as_batch_result(&self) -> BatchResult {
        BatchResult {
            status: self.status.as_u16(),
            seq: None,
            error: Some(ApiError {
                code: self.code.into(),
                message: self.message.clone(),
            }),
        }
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        let mut resp = json(
            self.status,
            &ErrorReply {
                v: wire::V,
                error: ApiError {
                    code: self.code.into(),
                    message: self.message,
                },
            },
        );
        let h = resp.headers_mut();
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.bearer {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp.extensions_mut().insert(RejectCode(self.code));
        resp
    }
}

/// Reads the whole body: at most `max_body` bytes (413), within `body_timeout` (408), and
/// only when the memory budget has room (503). The budget is taken as bytes arrive, not
/// from `Content-Length`: a client that announces a megabyte and sends nothing holds none
/// of it. The permit must live as long as the bytes.
pub async fn read_body(
    app: &App,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, OwnedSemaphorePermit), ApiErr> {
    let max = app.cfg.max_body;
    let too_large = || {
        ApiErr::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("the body is over this relay's limit of {max} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let busy = || {
        ApiErr::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the relay is busy; try again",
        )
        .retry_after(1)
    };
    let read = async {
        let mut permit = app
            .bodies
            .reserve(0, BUDGET_PATIENCE)
            .await
            .ok_or_else(busy)?;
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut len = 0usize;
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| ApiErr::bad(&format!("cannot read the request body: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if (len + data.len()) as u64 > max {
                return Err(too_large());
            }
            let more = app
                .bodies
                .reserve(data.len() as u64, BUDGET_PATIENCE)
                .await
                .ok_or_else(busy)?;
            permit.merge(more);
            len += data.len();
            chunks.push(data);
        }
        let bytes = match chunks.len() {
            1 => chunks.pop().unwrap_or_default(),
            _ => Bytes::from(chunks.concat()),
        };
        Ok((bytes, permit))
    };
    match tokio::time::timeout(app.cfg.body_timeout, read).await {
        Err(_) => Err(ApiErr::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the request body did not arrive in time",
        )),
        Ok(r) => r,
    }
}
