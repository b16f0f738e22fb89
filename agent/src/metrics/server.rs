//! The `/metrics` HTTP endpoint: HTTP/1.1 on hyper, one task per connection, GET or HEAD only.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tracing::{debug, warn};

use super::Metrics;

/// The content type of the Prometheus text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// A client gets this long to send its request headers (a stalled one is dropped).
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Connections served at once; more wait in the kernel's backlog. Prometheus needs one.
const MAX_CONNECTIONS: usize = 32;
/// Read buffer per connection, so the largest request head accepted (a scrape's is a few
/// hundred bytes; hyper's minimum is 8 KiB).
const MAX_REQUEST_BUF: usize = 16 * 1024;

/// Serve `metrics` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        // Take a slot before accepting, so a flood of idle connections cannot grow without bound.
        let slot = tokio::select! {
            _ = &mut shutdown => return,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => return,
            },
        };
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, from)) => {
                    let metrics = metrics.clone();
                    tokio::spawn(async move {
                        let _slot = slot;
                        let service = hyper::service::service_fn(move |req| {
                            let metrics = metrics.clone();
                            async move { Ok::<_, Infallible>(answer(&req, &metrics)) }
                        });
                        let conn = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_TIMEOUT)
                            .max_buf_size(MAX_REQUEST_BUF)
                            .serve_connection(TokioIo::new(stream), service);
                        if let Err(e) = conn.await {
                            debug!(%from, error = %e, "metrics connection ended");
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "metrics accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
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
