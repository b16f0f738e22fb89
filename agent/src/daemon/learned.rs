//! Learned routes: BGP's Loc-RIB changes, filtered and programmed into the kernel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ipnet::Ipv4Net;
use tracing::{debug, warn};

use crate::dataplane::{execute, LearnedRoute, LearnedRoutes};

/// How long routes left by a previous run are kept before they are reconciled away.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);
use crate::kernel::{Kernel, RTPROT_BGP};

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
/// and never our own block or a part of it (that would steal its traffic). A covering prefix
/// such as the default route is harmless: our blackhole and /32s are more specific.
pub fn importable(prefix: Ipv4Net, cluster: Ipv4Net, own_block: Ipv4Net) -> bool {
    let in_scope = prefix.prefix_len() == 0 || cluster.contains(&prefix);
    in_scope && !own_block.contains(&prefix)
}

/// Start the task that turns route changes into kernel routes.
pub fn spawn(
    kernel: Arc<dyn Kernel>,
    cluster: Ipv4Net,
    own_block: Ipv4Net,
    conflicts: Arc<super::conflicts::Conflicts>,
    mut changes: bgp::driver::RouteChanges,
) -> Arc<Learned> {
    let learned = Arc::new(Learned::default());
    let counter = learned.clone();
    tokio::spawn(async move {
        let mut routes = LearnedRoutes::new();
        routes.protect(own_block);
        // Routes a previous run installed stay (no traffic lost across a restart) until the
        // sessions have had time to re-learn them; then whatever nobody re-announced goes.
        let cleanup = tokio::time::sleep(STALE_AFTER);
        tokio::pin!(cleanup);
        let mut cleaned = false;
        loop {
            let change = tokio::select! {
                c = changes.recv() => match c {
                    Some(c) => c,
                    None => return,
                },
                _ = &mut cleanup, if !cleaned => {
                    cleaned = true;
                    remove_stale(kernel.as_ref(), &routes).await;
                    continue;
                }
            };
            // Overlapping a block we hold: raised as a conflict, never imported.
            if conflicts.observe(change.prefix, &change.next_hops, super::handler::now()) {
                continue;
            }
            // The dataplane carries IPv4 for now: IPv6 routes stay in the speaker's RIB.
            let ipnet::IpNet::V4(prefix) = change.prefix else {
                debug!(prefix = %change.prefix, "IPv6 route not programmed: no IPv6 dataplane yet");
                continue;
            };
            if !importable(prefix, cluster, own_block) {
                debug!(%prefix, "not imported: outside the cluster range or overlapping our block");
                continue;
            }
            let next_hops = change
                .next_hops
                .iter()
                .filter_map(|h| match h {
                    std::net::IpAddr::V4(a) => Some(*a),
                    std::net::IpAddr::V6(_) => None,
                })
                .collect();
            let ops = routes.apply(&LearnedRoute { prefix, next_hops });
            if let Err(e) = execute(kernel.as_ref(), &ops).await {
                warn!(prefix = %change.prefix, error = %e, "programming learned route");
            }
            counter.installed.store(routes.len(), Ordering::Relaxed);
        }
    });
    learned
}

/// Delete `proto bgp` routes that no session re-announced since start.
async fn remove_stale(kernel: &dyn Kernel, routes: &LearnedRoutes) {
    let actual = match kernel.routes(RTPROT_BGP).await {
        Ok(a) => a,
        Err(e) => return warn!(error = %e, "listing routes for stale cleanup"),
    };
    let ops: Vec<_> = routes
        .reconcile(&actual)
        .into_iter()
        .filter(|op| matches!(op, crate::dataplane::RouteOp::Delete { .. }))
        .collect();
    if !ops.is_empty() {
        tracing::info!(
            count = ops.len(),
            "removing learned routes nobody re-announced since start"
        );
        if let Err(e) = execute(kernel, &ops).await {
            warn!(error = %e, "removing stale routes");
        }
    }
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
        assert!(!importable(
            "10.244.1.128/25".parse().unwrap(),
            cluster,
            own
        ));
        assert!(importable("10.244.0.0/16".parse().unwrap(), cluster, own));
        assert!(!importable("192.168.0.0/24".parse().unwrap(), cluster, own));
    }
}
