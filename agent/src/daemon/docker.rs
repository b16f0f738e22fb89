//! Starting the Docker remote driver beside the API when `docker.enabled` is set.

use std::sync::Arc;

use ipnet::Ipv4Net;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use super::{AgentHandler, DaemonError};
use crate::config::Config;
use crate::docker::{AgentBackend, Driver};
use crate::kernel::Kernel;

/// Bind `docker.socket` and serve the driver until `stop` turns true.
pub fn spawn(
    config: &Config,
    handler: Arc<AgentHandler>,
    kernel: Arc<dyn Kernel>,
    block: Ipv4Net,
    mtu: u32,
    mut stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, DaemonError> {
    let path = &config.docker.socket;
    let listener = crate::api::server::bind(path).map_err(|source| DaemonError::Io {
        what: format!("docker.socket {}", path.display()),
        source,
    })?;
    info!(socket = %path.display(), "serving the Docker network and IPAM driver");
    let metrics = handler.metrics.clone();
    let backend = AgentBackend::new(handler, kernel, block, mtu);
    let driver = Arc::new(Driver::new(Box::new(backend)).with_metrics(metrics));
    Ok(tokio::spawn(crate::docker::server::serve(
        listener,
        driver,
        async move {
            let _ = stop.wait_for(|s| *s).await;
        },
    )))
}
