//! Accepting connections: the connection limits (all and per source), TCP_NODELAY, the
//! header read timeout (which also ends idle keep-alive connections), the write timeout, and
//! the checks every request passes before routing (block, lockout, rate).
//!
//! axum's own `serve` does not expose hyper's header timeout or a connection limit, so the
//! relay drives hyper's HTTP/1 connection itself and hands each request to the router.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
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
use super::limits::Peer;
use super::reply::{ApiErr, RejectCode};
use super::routes::route_name;
use super::source;
use super::timed_io::TimedIo;

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
        // Trusted proxies carry many clients each: only other sources have a cap.
        let slot = if app
            .cfg
            .trusted_proxies
            .iter()
            .any(|c| c.contains(addr.ip()))
        {
            Some(None)
        } else {
            app.conns_per_source
                .take(Peer::from_ip(addr.ip()), app.cfg.max_connections_per_source)
                .map(Some)
        };
        let permit = match (slot, conns.clone().try_acquire_owned()) {
            (Some(slot), Ok(permit)) => Some((slot, permit)),
            _ => None,
        };
        let Some((slot, permit)) = permit else {
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
            drop(slot);
            drop(permit);
        });
    }
}

/// A short 503 for a connection over the limit, so the client gets an answer.
async fn refuse(stream: TcpStream) {
    let body = r#"{"v":1,"error":{"code":"busy","message":"too many connections; try again"}}"#;
    let msg = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         x-content-type-options: nosniff\r\nretry-after: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
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

/// Open connections per source address, for `max_connections_per_source`.
#[derive(Default)]
pub struct PerSource {
    open: Arc<Mutex<HashMap<Peer, u32>>>,
}

/// One connection's place in [`PerSource`], given back on drop.
pub struct Slot {
    open: Arc<Mutex<HashMap<Peer, u32>>>,
    peer: Peer,
}

impl PerSource {
    /// A place for one more connection from `peer`; `None` when it has `cap` open.
    pub fn take(&self, peer: Peer, cap: u32) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(peer).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            open: self.open.clone(),
            peer,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.peer);
            }
        }
    }
}

/// Aborts the task when dropped: hyper drops a request's future when its client goes away,
/// and the handler (a long poll, say) must stop with it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn serve_connection(
    stream: TcpStream,
    addr: SocketAddr,
    app: Arc<App>,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let ip = addr.ip();
    let svc_app = app.clone();
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (app, router) = (svc_app.clone(), router.clone());
        async move { Ok::<_, Infallible>(handle(app, ip, router, req).await) }
    });
    let io = TimedIo::new(stream, app.cfg.write_timeout);
    let timed_out = io.timed_out.clone();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(app.cfg.header_timeout)
        .keep_alive(true)
        // Headers beyond this are refused (431): no request here needs more than a few KiB.
        .max_buf_size(64 * 1024);
    let conn = builder.serve_connection(TokioIo::new(io), svc);
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
    if timed_out.load(std::sync::atomic::Ordering::Relaxed) {
        app.metrics.write_timeouts.inc();
    }
}

/// Every request: metrics, the source's gate (blocked, locked out), its rate, then routing.
async fn handle(
    app: Arc<App>,
    ip: IpAddr,
    router: Router,
    req: Request<Incoming>,
) -> Response<Body> {
    let peer = Peer::from_ip(source::client_ip(
        ip,
        req.headers(),
        &app.cfg.trusted_proxies,
    ));
    let route = route_name(req.method(), req.uri().path());
    app.metrics.request(route);
    let now = Instant::now();
    // A lockout stops what it was earned by (posting with a password or token: see
    // `routes::admit`; signing with one key: `mailbox::signed`), not the source's signed
    // reads: those prove themselves, and behind a NAT belong to other people. A block
    // (the operator's decision, or lockouts over and over) stops everything.
    let refused = if app.admission.is_blocked(peer) {
        Some(ApiErr::new(
            StatusCode::FORBIDDEN,
            "blocked",
            "this address is blocked; ask the relay's operator",
        ))
    } else {
        app.rate.check(peer, now).err().map(|secs| {
            ApiErr::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; slow down",
            )
            .retry_after(secs)
        })
    };
    let mut resp = match refused {
        Some(e) => e.into_response(),
        None => {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(peer);
            // Its own task, so a bug that panics in a handler still gets the client an
            // answer instead of a dropped connection.
            let mut task = AbortOnDrop(tokio::spawn(router.oneshot(req)));
            match (&mut task.0).await {
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
    // Here, so every answer has it (the relay's, the tracker's, refusals, the router's own
    // 404 and 405): a browser must never read a JSON body (names, cards, error messages
    // quoting input) as HTML or script.
    resp.headers_mut().insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    resp
}
