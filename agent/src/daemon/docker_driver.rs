//! Serving the Docker remote driver beside the API, on the plugin socket [`Listeners`] got
//! (`docker.enabled`, the default; a socket that could not be had was a warning, not a failed
//! start: see [`Listeners::bind`]).
//!
//! [`Listeners`]: super::listeners::Listeners
//! [`Listeners::bind`]: super::listeners::Listeners::bind

use std::sync::Arc;

use ipnet::{Ipv4Net, Ipv6Net};
use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use super::handler::AgentHandler;
use super::listeners::socket_path;
use crate::config::Config;
use crate::docker::endpoints::{self, EndpointStore};
use crate::docker::{AgentBackend, Driver};
use crate::kernel::Kernel;

/// The host's blocks as Docker's pools, and the MTU of every endpoint.
#[derive(Debug, Clone, Copy)]
pub(super) struct DockerNetwork {
    /// The IPv4 pool: the host's primary block.
    pub block: Ipv4Net,
    /// The IPv6 pool of a dual-stack host.
    pub block_v6: Option<Ipv6Net>,
    /// MTU of both ends of every endpoint.
    pub mtu: u32,
}

/// Serve the driver on `listener` until `stop` turns true.
pub(super) fn spawn(
    listener: UnixListener,
    config: &Config,
    handler: Arc<AgentHandler>,
    kernel: Arc<dyn Kernel>,
    network: DockerNetwork,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    if let Some(path) = socket_path(&listener) {
        info!(socket = %path.display(), "serving the Docker network and IPAM driver");
    }
    let metrics = handler.metrics.clone();
    // A network is wired in the host's `dataplane.mode` unless it names its own; Docker moves
    // and configures the container side itself, only the host side is ours.
    let mode = (config.dataplane.mode, config.dataplane.parent.clone());
    let backend = AgentBackend::new(
        handler,
        kernel,
        mode,
        network.block,
        network.block_v6,
        network.mtu,
    );
    let store = EndpointStore::at(config.ipam.state_dir.join(endpoints::FILE));
    let driver = Arc::new(
        Driver::new(Box::new(backend))
            .with_metrics(metrics)
            .with_store(store),
    );
    tokio::spawn(crate::docker::server::serve(listener, driver, async move {
        let _ = stop.wait_for(|s| *s).await;
    }))
}
