//! Learned routes: BGP's Loc-RIB changes, filtered, batched and handed to the reconciler.

use std::collections::BTreeMap;

use ipnet::IpNet;
use tokio::sync::mpsc;
use tracing::debug;

use crate::dataplane::LearnedRoute;

/// Most changes handed over in one batch (one pipelined netlink pass each).
const BATCH: usize = 4096;

/// Whether a learned prefix may enter the kernel: only inside a cluster range, or the default
/// route, and never one of our own blocks or a part of it (that would steal its traffic). A
/// covering prefix such as the default route is harmless: our blackholes and /32s are more
/// specific.
pub fn importable(prefix: IpNet, clusters: &[IpNet], own_blocks: &[IpNet]) -> bool {
    let in_scope = prefix.prefix_len() == 0 || clusters.iter().any(|c| c.contains(&prefix));
    in_scope && !overlaps_own(prefix, own_blocks)
}

/// The hook for prefixes that fall inside one of our own blocks: another host announcing
/// addresses we hold. Never imported; the IPAM conflict tracker hangs off this check.
pub fn overlaps_own(prefix: IpNet, own_blocks: &[IpNet]) -> bool {
    let hit = own_blocks.iter().any(|b| b.contains(&prefix));
    if hit {
        debug!(%prefix, "learned prefix inside one of our blocks: not imported");
    }
    hit
}

/// Start the task that turns the speaker's route changes into batches for the reconciler.
pub fn spawn(
    clusters: Vec<IpNet>,
    own_blocks: Vec<IpNet>,
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
            let routes: Vec<LearnedRoute> = batch
                .into_iter()
                .filter(|(prefix, _)| importable(*prefix, &clusters, &own_blocks))
                .map(|(prefix, next_hops)| LearnedRoute { prefix, next_hops })
                .collect();
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
        let own = [n("10.244.1.0/24"), n("fd00:244:0:1::/64")];
        assert!(importable(n("10.244.2.0/24"), &cluster, &own));
        assert!(importable(n("0.0.0.0/0"), &cluster, &own));
        assert!(importable(n("::/0"), &cluster, &own));
        assert!(!importable(n("10.244.1.0/24"), &cluster, &own));
        assert!(!importable(n("10.244.1.128/25"), &cluster, &own));
        assert!(importable(n("10.244.0.0/16"), &cluster, &own));
        assert!(!importable(n("192.168.0.0/24"), &cluster, &own));
        assert!(importable(n("fd00:244:0:2::/64"), &cluster, &own));
        assert!(!importable(n("fd00:244:0:1::/64"), &cluster, &own));
        assert!(!importable(n("2001:db8::/64"), &cluster, &own));
    }
}
