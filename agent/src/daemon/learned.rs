//! Learned routes: BGP's Loc-RIB changes, filtered and programmed into the kernel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ipnet::Ipv4Net;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{debug, warn};

use crate::dataplane::routes::{LearnedRoute, LearnedRoutes};
use crate::kernel::NetlinkKernel;

/// Counts what the learned-route task has installed, for `lattice status`.
#[derive(Debug, Default)]
pub struct Learned {
    installed: AtomicUsize,
}

impl Learned {
    /// Learned prefixes currently in the kernel.
    pub fn installed(&self) -> usize {
        self.installed.load(Ordering::Relaxed)
    }
}

/// Whether a learned prefix may enter the kernel: only the cluster range and the default route,
/// and never a prefix overlapping this host's own block (that would steal its traffic).
pub fn importable(prefix: Ipv4Net, cluster: Ipv4Net, own_block: Ipv4Net) -> bool {
    let in_scope = prefix.prefix_len() == 0 || cluster.contains(&prefix);
    let overlaps_own = own_block.contains(&prefix) || prefix.contains(&own_block);
    in_scope && !overlaps_own
}

/// Start the task that turns route changes into kernel routes.
pub fn spawn(
    kernel: Arc<NetlinkKernel>,
    cluster: Ipv4Net,
    own_block: Ipv4Net,
    mut changes: UnboundedReceiver<bgp::rib::RouteChange>,
) -> Arc<Learned> {
    let learned = Arc::new(Learned::default());
    let counter = learned.clone();
    tokio::spawn(async move {
        let mut routes = LearnedRoutes::default();
        while let Some(change) = changes.recv().await {
            if !importable(change.prefix, cluster, own_block) {
                debug!(prefix = %change.prefix, "not imported: outside the cluster range or overlapping our block");
                continue;
            }
            let ops = routes.apply(LearnedRoute { prefix: change.prefix, next_hops: change.next_hops });
            if let Err(e) = crate::dataplane::routes::execute(kernel.as_ref(), &ops).await {
                warn!(prefix = %change.prefix, error = %e, "programming learned route");
            }
            counter.installed.store(routes.len(), Ordering::Relaxed);
        }
    });
    learned
}

#[cfg(test)]
mod tests {
    use super::importable;

    #[test]
    fn imports_cluster_prefixes_and_default_only() {
        let cluster = "10.244.0.0/16".parse().unwrap();
        let own = "10.244.1.0/24".parse().unwrap();
        assert!(importable("10.244.2.0/24".parse().unwrap(), cluster, own));
        assert!(importable("0.0.0.0/0".parse().unwrap(), cluster, own));
        assert!(!importable("10.244.1.0/24".parse().unwrap(), cluster, own));
        assert!(!importable("10.244.1.128/25".parse().unwrap(), cluster, own));
        assert!(!importable("10.244.0.0/16".parse().unwrap(), cluster, own));
        assert!(!importable("192.168.0.0/24".parse().unwrap(), cluster, own));
    }
}
