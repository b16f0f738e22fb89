//! [`AgentHandler`]: the daemon's parts the API requests work on, and what every request
//! family shares (the clock, key checks, error replies, the blocks and usage kept current).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Mutex;
use tracing::warn;

use crate::config::Config;
use crate::daemon::announce::Announcements;
use crate::daemon::blocks::BlockAnnouncer;
use crate::daemon::clock::Clock;
use crate::daemon::conflicts::Conflicts;
use crate::daemon::reconciler::Reconciler;
use crate::daemon::reload::Reloader;
use crate::daemon::usage;
use crate::kernel::Kernel;
use crate::metrics::Metrics;
use api::proto::{ApiError, Reply};

/// MTU used when neither `dataplane.mtu` nor an uplink says otherwise.
const DEFAULT_MTU: u32 = 1500;

/// What the handler is made of (each part made once, in `daemon::run`).
#[derive(Debug)]
pub struct HandlerParts {
    /// The validated configuration.
    pub config: Config,
    /// The host's IPAM with its datastore.
    pub ipam: ipam::Allocator,
    /// The kernel (CHECK and `routes` read it).
    pub kernel: Arc<dyn Kernel>,
    /// The BGP speaker (status, peers, routes).
    pub speaker: bgp::driver::SpeakerHandle,
    /// Wires containers and keeps them (and every route) in place.
    pub reconciler: Arc<Reconciler>,
    /// Where requests and IPAM usage are counted.
    pub metrics: Arc<Metrics>,
    /// Keeps blackholes and announcements equal to the held blocks.
    pub announcer: Arc<BlockAnnouncer>,
    /// The block-conflict tracker.
    pub conflicts: Arc<Conflicts>,
    /// Seconds for IPAM's grace periods.
    pub clock: Arc<dyn Clock>,
    /// The BFD sessions (shown with their peers).
    pub bfd: Arc<crate::daemon::bfd::BfdSupervisor>,
    /// Re-reads the configuration (`reload`).
    pub reloader: Arc<Reloader>,
    /// The prefixes announced through the API (`announce`, `withdraw`, `routes`).
    pub announcements: Arc<Announcements>,
}

/// Serves the local API on behalf of the daemon.
#[derive(Debug)]
pub struct AgentHandler {
    pub(super) config: Config,
    /// Held while addresses are allocated, released or listed; not across the wiring, so the
    /// attaches of different containers overlap.
    pub(super) ipam: Mutex<ipam::Allocator>,
    pub(super) kernel: Arc<dyn Kernel>,
    pub(super) speaker: bgp::driver::SpeakerHandle,
    /// Wires containers and keeps them (and every route) in place.
    pub(super) dataplane: Arc<Reconciler>,
    pub(crate) metrics: Arc<Metrics>,
    blocks: Arc<BlockAnnouncer>,
    pub(super) conflicts: Arc<Conflicts>,
    clock: Arc<dyn Clock>,
    pub(super) bfd: Arc<crate::daemon::bfd::BfdSupervisor>,
    /// Namespace paths of attachments made since start (IPAM does not keep them).
    pub(super) netns: Mutex<HashMap<(String, String), PathBuf>>,
    pub(super) reloader: Arc<Reloader>,
    pub(super) announcements: Arc<Announcements>,
    /// Attachments allocated and still being wired: GC must not release them meanwhile.
    /// Changed only with `ipam` held, so GC (which holds it) sees a settled set.
    wiring: std::sync::Mutex<HashSet<ipam::AllocationKey>>,
}

impl AgentHandler {
    /// A handler over the daemon's parts.
    pub fn new(parts: HandlerParts) -> Self {
        Self {
            config: parts.config,
            ipam: Mutex::new(parts.ipam),
            kernel: parts.kernel,
            speaker: parts.speaker,
            dataplane: parts.reconciler,
            metrics: parts.metrics,
            blocks: parts.announcer,
            conflicts: parts.conflicts,
            clock: parts.clock,
            bfd: parts.bfd,
            reloader: parts.reloader,
            announcements: parts.announcements,
            netns: Mutex::new(HashMap::new()),
            wiring: std::sync::Mutex::new(HashSet::new()),
        }
    }

    /// Seconds on the daemon's clock (IPAM's grace periods run on it).
    pub(super) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The attachments being wired right now.
    pub(super) fn wiring(&self) -> std::sync::MutexGuard<'_, HashSet<ipam::AllocationKey>> {
        // A panic elsewhere cannot leave the set inconsistent: every change is one call.
        self.wiring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The block-conflict tracker (for the metrics exporter: `count()`, `list()`).
    pub fn conflicts(&self) -> Arc<Conflicts> {
        self.conflicts.clone()
    }

    /// Give back drained borrowed blocks whose grace period is over (called periodically).
    pub async fn reap_blocks(&self) {
        let mut ipam = self.ipam.lock().await;
        match ipam.reap(self.now()).await {
            Ok(gone) if gone.is_empty() => {}
            Ok(_) => {
                self.sync_blocks(&ipam).await;
                self.publish_usage(ipam.ipam());
            }
            Err(e) => warn!(error = %e, "giving back drained blocks"),
        }
    }

    /// Announce (and blackhole) exactly the blocks IPAM holds.
    pub(super) async fn sync_blocks(&self, ipam: &ipam::Allocator) {
        if let Err(e) = self.blocks.sync(ipam.ipam().blocks()).await {
            warn!(error = %e, "updating the blackholes of the held blocks");
        }
    }

    /// Publish the IPAM figures and the local routes (one /32 per attachment, one blackhole per
    /// block) as metrics.
    pub(super) fn publish_usage(&self, ipam: &ipam::Ipam) {
        usage::publish(&self.metrics, ipam);
    }

    /// `dataplane.mtu`, else the first uplink's MTU, else 1500: routed veth adds no overhead.
    pub(crate) async fn mtu(&self) -> u32 {
        if let Some(mtu) = self.config.dataplane.mtu {
            return mtu;
        }
        for uplink in &self.config.dataplane.uplinks {
            if let Ok(link) = self.kernel.link_by_name(uplink).await {
                return link.mtu;
            }
        }
        DEFAULT_MTU
    }
}

/// Keys end up in file names and interface-name hashes: keep them printable and bounded.
pub(super) fn validate_key(container_id: &str, ifname: &str) -> Result<(), String> {
    if container_id.is_empty() || container_id.len() > 256 {
        return Err("container_id must be 1 to 256 characters".into());
    }
    if container_id.chars().any(|c| c.is_control()) {
        return Err("container_id must not contain control characters".into());
    }
    let ifname_ok = !ifname.is_empty()
        && ifname.len() < 16
        && ifname
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':');
    if !ifname_ok {
        return Err(format!(
            "ifname {ifname:?} is not a valid interface name (1-15 characters, no '/' or ':')"
        ));
    }
    Ok(())
}

/// An error reply of `kind`.
pub(super) fn error(kind: &str, message: impl Into<String>) -> Reply {
    Reply::Error(ApiError {
        kind: kind.into(),
        message: message.into(),
    })
}
