//! A small async client for the local API.

use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::proto::{Reply, Request};

/// Failure to talk to latticed (not a failed request: that is [`Reply::Error`]).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be opened.
    #[error(
        "cannot connect to latticed at {path}: {source} (is latticed running, and are you root?)"
    )]
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
