//! The optional web client (`pigeon serve --web`): a static single-page app at `/`, built
//! from `web/src` by `web/build.mjs` and committed in `web/dist`, so `cargo build` needs no
//! Node.js. The page talks to this relay's `/v1` like the CLI does; the relay still sees only
//! envelopes. Everything is served with a strict Content-Security-Policy: the page loads
//! nothing but its own script and style, and frames and plugins are refused.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The page, its script and its style, as built (see `web/build.mjs`).
pub const INDEX_HTML: &str = include_str!("../../web/dist/index.html");
pub const APP_JS: &str = include_str!("../../web/dist/app.js");
pub const APP_CSS: &str = include_str!("../../web/dist/app.css");

/// Every file of the page by its path, for `pigeon web verify` to compare with a relay's.
pub const ASSETS: [(&str, &str); 3] = [
    ("/", INDEX_HTML),
    ("/app.js", APP_JS),
    ("/app.css", APP_CSS),
];

/// Nothing from outside the relay, no inline script or style, no frames, no plugins.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' blob: data:; manifest-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The web client's routes when `enabled`; otherwise `/` is a 404 that says how to turn
/// the page on (a person who opens the relay's address in a browser sees why it is empty).
pub fn routes<S: Clone + Send + Sync + 'static>(enabled: bool) -> Router<S> {
    if !enabled {
        return Router::new().route(
            "/",
            get(|| async {
                super::reply::ApiErr::new(
                    axum::http::StatusCode::NOT_FOUND,
                    "not_found",
                    "this pigeon relay serves no web client: its operator can turn one on with \
                     `pigeon serve --web`; the API is under /v1 (GET /v1/info)",
                )
            }),
        );
    }
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            // A new relay version may bring a new page: always revalidate.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
