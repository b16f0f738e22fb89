//! latticed's wiring: config -> IPAM, kernel, BGP speaker and API, connected by channels.
//!
//! Nothing here decides anything on its own; the decisions live in the sans-IO cores
//! ([`ipam`], [`bgp::fsm`], [`bgp::rib`], [`crate::dataplane`]).

mod handler;
mod learned;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::api;
use crate::config::Config;
use crate::dataplane;
use crate::kernel::{Kernel, NetlinkKernel};

pub use handler::AgentHandler;

/// Why latticed could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The IPAM state could not be opened.
    #[error("ipam: {0}")]
    Ipam(#[from] ipam::IpamError),
    /// Talking to the kernel failed at start-up.
    #[error("kernel: {0}")]
    Kernel(#[from] crate::kernel::KernelError),
    /// Preparing the host's dataplane failed.
    #[error("dataplane: {0}")]
    Dataplane(#[from] dataplane::DataplaneError),
    /// A socket could not be bound.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Run latticed until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    let ipam = ipam::Ipam::open(&config.ipam_settings())?;
    let block = ipam.block();
    info!(node = %config.node.name, %block, "starting");

    let kernel: Arc<dyn Kernel> = Arc::new(NetlinkKernel::current().await?);
    dataplane::prepare_host(kernel.as_ref()).await?;
    dataplane::ensure_blackhole(kernel.as_ref(), block).await?;

    let listener = api::server::bind(&config.api.socket).map_err(|source| DaemonError::Io {
        what: format!("api.socket {}", config.api.socket.display()),
        source,
    })?;

    let (speaker, changes) = bgp::driver::Speaker::start(speaker_config(&config))
        .await
        .map_err(|source| DaemonError::Io {
            what: format!("bgp.listen {}", config.bgp.listen_addr()),
            source,
        })?;
    speaker.set_local_prefixes(vec![block]);

    let learned = learned::spawn(kernel.clone(), config.cluster.cidr, block, changes);
    let handler = Arc::new(AgentHandler::new(
        config.clone(),
        Mutex::new(ipam),
        kernel.clone(),
        speaker.clone(),
        learned.clone(),
    ));

    api::server::serve(listener, handler, shutdown).await;
    info!("shutting down: BGP sessions closed, kernel routes left in place");
    speaker.shutdown().await;
    if let Err(e) = std::fs::remove_file(&config.api.socket) {
        warn!(error = %e, "removing api socket");
    }
    Ok(())
}

fn speaker_config(config: &Config) -> bgp::driver::SpeakerConfig {
    bgp::driver::SpeakerConfig {
        local_as: config.node.asn,
        router_id: config.node.router_id,
        listen: Some(config.bgp.listen_addr()),
        peers: config
            .bgp
            .peers
            .iter()
            .map(|p| bgp::driver::PeerConfig {
                address: p.address,
                port: p.port,
                remote_as: p.asn,
                hold_time: p.hold_time,
                connect_retry: std::time::Duration::from_secs(u64::from(p.connect_retry)),
                passive: p.passive,
                local_address: p.local_address,
                keepalive: p.keepalive,
                // No import list: the safe default (RFC 8212's aim) of cluster range + default.
                import: match &p.import {
                    Some(rules) => bgp::policy::ImportPolicy {
                        rules: rules.clone(),
                    },
                    None => bgp::policy::ImportPolicy::cluster_default(&[config.cluster.cidr]),
                },
                export: p.export.clone(),
                max_prefixes: p.max_prefixes,
                allow_as_in: p.allow_as_in,
            })
            .collect(),
    }
}
