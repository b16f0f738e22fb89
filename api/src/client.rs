//! A small async client for the local API.

use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::proto::{Reply, Request};

/// Failure to talk to latticed (not a failed request: that is [`Reply::Error`]).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be opened; the message says what the operator can do about it.
    #[error("{}", connect_message(path, source))]
    Connect {
        /// Socket path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Reading or writing failed mid-way.
    #[error("talking to latticed: {0}")]
    Io(#[from] std::io::Error),
    /// latticed closed the connection without answering.
    #[error("latticed closed the connection without a reply")]
    NoReply,
    /// The reply was not valid JSON for [`Reply`].
    #[error("latticed sent a reply this client does not understand: {0}")]
    BadReply(#[from] serde_json::Error),
}

/// What to tell the operator for each way connecting can fail.
fn connect_message(path: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => format!(
            "latticed is not running: no socket at {path} (or api.socket points elsewhere: \
             use --socket or LATTICE_SOCKET)"
        ),
        ErrorKind::PermissionDenied => format!(
            "permission denied on {path}: latticed's socket is root-only (mode 0600), run as root"
        ),
        ErrorKind::ConnectionRefused => format!(
            "latticed is not running: nothing answers at {path} (a socket left by a previous run)"
        ),
        _ => format!("cannot connect to latticed at {path}: {e} (is latticed running?)"),
    }
}

/// Send one request and wait for its reply.
pub async fn call(socket: &Path, request: &Request) -> Result<Reply, ClientError> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|source| ClientError::Connect {
            path: socket.display().to_string(),
            source,
        })?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    write.flush().await?;
    let mut reader = BufReader::new(read);
    let mut answer = String::new();
    if reader.read_line(&mut answer).await? == 0 {
        return Err(ClientError::NoReply);
    }
    Ok(serde_json::from_str(answer.trim_end())?)
}

#[cfg(test)]
mod tests {
    use super::connect_message;
    use std::io::{Error, ErrorKind};

    #[test]
    fn each_connect_failure_says_what_to_do() {
        let m = |k| connect_message("/run/lattice/lattice.sock", &Error::from(k));
        assert!(m(ErrorKind::NotFound).starts_with("latticed is not running: no socket at"));
        assert!(m(ErrorKind::PermissionDenied).contains("run as root"));
        assert!(m(ErrorKind::ConnectionRefused).contains("nothing answers"));
        assert!(m(ErrorKind::TimedOut).contains("is latticed running?"));
    }
}
