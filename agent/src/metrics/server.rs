//! The `/metrics` HTTP endpoint: HTTP/1.1 on hyper, one task per connection, GET or HEAD only;
//! slow and idle clients give way to new ones ([`super::slots`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::slots::{ConnId, Slots};
use super::Metrics;

/// The content type of the Prometheus text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// A client gets this long to send its request headers (a stalled one is dropped).
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Connections held at once; a new one beyond takes the slot of the one quiet the longest.
/// Prometheus needs one.
pub const MAX_CONNECTIONS: usize = 32;
/// Read buffer per connection, so the largest request head accepted (a scrape's is a few
/// hundred bytes; hyper's minimum is 8 KiB).
const MAX_REQUEST_BUF: usize = 16 * 1024;

/// The connections held and how to close each one (shared by the accept loop and the
/// connection tasks).
#[derive(Default)]
struct Held {
    slots: Slots,
    close: HashMap<ConnId, oneshot::Sender<()>>,
}

impl Held {
    fn lock(held: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
        held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serve `metrics` on `listener` until `shutdown` resolves. At most [`MAX_CONNECTIONS`] are
/// held: a new one takes the slot of the one quiet the longest ([`Slots`]), so slow or idle
/// clients cannot keep a scrape out.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let held = Arc::new(Mutex::new(Held {
        slots: Slots::new(MAX_CONNECTIONS),
        close: HashMap::new(),
    }));
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, from)) => {
                    let (closed_tx, closed_rx) = oneshot::channel();
                    let id = {
                        let mut h = Held::lock(&held);
                        let (id, evict) = h.slots.admit();
                        if let Some(old) = evict {
                            // Dropping the sender wakes the quiet connection's task: it closes.
                            h.close.remove(&old);
                            debug!(%from, "metrics: every connection slot taken, the quietest closed");
                        }
                        h.close.insert(id, closed_tx);
                        id
                    };
                    tokio::spawn(connection(stream, from, id, metrics.clone(), held.clone(), closed_rx));
                }
                Err(e) => {
                    warn!(error = %e, "metrics accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Serve one connection until it ends or its slot is taken (`closed`).
async fn connection(
    stream: TcpStream,
    from: SocketAddr,
    id: ConnId,
    metrics: Arc<Metrics>,
    held: Arc<Mutex<Held>>,
    closed: oneshot::Receiver<()>,
) {
    let seen = held.clone();
    let service = hyper::service::service_fn(move |req| {
        Held::lock(&seen).slots.active(id);
        let metrics = metrics.clone();
        async move { Ok::<_, Infallible>(answer(&req, &metrics)) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_REQUEST_BUF)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        ended = conn => if let Err(e) = ended {
            debug!(%from, error = %e, "metrics connection ended");
        },
        _ = closed => debug!(%from, "metrics connection closed to make room"),
    }
    let mut h = Held::lock(&held);
    h.slots.gone(id);
    h.close.remove(&id);
}

/// The response to one request (no I/O: tested directly).
pub fn answer(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    route(req.method(), req.uri().path(), metrics)
}

fn route(method: &Method, path: &str, metrics: &Metrics) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match path {
        "/metrics" => {
            let mut r = Response::new(Full::new(Bytes::from(metrics.encode())));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
            r
        }
        "/" => plain(StatusCode::OK, "latticed: Prometheus metrics at /metrics\n"),
        _ => plain(StatusCode::NOT_FOUND, "not found: try /metrics\n"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_metrics_root_and_refuses_the_rest() {
        let m = Metrics::new(None).unwrap();
        let r = route(&Method::GET, "/metrics", &m);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_TYPE], TEXT_FORMAT);
        assert_eq!(route(&Method::GET, "/", &m).status(), StatusCode::OK);
        assert_eq!(
            route(&Method::GET, "/nope", &m).status(),
            StatusCode::NOT_FOUND
        );
        let post = route(&Method::POST, "/metrics", &m);
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[ALLOW], "GET, HEAD");
    }
}
