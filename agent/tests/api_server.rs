//! The API server over a real unix socket with a fake handler: good requests, bad input, limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use agent::api::server::{bind, serve, Handler, MAX_REQUEST_LEN};
use api::client::call;
use api::proto::{ApiError, Reply, Request};
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

struct Echo;

impl Handler for Echo {
    fn handle(&self, req: Request) -> BoxFuture<'_, Reply> {
        async move {
            match req {
                Request::Detach { container_id, .. } => Reply::Error(ApiError {
                    kind: "not_found".into(),
                    message: container_id,
                }),
                _ => Reply::List {
                    attachments: vec![],
                },
            }
        }
        .boxed()
    }
}

async fn raw(path: &std::path::Path, bytes: &[u8]) -> Vec<String> {
    let stream = UnixStream::connect(path).await.unwrap();
    let (r, mut w) = stream.into_split();
    w.write_all(bytes).await.unwrap();
    w.shutdown().await.unwrap();
    let mut lines = BufReader::new(r).lines();
    let mut out = vec![];
    while let Ok(Some(l)) = lines.next_line().await {
        out.push(l);
    }
    out
}

#[tokio::test]
async fn serves_requests_and_survives_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/lattice.sock");
    let listener = bind(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, Arc::new(Echo), async {
        let _ = stop_rx.await;
    }));

    assert_eq!(
        call(&path, &Request::List).await.unwrap(),
        Reply::List {
            attachments: vec![]
        }
    );

    // Several requests on one connection, with garbage in between: each line gets its answer.
    let answers = raw(
        &path,
        b"{\"op\":\"list\"}\nnot json\n{\"op\":\"explode\"}\n{\"op\":\"detach\",\"container_id\":\"c9\"}\n",
    )
    .await;
    assert_eq!(answers.len(), 4, "{answers:?}");
    assert!(answers[1].contains("bad_request"));
    assert!(answers[2].contains("bad_request"));
    assert!(answers[3].contains("not_found") && answers[3].contains("c9"));

    // An oversized line is refused and the connection closed; the server keeps serving.
    let mut huge = vec![b'x'; MAX_REQUEST_LEN + 10];
    huge.push(b'\n');
    let answers = raw(&path, &huge).await;
    assert_eq!(answers.len(), 1);
    assert!(answers[0].contains("longer than"));
    assert!(call(&path, &Request::Status).await.is_ok());

    stop_tx.send(()).unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn a_stale_socket_is_replaced_but_a_live_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lattice.sock");
    let live = bind(&path).unwrap();
    assert!(
        bind(&path).is_err(),
        "a second agent must not steal a live socket"
    );
    drop(live);
    assert!(
        bind(&path).is_ok(),
        "a stale socket left by a crash is replaced"
    );
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    assert!(bind(&file).is_err(), "a regular file is never removed");
}

#[tokio::test]
async fn client_reports_a_missing_agent_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let err = call(&dir.path().join("none.sock"), &Request::Status)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("latticed is not running"), "{err}");
    assert!(err.to_string().contains("none.sock"), "{err}");

    // A file that is not a socket (or a socket nobody listens on) is refused, not a hang.
    let plain = dir.path().join("plain");
    std::fs::write(&plain, b"x").unwrap();
    let err = call(&plain, &Request::Status).await.unwrap_err();
    assert!(err.to_string().contains("plain"), "{err}");
}
