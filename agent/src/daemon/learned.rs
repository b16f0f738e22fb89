//! Learned routes: BGP's Loc-RIB changes, filtered, batched and handed to the reconciler.

use std::collections::BTreeMap;
use std::sync::Arc;

use ipnet::IpNet;
use tokio::sync::mpsc;
use tracing::debug;

use super::clock::Clock;
use super::conflicts::Conflicts;
use crate::dataplane::LearnedRoute;
use crate::kernel::NextHop;

/// A RIB next hop as a kernel gateway: a link-local one on its interface.
pub fn kernel_hop(hop: bgp::rib::NextHop) -> NextHop {
    NextHop {
        gateway: hop.address,
        ifindex: hop.ifindex,
    }
}

/// Most changes handed over in one batch (one pipelined netlink pass each).
const BATCH: usize = 4096;

/// Whether a learned prefix is in scope for the kernel: inside a cluster range (IPv4 or IPv6),
/// or a default route. Overlaps with our own blocks are decided by [`Conflicts`] first.
pub fn importable(prefix: IpNet, clusters: &[IpNet]) -> bool {
    prefix.prefix_len() == 0 || clusters.iter().any(|c| c.contains(&prefix))
}

/// Start the task that turns the speaker's route changes into batches for the reconciler;
/// conflicts are dated by `clock`.
pub fn spawn(
    clusters: Vec<IpNet>,
    conflicts: Arc<Conflicts>,
    clock: Arc<dyn Clock>,
    mut changes: bgp::driver::RouteChanges,
    to_reconciler: mpsc::Sender<Vec<LearnedRoute>>,
) {
    tokio::spawn(async move {
        loop {
            let Some(first) = changes.recv().await else {
                return;
            };
            // Later changes to a prefix supersede earlier ones within a batch.
            let mut batch = BTreeMap::new();
            batch.insert(first.prefix, first.next_hops);
            while batch.len() < BATCH {
                match changes.try_recv() {
                    Ok(c) => {
                        batch.insert(c.prefix, c.next_hops);
                    }
                    Err(_) => break,
                }
            }
            let now = clock.now();
            let mut routes = Vec::with_capacity(batch.len());
            for (prefix, hops) in batch {
                let next_hops: Vec<NextHop> = hops.iter().map(|h| kernel_hop(*h)).collect();
                let gateways: Vec<std::net::IpAddr> = hops.iter().map(|h| h.address).collect();
                // The own-block hook: a prefix overlapping a block we hold is raised as a
                // conflict and never imported (it would steal our containers' traffic).
                if conflicts.observe(prefix, &gateways, now) {
                    continue;
                }
                if !importable(prefix, &clusters) {
                    debug!(%prefix, "not imported: outside the cluster ranges");
                    continue;
                }
                routes.push(LearnedRoute { prefix, next_hops });
            }
            if routes.is_empty() {
                continue;
            }
            if to_reconciler.send(routes).await.is_err() {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn imports_cluster_prefixes_and_default_only() {
        let cluster = [n("10.244.0.0/16"), n("fd00:244::/48")];
        assert!(importable(n("10.244.2.0/24"), &cluster));
        assert!(importable(n("0.0.0.0/0"), &cluster));
        assert!(importable(n("::/0"), &cluster));
        assert!(importable(n("10.244.0.0/16"), &cluster));
        assert!(!importable(n("192.168.0.0/24"), &cluster));
        assert!(importable(n("fd00:244:0:2::/64"), &cluster));
        assert!(!importable(n("2001:db8::/64"), &cluster));
    }

    #[test]
    fn our_own_blocks_are_conflicts_not_routes() {
        let conflicts = Conflicts::default();
        conflicts.set_blocks(vec![n("10.244.1.0/24"), n("fd00:244:0:1::/64")], &[], 0);
        let hop = ["10.0.0.2".parse().unwrap()];
        assert!(conflicts.observe(n("10.244.1.128/25"), &hop, 0));
        assert!(conflicts.observe(n("fd00:244:0:1::/64"), &hop, 0));
        assert!(!conflicts.observe(n("10.244.2.0/24"), &hop, 0));
    }
}
