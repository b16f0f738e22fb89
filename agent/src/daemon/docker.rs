//! Starting the Docker remote driver beside the API when `docker.enabled` is set (the default).
//!
//! The driver is an extra: a host without Docker, a read-only `/run/docker`, or a plugin socket
//! already served by another latticed must not keep this one from routing its containers. So a
//! socket that cannot be bound is a warning naming the path and the reason, and latticed runs
//! on without the driver (`docker.enabled: false` silences it).

use std::sync::Arc;

use ipnet::{Ipv4Net, Ipv6Net};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::AgentHandler;
use crate::config::Config;
use crate::docker::endpoints::{self, EndpointStore};
use crate::docker::{AgentBackend, Driver};
use crate::kernel::Kernel;

/// Bind `docker.socket` and serve the driver until `stop` turns true; `None` (logged) when
/// the socket cannot be bound.
pub fn spawn(
    config: &Config,
    handler: Arc<AgentHandler>,
    kernel: Arc<dyn Kernel>,
    block: Ipv4Net,
    block_v6: Option<Ipv6Net>,
    mtu: u32,
    mut stop: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let path = &config.docker.socket;
    let listener = match crate::api::server::bind(path) {
        Ok(l) => l,
        Err(e) => {
            warn!(
                socket = %path.display(),
                error = %e,
                "docker.socket: cannot serve the Docker driver; running without it (set docker.enabled: false to silence)"
            );
            return None;
        }
    };
    info!(socket = %path.display(), "serving the Docker network and IPAM driver");
    let metrics = handler.metrics.clone();
    let backend = AgentBackend::new(handler, kernel, block, block_v6, mtu);
    let store = EndpointStore::at(config.ipam.state_dir.join(endpoints::FILE));
    let driver = Arc::new(
        Driver::new(Box::new(backend))
            .with_metrics(metrics)
            .with_store(store),
    );
    Some(tokio::spawn(crate::docker::server::serve(
        listener,
        driver,
        async move {
            let _ = stop.wait_for(|s| *s).await;
        },
    )))
}
