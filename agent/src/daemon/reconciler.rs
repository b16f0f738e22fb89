//! The reconciler's driver: owns the desired state, wires containers, programs learned routes
//! and keeps the kernel equal to the desired state.
//!
//! The desired state sits behind one lock, held by learned-route batches and repairs while they
//! program the kernel, so those never interleave. Container wiring is the exception: an attach or
//! detach holds it only to record the container, and does its netlink work (slow for a veth
//! deletion) outside, so the CNI calls of different containers overlap. A repair runs when a relevant netlink notification arrives
//! (after [`Timing::debounce`], so a burst costs one resync), on an overrun (`ENOBUFS`: events
//! were lost), and every [`Timing::resync`] regardless. Start-up is a resync too: what is already
//! right is adopted, nothing is flushed.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::Mutex;
use tracing::{info, warn};

use super::attachments;
use super::container_watch::{self, ContainerWatch};
use crate::dataplane::{
    self, diff, execute, ActualState, AttachInfo, AttachSpec, ContainerKey, DataplaneError,
    DesiredState, LearnedRoute, Reachability, ReconcileOp, RouteOp, Wiring, RTPROT_LATTICE,
};
use crate::kernel::{Kernel, KernelResult, RTPROT_BGP};
use crate::metrics::{Metrics, RouteKind};

/// How the reconciler paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Wait this long after a relevant event before resyncing (a burst costs one resync).
    pub debounce: Duration,
    /// Full resync period.
    pub resync: Duration,
    /// Learned routes of a previous run are kept this long after start (the sessions re-learn
    /// them meanwhile); after it, unannounced ones are removed.
    pub adopt_window: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            debounce: Duration::from_millis(100),
            resync: Duration::from_secs(30),
            adopt_window: Duration::from_secs(60),
        }
    }
}

/// Counters for status and tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Learned prefixes programmed.
    pub learned: AtomicUsize,
    /// Full resyncs done.
    pub resyncs: AtomicUsize,
    /// Operations resyncs had to apply (repairs, adoption fixes).
    pub repairs: AtomicUsize,
    /// Learned prefixes BGP chose that have no usable next hop, so are not in the kernel.
    pub not_installed: AtomicUsize,
}

/// The dataplane's single owner.
#[derive(Debug)]
pub struct Reconciler {
    kernel: Arc<dyn Kernel>,
    state: Mutex<Inner>,
    store: Option<PathBuf>,
    /// Counters.
    pub stats: Stats,
    /// Where runs, repairs, errors and installed routes are reported, once the daemon has it.
    metrics: std::sync::OnceLock<Arc<Metrics>>,
    /// Notifications from inside container namespaces (ipvlan: the host sees nothing there).
    watch: ContainerWatch,
}

#[derive(Debug)]
struct Inner {
    desired: DesiredState,
    reach: Reachability,
    /// Routes we just deleted: their `RTM_DELROUTE` echo is not someone else's doing.
    own_deletes: HashSet<IpNet>,
}

impl Reconciler {
    /// A reconciler for `blocks`, with the attachments recorded in `store` (if any) desired.
    pub fn new(kernel: Arc<dyn Kernel>, blocks: Vec<IpNet>, store: Option<PathBuf>) -> Self {
        Self::with_wiring(kernel, blocks, store, Wiring::RoutedVeth)
    }

    /// Like [`Reconciler::new`], for a host wired in `wiring` mode.
    pub fn with_wiring(
        kernel: Arc<dyn Kernel>,
        blocks: Vec<IpNet>,
        store: Option<PathBuf>,
        wiring: Wiring,
    ) -> Self {
        let mut desired = DesiredState {
            blocks: blocks.clone(),
            wiring,
            ..DesiredState::default()
        };
        for block in blocks {
            desired.learned.protect(block);
        }
        if let Some(path) = &store {
            for spec in attachments::load(path) {
                let key = (spec.container_id.clone(), spec.ifname.clone());
                desired.containers.insert(key, spec);
            }
        }
        Reconciler {
            kernel,
            state: Mutex::new(Inner {
                desired,
                reach: Reachability::default(),
                own_deletes: HashSet::new(),
            }),
            store,
            stats: Stats::default(),
            metrics: std::sync::OnceLock::new(),
            watch: ContainerWatch::default(),
        }
    }

    /// Report to `metrics` from now on (set once; later calls are ignored).
    pub fn set_metrics(&self, metrics: Arc<Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    fn report(&self, f: impl FnOnce(&Metrics)) {
        if let Some(m) = self.metrics.get() {
            f(m);
        }
    }

    /// Learned routes in the kernel, single-path and ECMP.
    fn report_learned(&self, learned: &dataplane::LearnedRoutes) {
        let ecmp = learned.multipath_len();
        let missing = learned.not_installed();
        self.stats.not_installed.store(missing, Ordering::Relaxed);
        self.report(|m| {
            m.routes_installed(RouteKind::Learned, learned.len().saturating_sub(ecmp));
            m.routes_installed(RouteKind::Ecmp, ecmp);
            m.routes_not_installed(missing);
        });
    }

    /// Wires a container and keeps it wired from now on.
    ///
    /// The host's wiring mode.
    pub async fn wiring(&self) -> Wiring {
        self.state.lock().await.desired.wiring.clone()
    }

    /// The wiring runs outside the lock, so attaches and detaches of different containers
    /// overlap (each is a handful of netlink round trips). A resync meanwhile leaves the
    /// container alone: it is not desired yet, and its host route is kept because it leaves
    /// through a `lat*` veth that exists (see `dataplane::diff`). Runtimes never run two
    /// operations on one container at once (CNI spec), so nothing else wires this key.
    pub async fn attach(&self, spec: &AttachSpec) -> Result<AttachInfo, DataplaneError> {
        let wiring = self.state.lock().await.desired.wiring.clone();
        let info = wiring.attach(self.kernel.as_ref(), spec).await?;
        let mut inner = self.state.lock().await;
        let key = (spec.container_id.clone(), spec.ifname.clone());
        inner.desired.containers.insert(key.clone(), spec.clone());
        self.persist(&inner.desired);
        if inner.desired.wiring.probes_container_side() {
            self.watch.watch(self.kernel.as_ref(), &key, spec).await;
        }
        Ok(info)
    }

    /// Unwires a container (forgotten first, so no repair brings it back). The kernel work
    /// runs outside the lock, so the detaches of different containers overlap.
    pub async fn detach(&self, container_id: &str, ifname: &str) -> Result<(), DataplaneError> {
        let key = (container_id.to_string(), ifname.to_string());
        self.watch.unwatch(&key);
        let (wiring, spec) = {
            let mut inner = self.state.lock().await;
            let spec = inner.desired.containers.remove(&key);
            if spec.is_some() {
                self.persist(&inner.desired);
            }
            (inner.desired.wiring.clone(), spec)
        };
        match spec {
            Some(spec) => wiring.detach(self.kernel.as_ref(), &spec).await,
            // Unknown here (e.g. records lost): a routed veth can still be found by name.
            None => dataplane::detach(self.kernel.as_ref(), container_id, ifname).await,
        }
    }

    /// Replaces the held blocks (IPAM borrowed or gave one back) and resyncs: blackholes
    /// appear for new blocks and go for given-back ones, and learned routes inside our blocks
    /// are refused from now on.
    pub async fn set_blocks(&self, blocks: Vec<IpNet>) {
        {
            let mut inner = self.state.lock().await;
            inner.desired.learned.set_protected(&blocks);
            inner.desired.blocks = blocks;
        }
        if let Err(e) = self.resync().await {
            warn!(error = %e, "resync after a block change");
        }
    }

    /// The attachments kept wired.
    pub async fn attachments(&self) -> Vec<AttachSpec> {
        let inner = self.state.lock().await;
        inner.desired.containers.values().cloned().collect()
    }

    fn persist(&self, desired: &DesiredState) {
        if let Some(path) = &self.store {
            if let Err(e) = attachments::save(path, desired.containers.values()) {
                warn!(path = %path.display(), error = %e, "saving attachments");
            }
        }
    }

    /// Programs a batch of learned-route changes (distinct prefixes) in one pipelined pass.
    pub async fn apply_learned(&self, batch: &[LearnedRoute]) {
        let mut inner = self.state.lock().await;
        let Inner {
            desired,
            reach,
            own_deletes,
        } = &mut *inner;
        let ops: Vec<RouteOp> = batch
            .iter()
            .flat_map(|change| desired.learned.apply(change, reach))
            .collect();
        note_deletes(own_deletes, ops.iter());
        if let Err(e) = execute(self.kernel.as_ref(), &ops).await {
            self.report(Metrics::route_programming_error);
            warn!(error = %e, "programming learned routes");
        }
        self.report_learned(&desired.learned);
        let installed = desired.learned.len();
        self.stats.learned.store(installed, Ordering::Relaxed);
    }

    /// Compares the kernel with the desired state and applies the difference. Returns how many
    /// operations were needed.
    pub async fn resync(&self) -> KernelResult<usize> {
        let mut inner = self.state.lock().await;
        let actual = self.actual(&inner.desired).await?;
        let Inner {
            desired,
            reach,
            own_deletes,
        } = &mut *inner;
        *reach = Reachability::new(&actual.links, &actual.addresses);
        let ops = diff(desired, &actual);
        self.stats.resyncs.fetch_add(1, Ordering::Relaxed);
        self.report(Metrics::reconcile_run);
        if !ops.is_empty() {
            let n = u64::try_from(ops.len()).unwrap_or(u64::MAX);
            self.report(|m| m.reconcile_repairs("resync", n));
            info!(
                count = ops.len(),
                "reconciling the kernel with the desired state"
            );
            self.stats.repairs.fetch_add(ops.len(), Ordering::Relaxed);
        }
        let mut routes = Vec::new();
        for op in &ops {
            match op {
                ReconcileOp::Route(r) => routes.push(r.clone()),
                ReconcileOp::Attach(key) => self.repair_container(desired, key).await,
            }
        }
        note_deletes(own_deletes, routes.iter());
        if let Err(e) = execute(self.kernel.as_ref(), &routes).await {
            self.report(Metrics::reconcile_error);
            warn!(error = %e, "reconciling routes");
        }
        self.report_learned(&desired.learned);
        self.stats
            .learned
            .store(desired.learned.len(), Ordering::Relaxed);
        Ok(ops.len())
    }

    async fn repair_container(&self, desired: &mut DesiredState, key: &ContainerKey) {
        let Some(spec) = desired.containers.get(key).cloned() else {
            return;
        };
        warn!(container = %key.0, ifname = %key.1, "host or container interface missing or down: rewiring");
        match desired.wiring.attach(self.kernel.as_ref(), &spec).await {
            Ok(_) => {}
            Err(e)
                if e.kernel_error().is_some_and(|k| k.is_not_found()) && !spec.netns.exists() =>
            {
                // The container is gone (its namespace with it): nothing left to keep wired.
                warn!(container = %key.0, netns = %spec.netns.display(), "container namespace gone: forgetting it");
                desired.containers.remove(key);
                self.watch.unwatch(key);
                self.persist(desired);
                // Its host routes (ipvlan: out of the host slave, which stays) go too.
                if let Err(e) = desired.wiring.detach(self.kernel.as_ref(), &spec).await {
                    warn!(container = %key.0, error = %e, "removing a gone container's routes");
                }
            }
            Err(e) => {
                warn!(container = %key.0, error = %e, "rewiring failed; retrying at the next resync")
            }
        }
    }

    async fn actual(&self, desired: &DesiredState) -> KernelResult<ActualState> {
        let k = self.kernel.as_ref();
        Ok(ActualState {
            lattice_routes: k.routes(RTPROT_LATTICE).await?,
            bgp_routes: k.routes(RTPROT_BGP).await?,
            links: k.links().await?,
            addresses: k.all_addresses().await?,
            container_sides_down: container_watch::sides_down(k, desired).await,
        })
    }
}

fn note_deletes<'a>(set: &mut HashSet<IpNet>, ops: impl Iterator<Item = &'a RouteOp>) {
    // Bounded: echoes we never saw (the route was already gone) must not pile up.
    if set.len() > 100_000 {
        set.clear();
    }
    for op in ops {
        if let RouteOp::Delete { destination, .. } = op {
            set.insert(*destination);
        }
    }
}

mod driver;

#[cfg(test)]
#[path = "reconciler_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "reconciler_overlap_tests.rs"]
mod overlap_tests;
