//! Blocking calls to a latticed API socket (the client is async; the lab is not).

use std::path::Path;
use std::time::Duration;

use api::client;
use api::proto::{Reply, Request};

use crate::error::LabError;

/// Upper bound for one request.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Send one request and wait for its reply.
pub fn call(socket: &Path, request: &Request) -> Result<Reply, LabError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LabError::io("starting a tokio runtime"))?;
    rt.block_on(async {
        match tokio::time::timeout(CALL_TIMEOUT, client::call(socket, request)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(LabError::Failed(e.to_string())),
            Err(_) => Err(LabError::Failed(format!(
                "latticed at {} did not answer within {}s",
                socket.display(),
                CALL_TIMEOUT.as_secs()
            ))),
        }
    })
}
