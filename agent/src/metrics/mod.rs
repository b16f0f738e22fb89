//! latticed's Prometheus metrics: one [`Metrics`] value owned by the daemon, with a small method
//! per event, collectors that read the BGP speaker's status ([`peers`]) and the BFD sessions
//! ([`bfd`]) at scrape time, and the HTTP endpoint that serves `/metrics` ([`server`]).
//!
//! Names follow the Prometheus conventions: a `lattice_` prefix, `_total` on counters,
//! `_seconds` on durations, base units, and label values from small fixed sets (peer addresses
//! and blocks come from the configuration, never from the network). docs/metrics.md lists them.

pub mod bfd;
mod names;
pub mod peers;
pub mod server;
pub mod slots;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub use names::{Interface, RouteKind};

/// Request-duration buckets: a list or status answers in well under a millisecond, an attach
/// does a dozen netlink calls (milliseconds), anything near 10 s is a stuck kernel or lock.
const REQUEST_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The commit latticed was built from (set by `agent/build.rs`), else "unknown".
pub const COMMIT: &str = match option_env!("LATTICE_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// Every metric latticed exports, and the registry that gathers them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: HistogramVec,
    reconcile_runs: IntCounter,
    reconcile_repairs: IntCounterVec,
    reconcile_errors: IntCounter,
    routes_installed: IntGaugeVec,
    routes_not_installed: IntGauge,
    route_errors: IntCounter,
    netlink_resyncs: IntCounter,
    ipam_blocks: IntGauge,
    ipam_in_use: IntGaugeVec,
    ipam_capacity: IntGaugeVec,
    ipam_errors: IntCounterVec,
    ipam_conflicts: IntCounter,
    config_reloads: IntCounterVec,
    bgp_announced: IntGauge,
}

impl Metrics {
    /// All metrics registered and reading 0, the BGP ones from `peers` when given (the
    /// speaker), plus build info, start time and the standard process collector.
    pub fn new(peers: Option<Box<dyn peers::PeerSource>>) -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "lattice_request_duration_seconds",
                "Time to answer one request, by interface (api, cni, docker), operation and result (ok or the error kind).",
            )
            .buckets(REQUEST_BUCKETS.to_vec()),
            &["interface", "operation", "result"],
        )?;
        let m = Metrics {
            requests,
            reconcile_runs: IntCounter::new(
                "lattice_reconcile_runs_total",
                "Passes comparing the kernel's routes and links with the desired state.",
            )?,
            reconcile_repairs: IntCounterVec::new(
                Opts::new(
                    "lattice_reconcile_repairs_total",
                    "Kernel objects a reconcile pass had to add, change or remove, by kind.",
                ),
                &["kind"],
            )?,
            reconcile_errors: IntCounter::new(
                "lattice_reconcile_errors_total",
                "Reconcile passes or repairs that failed.",
            )?,
            routes_installed: IntGaugeVec::new(
                Opts::new(
                    "lattice_routes_installed",
                    "Routes latticed holds in the kernel, by kind (local, blackhole, learned, ecmp).",
                ),
                &["kind"],
            )?,
            routes_not_installed: IntGauge::new(
                "lattice_routes_not_installed",
                "Best routes BGP chose for the kernel that have no usable next hop (on no connected network, or this host's own address), so are not installed.",
            )?,
            route_errors: IntCounter::new(
                "lattice_route_programming_errors_total",
                "Learned routes the kernel refused to install or remove.",
            )?,
            netlink_resyncs: IntCounter::new(
                "lattice_netlink_resyncs_total",
                "Full re-reads of the kernel's state after a netlink notification was lost.",
            )?,
            ipam_blocks: IntGauge::new("lattice_ipam_blocks", "Address blocks this host holds.")?,
            ipam_in_use: IntGaugeVec::new(
                Opts::new(
                    "lattice_ipam_addresses_in_use",
                    "Addresses allocated to containers, per block.",
                ),
                &["block"],
            )?,
            ipam_capacity: IntGaugeVec::new(
                Opts::new(
                    "lattice_ipam_addresses_capacity",
                    "Addresses a block can hand out.",
                ),
                &["block"],
            )?,
            ipam_errors: IntCounterVec::new(
                Opts::new(
                    "lattice_ipam_allocation_errors_total",
                    "Address allocations that failed, by reason (exhausted, store, other).",
                ),
                &["reason"],
            )?,
            ipam_conflicts: IntCounter::new(
                "lattice_ipam_block_conflicts_total",
                "Blocks found claimed by another host as well.",
            )?,
            config_reloads: IntCounterVec::new(
                Opts::new(
                    "lattice_config_reloads_total",
                    "Configuration reloads (SIGHUP or lattice reload), by result: applied, or refused (invalid, or a key that needs a restart).",
                ),
                &["result"],
            )?,
            bgp_announced: IntGauge::new(
                "lattice_bgp_announced_prefixes",
                "Prefixes announced through the API (lattice announce), kept in ipam.state_dir.",
            )?,
            registry,
        };
        m.register_all(peers)?;
        m.preset();
        Ok(m)
    }

    fn register_all(&self, peers: Option<Box<dyn peers::PeerSource>>) -> prometheus::Result<()> {
        let r = &self.registry;
        r.register(Box::new(self.requests.clone()))?;
        r.register(Box::new(self.reconcile_runs.clone()))?;
        r.register(Box::new(self.reconcile_repairs.clone()))?;
        r.register(Box::new(self.reconcile_errors.clone()))?;
        r.register(Box::new(self.routes_installed.clone()))?;
        r.register(Box::new(self.routes_not_installed.clone()))?;
        r.register(Box::new(self.route_errors.clone()))?;
        r.register(Box::new(self.netlink_resyncs.clone()))?;
        r.register(Box::new(self.ipam_blocks.clone()))?;
        r.register(Box::new(self.ipam_in_use.clone()))?;
        r.register(Box::new(self.ipam_capacity.clone()))?;
        r.register(Box::new(self.ipam_errors.clone()))?;
        r.register(Box::new(self.ipam_conflicts.clone()))?;
        r.register(Box::new(self.config_reloads.clone()))?;
        r.register(Box::new(self.bgp_announced.clone()))?;
        let build = IntGaugeVec::new(
            Opts::new(
                "lattice_build_info",
                "Always 1; the labels say which latticed runs.",
            ),
            &["version", "commit"],
        )?;
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), COMMIT])
            .set(1);
        r.register(Box::new(build))?;
        let start = IntGauge::new(
            "lattice_start_time_seconds",
            "When latticed started, in seconds since the Unix epoch.",
        )?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        start.set(i64::try_from(now.as_secs()).unwrap_or(0));
        r.register(Box::new(start))?;
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        if let Some(peers) = peers {
            r.register(Box::new(peers::BgpCollector::new(peers)?))?;
        }
        Ok(())
    }

    /// Series that exist before their first event, so dashboards and alerts see 0, not nothing.
    fn preset(&self) {
        for kind in RouteKind::ALL {
            self.routes_installed.with_label_values(&[kind.as_str()]);
        }
        self.reconcile_repairs.with_label_values(&["route"]);
        for reason in ["exhausted", "store", "other"] {
            self.ipam_errors.with_label_values(&[reason]);
        }
        for result in ["applied", "refused"] {
            self.config_reloads.with_label_values(&[result]);
        }
        for (interface, ops) in names::KNOWN_OPERATIONS {
            for op in ops {
                self.requests
                    .with_label_values(&[interface.as_str(), op, "ok"]);
            }
        }
    }

    /// One request answered. Callers: the API handler (`daemon::handler`, every request, the
    /// CNI plugin's included) and the Docker driver (`docker::Driver::dispatch`, every
    /// libnetwork call). `Interface::Cni` is a request `lattice-cni` wrapped in
    /// `Request::Cni`, labelled with the CNI command. `result` is "ok" or the error kind.
    pub fn observe_request(
        &self,
        interface: Interface,
        operation: &str,
        result: &str,
        elapsed: Duration,
    ) {
        self.requests
            .with_label_values(&[interface.as_str(), operation, result])
            .observe(elapsed.as_secs_f64());
    }

    /// One reconcile pass ran. Caller: the reconciler (today the learned-route task's cleanup
    /// of stale routes after start; the periodic reconciler of issue 5).
    pub fn reconcile_run(&self) {
        self.reconcile_runs.inc();
    }

    /// A reconcile pass repaired `n` kernel objects of `kind` ("route", "link", ...).
    pub fn reconcile_repairs(&self, kind: &str, n: u64) {
        self.reconcile_repairs.with_label_values(&[kind]).inc_by(n);
    }

    /// A reconcile pass, or one of its repairs, failed.
    pub fn reconcile_error(&self) {
        self.reconcile_errors.inc();
    }

    /// Best routes that have no usable next hop, so are not in the kernel. Caller: the
    /// learned-route task.
    pub fn routes_not_installed(&self, n: usize) {
        self.routes_not_installed
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// `n` routes of `kind` are now in the kernel. Callers: the learned-route task (learned,
    /// ecmp), the daemon at start and the API handler after attach/detach (local, blackhole).
    pub fn routes_installed(&self, kind: RouteKind, n: usize) {
        self.routes_installed
            .with_label_values(&[kind.as_str()])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The kernel refused a learned route change. Caller: the learned-route task.
    pub fn route_programming_error(&self) {
        self.route_errors.inc();
    }

    /// The kernel's state was re-read in full because netlink notifications were lost (the
    /// reconciler's ENOBUFS path, issue 5; reads 0 until it exists).
    pub fn netlink_resync(&self) {
        self.netlink_resyncs.inc();
    }

    /// The blocks this host holds, each with (addresses in use, capacity); replaces the
    /// previous set, so a released block disappears. Callers: the daemon at start and the API
    /// handler after each attach and detach (and IPAM's block changes, issue 4).
    pub fn ipam_blocks(&self, blocks: &[(ipnet::IpNet, usize, usize)]) {
        self.ipam_in_use.reset();
        self.ipam_capacity.reset();
        self.ipam_blocks
            .set(i64::try_from(blocks.len()).unwrap_or(i64::MAX));
        for (block, in_use, capacity) in blocks {
            let label = block.to_string();
            self.ipam_in_use
                .with_label_values(&[&label])
                .set(i64::try_from(*in_use).unwrap_or(i64::MAX));
            self.ipam_capacity
                .with_label_values(&[&label])
                .set(i64::try_from(*capacity).unwrap_or(i64::MAX));
        }
    }

    /// An allocation failed: `reason` is "exhausted", "store" or "other". Caller: the API
    /// handler's attach (and the CNI/Docker IPAM paths of issue 6).
    pub fn ipam_allocation_error(&self, reason: &str) {
        self.ipam_errors.with_label_values(&[reason]).inc();
    }

    /// A peer started advertising a prefix inside one of our blocks (a new conflict). Caller:
    /// the conflict tracker (`daemon::conflicts`), when it records a new one.
    pub fn ipam_block_conflict(&self) {
        self.ipam_conflicts.inc();
    }

    /// Export `lattice_ipam_block_conflicts`, the conflicts active now, read from `active` at
    /// scrape time. Caller: the daemon at start, with the conflict tracker's count.
    pub fn watch_block_conflicts(
        &self,
        active: impl Fn() -> usize + Send + Sync + 'static,
    ) -> prometheus::Result<()> {
        let gauge = prometheus::PullingGauge::new(
            "lattice_ipam_block_conflicts",
            "Prefixes peers advertise inside a block this host holds, now (each is refused).",
            Box::new(move || active() as f64),
        )?;
        self.registry.register(Box::new(gauge))
    }

    /// Export the BFD sessions' metrics, read from `source` at scrape time. Caller: the
    /// daemon at start, with its BFD supervisor.
    pub fn watch_bfd(&self, source: Box<dyn bfd::BfdSource>) -> prometheus::Result<()> {
        self.registry
            .register(Box::new(bfd::BfdCollector::new(source)?))
    }

    /// Register `lattice_ipam_leaked_attachments_released_total` and return it. Caller: the
    /// daemon at start, for the leak reaper (`daemon::handler::leaks`).
    pub fn leaked_attachments_released(&self) -> prometheus::Result<IntCounter> {
        let counter = IntCounter::new(
            "lattice_ipam_leaked_attachments_released_total",
            "Attachments released because their container namespace was gone and no DEL came within ipam.leak_grace_period.",
        )?;
        self.registry.register(Box::new(counter.clone()))?;
        Ok(counter)
    }

    /// A configuration reload ended: `result` is "applied" or "refused". Caller: the daemon's
    /// reloader (`daemon::reload`).
    pub fn config_reload(&self, result: &str) {
        self.config_reloads.with_label_values(&[result]).inc();
    }

    /// `n` prefixes are announced through the API now. Caller: `daemon::announce`.
    pub fn bgp_announced(&self, n: usize) {
        self.bgp_announced.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Everything, in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "encoding metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
