//! Learned routes: BGP's Loc-RIB changes, filtered and programmed into the kernel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ipnet::Ipv4Net;
use tracing::{debug, warn};

use crate::dataplane::{execute, LearnedRoute, LearnedRoutes};

/// How long routes left by a previous run are kept before they are reconciled away.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);
use crate::kernel::{Kernel, RTPROT_BGP};
use crate::metrics::{Metrics, RouteKind};

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
    metrics: Arc<Metrics>,
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
        // Learned routes with several next hops, kept as routes change (for the metrics).
        let mut ecmp = 0usize;
        loop {
            let change = tokio::select! {
                c = changes.recv() => match c {
                    Some(c) => c,
                    None => return,
                },
                _ = &mut cleanup, if !cleaned => {
                    cleaned = true;
                    remove_stale(kernel.as_ref(), &routes, &metrics).await;
                    continue;
                }
            };
            // Overlapping a block we hold: raised as a conflict, never imported.
            let before = conflicts.count();
            let conflict =
                conflicts.observe(change.prefix, &change.next_hops, super::handler::now());
            if conflicts.count() > before {
                metrics.ipam_block_conflict();
            }
            if conflict {
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
            let multi = |r: &LearnedRoutes| r.next_hops(prefix).is_some_and(|h| h.len() > 1);
            let was_ecmp = multi(&routes);
            let ops = routes.apply(&LearnedRoute { prefix, next_hops });
            match (was_ecmp, multi(&routes)) {
                (false, true) => ecmp = ecmp.saturating_add(1),
                (true, false) => ecmp = ecmp.saturating_sub(1),
                _ => {}
            }
            if let Err(e) = execute(kernel.as_ref(), &ops).await {
                metrics.route_programming_error();
                warn!(prefix = %change.prefix, error = %e, "programming learned route");
            }
            counter.installed.store(routes.len(), Ordering::Relaxed);
            metrics.routes_installed(RouteKind::Learned, routes.len().saturating_sub(ecmp));
            metrics.routes_installed(RouteKind::Ecmp, ecmp);
        }
    });
    learned
}

/// Delete `proto bgp` routes that no session re-announced since start.
async fn remove_stale(kernel: &dyn Kernel, routes: &LearnedRoutes, metrics: &Metrics) {
    metrics.reconcile_run();
    let actual = match kernel.routes(RTPROT_BGP).await {
        Ok(a) => a,
        Err(e) => {
            metrics.reconcile_error();
            return warn!(error = %e, "listing routes for stale cleanup");
        }
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
        metrics.reconcile_repairs("route", ops.len() as u64);
        if let Err(e) = execute(kernel, &ops).await {
            metrics.reconcile_error();
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
