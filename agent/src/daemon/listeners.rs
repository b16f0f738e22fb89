//! The sockets latticed serves, bound before it starts (the `run(listener, shutdown)` shape of
//! mini-redis): [`Listeners::bind`] binds them from the configuration; a test binds its own
//! (in a temporary directory, on port 0) and hands them to `daemon::run`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, UnixListener};
use tracing::warn;

use super::error::DaemonError;
use crate::api;
use crate::config::Config;

/// Everything latticed listens on.
#[derive(Debug)]
pub struct Listeners {
    /// `api.socket`: the local API (CNI plugin, CLI, lab).
    pub api: UnixListener,
    /// `metrics.listen`, when `metrics.enabled`.
    pub metrics: Option<TcpListener>,
    /// `docker.socket`, when `docker.enabled` and the socket could be had.
    pub docker: Option<UnixListener>,
    /// Where the BGP speaker accepts sessions (`bgp.listen`; `None`: it only connects out).
    /// The speaker binds this one itself: a peer's TCP MD5 key has to be set on the socket
    /// between bind() and listen().
    pub bgp: Option<SocketAddr>,
}

impl Listeners {
    /// Bind what the configuration asks for. The API socket and the metrics listener are
    /// required; the Docker plugin socket is an extra: one that cannot be bound (served by
    /// another latticed, a read-only `/run/docker`) is a warning naming the path and the
    /// reason, and latticed runs on without the driver (`docker.enabled: false` silences it).
    pub async fn bind(config: &Config) -> Result<Listeners, DaemonError> {
        let api = api::server::bind(&config.api.socket).map_err(|source| DaemonError::Io {
            what: format!("api.socket {}", config.api.socket.display()),
            source,
        })?;
        let metrics = match config.metrics.enabled {
            true => match TcpListener::bind(config.metrics.listen).await {
                Ok(l) => Some(l),
                Err(source) => {
                    if let Some(path) = socket_path(&api) {
                        remove_socket(&path, "api");
                    }
                    return Err(DaemonError::Io {
                        what: format!("metrics.listen {}", config.metrics.listen),
                        source,
                    });
                }
            },
            false => None,
        };
        let docker = match config.docker.enabled {
            true => bind_docker(&config.docker.socket),
            false => None,
        };
        Ok(Listeners {
            api,
            metrics,
            docker,
            bgp: Some(config.bgp.listen_addr()),
        })
    }
}

fn bind_docker(path: &Path) -> Option<UnixListener> {
    match api::server::bind(path) {
        Ok(l) => Some(l),
        Err(e) => {
            warn!(
                socket = %path.display(),
                error = %e,
                "docker.socket: cannot serve the Docker driver; running without it (set docker.enabled: false to silence)"
            );
            None
        }
    }
}

/// The file a unix listener is bound to.
pub(super) fn socket_path(listener: &UnixListener) -> Option<PathBuf> {
    listener
        .local_addr()
        .ok()?
        .as_pathname()
        .map(Path::to_path_buf)
}

/// Remove the file of a socket we bound (never one we did not get); `what` names it in logs.
pub(super) fn remove_socket(path: &Path, what: &str) {
    if let Err(e) = std::fs::remove_file(path) {
        warn!(error = %e, path = %path.display(), "removing {what} socket");
    }
}
