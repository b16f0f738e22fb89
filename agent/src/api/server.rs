//! Serving the local API: one task per connection, one JSON request per line.

use std::future::Future;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use api::proto::{ApiError, Reply, Request};
use futures::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tracing::{debug, warn};

/// Longest request line accepted; a longer one is refused and the connection closed.
pub const MAX_REQUEST_LEN: usize = 64 * 1024;

/// What answers API requests (the daemon; a fake in tests).
pub trait Handler: Send + Sync + 'static {
    /// Answer one request.
    fn handle(&self, req: Request) -> BoxFuture<'_, Reply>;
}

/// Bind the API socket at `path`, owner-only (0600), replacing a stale socket file.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            // A live agent answers; a stale socket from a crash refuses the connection.
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("{} is served by another running latticed", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ))
        }
        Err(_) => {}
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Accept connections until `shutdown` resolves.
pub async fn serve(
    listener: UnixListener,
    handler: Arc<dyn Handler>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, handler.clone()));
                }
                Err(e) => {
                    warn!(error = %e, "api accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
}

async fn connection(stream: UnixStream, handler: Arc<dyn Handler>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limited = (&mut reader).take(MAX_REQUEST_LEN as u64 + 1);
        tokio::pin!(limited);
        let n = match limited.read_until(b'\n', &mut line).await {
            Ok(n) => n,
            Err(e) => {
                debug!(error = %e, "api read failed");
                return;
            }
        };
        if n == 0 {
            return;
        }
        let too_long = line.len() > MAX_REQUEST_LEN;
        let reply = if too_long {
            bad_request(format!("request longer than {MAX_REQUEST_LEN} bytes"))
        } else {
            match serde_json::from_slice::<Request>(trim_newline(&line)) {
                Ok(req) => handler.handle(req).await,
                Err(e) => bad_request(format!("not a valid request: {e}")),
            }
        };
        if send(&mut write, &reply).await.is_err() || too_long {
            return;
        }
    }
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, reply: &Reply) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write.write_all(&bytes).await
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn bad_request(message: String) -> Reply {
    Reply::Error(ApiError {
        kind: "bad_request".into(),
        message,
    })
}
