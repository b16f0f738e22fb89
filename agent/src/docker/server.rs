//! HTTP/1.1 over the plugin's unix socket: POST `/<Interface>.<Method>` with a JSON body.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::UnixListener;
use tracing::{debug, warn};

use super::driver::Driver;

/// Largest request body accepted; Docker's are a few hundred bytes.
pub const MAX_BODY: usize = 256 * 1024;

/// The media type of every plugin API answer.
const CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1.2+json";

/// Serve the remote driver on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: UnixListener,
    driver: Arc<Driver>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let driver = driver.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| answer(driver.clone(), req));
                        if let Err(e) = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await
                        {
                            debug!(error = %e, "docker plugin connection");
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "docker plugin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
}

async fn answer(
    driver: Arc<Driver>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::POST {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"Err": "the plugin API takes POST"}),
        ));
    }
    let path = req.uri().path().to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(reply(
                StatusCode::BAD_REQUEST,
                &json!({"Err": format!("lattice: reading the request body: {e}")}),
            ));
        }
    };
    debug!(%path, body = %String::from_utf8_lossy(&body), "docker plugin call");
    match driver.dispatch(&path, &body).await {
        Some(v) => {
            if let Some(err) = v.get("Err").or_else(|| v.get("Error")) {
                warn!(%path, error = %err, "docker plugin call failed");
            }
            Ok(reply(StatusCode::OK, &v))
        }
        None => Ok(reply(
            StatusCode::NOT_FOUND,
            &json!({"Err": format!("lattice: {path} is not a plugin API call")}),
        )),
    }
}

fn reply(status: StatusCode, v: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(v.to_string())));
    *resp.status_mut() = status;
    if let Ok(ct) = hyper::header::HeaderValue::from_str(CONTENT_TYPE) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, ct);
    }
    resp
}
