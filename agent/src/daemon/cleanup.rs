//! `latticed --cleanup`: everything Lattice programmed in this namespace removed (containers
//! lose their network); IPAM state is kept.

use tracing::warn;

use super::attachments;
use super::error::DaemonError;
use crate::config::Config;
use crate::dataplane::{self, execute, RouteOp, RTPROT_LATTICE};
use crate::kernel::{Kernel, KernelResult, RTPROT_BGP};

/// `latticed --cleanup`: removes every route and host interface Lattice programmed in this
/// namespace, and the attachment records; IPAM state is kept. Returns (routes, links) removed.
pub async fn cleanup(config: &Config, kernel: &dyn Kernel) -> Result<(usize, usize), DaemonError> {
    let removed = remove_programmed(kernel).await?;
    let store = config.ipam.state_dir.join(attachments::FILE);
    if let Err(e) = std::fs::remove_file(&store) {
        if e.kind() != std::io::ErrorKind::NotFound {
            warn!(error = %e, "removing {}", store.display());
        }
    }
    Ok(removed)
}

/// Removes every route Lattice programmed (`proto lattice`, `proto bgp`) and every host
/// interface it created (`lat*`) from the namespace. Returns (routes, links).
pub(super) async fn remove_programmed(kernel: &dyn Kernel) -> KernelResult<(usize, usize)> {
    let mut routes = 0;
    for protocol in [RTPROT_BGP, RTPROT_LATTICE] {
        let ops: Vec<RouteOp> = kernel
            .routes(protocol)
            .await?
            .into_iter()
            .map(|r| RouteOp::Delete {
                destination: r.destination,
                protocol,
            })
            .collect();
        routes += ops.len();
        if let Err(e) = execute(kernel, &ops).await {
            warn!(error = %e, "removing routes");
        }
    }
    let mut links = 0;
    for link in kernel.links().await? {
        if is_lattice_link(&link.name) {
            match kernel.delete_link(link.index).await {
                Ok(()) => links += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) => warn!(link = %link.name, error = %e, "removing link"),
            }
        }
    }
    Ok((routes, links))
}

/// Host interfaces Lattice names: `lat` + 11 hex digits (veths), and the ipvlan host slave.
pub(super) fn is_lattice_link(name: &str) -> bool {
    let hex = name
        .strip_prefix("lat")
        .is_some_and(|t| t.len() == 11 && t.bytes().all(|b| b.is_ascii_hexdigit()));
    hex || name == dataplane::IPVLAN_HOST_IFNAME
}
