//! Accepting connections: the connection limit, TCP_NODELAY, the header read timeout, and
//! the checks every request passes before routing (block, lockout, rate).
//!
//! axum's own `serve` does not expose hyper's header timeout or a connection limit, so the
//! relay drives hyper's HTTP/1 connection itself and hands each request to the router.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;

use super::App;
use super::admission::Gate;
use super::limits::Peer;
use super::reply::{ApiErr, RejectCode};
use super::routes::route_name;

/// Refusals of connections over the limit being written at once; past it they are dropped.
const MAX_REFUSALS: usize = 64;

/// Accepts until `stop` turns true. Each connection holds a permit of `conns` while open,
/// so shutdown can wait for them all by taking every permit back.
pub async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    router: Router,
    conns: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    loop {
        let (stream, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    eprintln!("pigeon relay: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = conns.clone().try_acquire_owned() else {
            app.metrics.connections_refused.inc();
            if let Ok(p) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(p);
                });
            }
            continue;
        };
        app.metrics.connections_total.inc();
        app.metrics.connections_open.inc();
        let (app, router, stop) = (app.clone(), router.clone(), stop.clone());
        tokio::spawn(async move {
            serve_connection(stream, addr, app.clone(), router, stop).await;
            app.metrics.connections_open.sub(1);
            drop(permit);
        });
    }
}

/// A short 503 for a connection over the limit, so the client gets an answer.
async fn refuse(stream: TcpStream) {
    let body = r#"{"v":1,"error":{"code":"busy","message":"too many connections; try again"}}"#;
    let msg = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut rest = msg.as_bytes();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while !rest.is_empty() && stream.writable().await.is_ok() {
            match stream.try_write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => break,
            }
        }
    })
    .await;
}

async fn serve_connection(
    stream: TcpStream,
    addr: SocketAddr,
    app: Arc<App>,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let peer = Peer::from_ip(addr.ip());
    let svc_app = app.clone();
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (app, router) = (svc_app.clone(), router.clone());
        async move { Ok::<_, Infallible>(handle(app, peer, router, req).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(app.cfg.header_timeout)
        .keep_alive(true)
        // Headers beyond this are refused (431): no request here needs more than a few KiB.
        .max_buf_size(64 * 1024);
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result
        && e.is_timeout()
    {
        app.metrics.header_timeouts.inc();
    }
}

/// Every request: metrics, the source's gate (blocked, locked out), its rate, then routing.
async fn handle(
    app: Arc<App>,
    peer: Peer,
    router: Router,
    req: Request<Incoming>,
) -> Response<Body> {
    let route = route_name(req.method(), req.uri().path());
    app.metrics.request(route);
    let now = Instant::now();
    let refused = match app.admission.gate(peer, now) {
        Err(Gate::Blocked) => Some(ApiErr::new(
            StatusCode::FORBIDDEN,
            "blocked",
            "this address is blocked; ask the relay's operator",
        )),
        Err(Gate::Locked(secs)) => Some(
            ApiErr::new(
                StatusCode::TOO_MANY_REQUESTS,
                "locked_out",
                &format!("too many failed attempts; locked out for {secs} s"),
            )
            .retry_after(secs),
        ),
        Ok(()) => match app.rate.check(peer, now) {
            Err(secs) => Some(
                ApiErr::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many requests; slow down",
                )
                .retry_after(secs),
            ),
            Ok(()) => None,
        },
    };
    let mut resp = match refused {
        Some(e) => e.into_response(),
        None => {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(peer);
            // Its own task, so a bug that panics in a handler still gets the client an
            // answer instead of a dropped connection.
            match tokio::spawn(router.oneshot(req)).await {
                Ok(Ok(r)) => r,
                Ok(Err(never)) => match never {},
                Err(e) => {
                    eprintln!("pigeon relay: a request handler failed: {e}");
                    ApiErr::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "internal error",
                    )
                    .into_response()
                }
            }
        }
    };
    if let Some(RejectCode(code)) = resp.extensions_mut().remove::<RejectCode>() {
        app.metrics.reject(code);
    }
    resp
}
