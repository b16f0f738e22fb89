//! The API handler: each request turned into IPAM and dataplane calls.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use api::proto::{ApiError, Attachment, AttachmentKey, NodeStatus, Reply, Request};
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::Mutex;
use tracing::{info, warn};

mod cni_ops;
pub(super) mod leaks;
mod netns_target;

use super::blocks::BlockAnnouncer;
use super::conflicts::Conflicts;
use super::reconciler::Reconciler;
use crate::api::server::Handler;
use crate::config::Config;
use crate::dataplane;
use crate::kernel::Kernel;
use crate::metrics::{Interface, Metrics};

/// MTU used when neither `dataplane.mtu` nor an uplink says otherwise.
const DEFAULT_MTU: u32 = 1500;

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
    pub(super) metrics: Arc<Metrics>,
    blocks: Arc<BlockAnnouncer>,
    pub(super) conflicts: Arc<Conflicts>,
    /// Namespace paths of attachments made since start (IPAM does not keep them).
    netns: Mutex<HashMap<(String, String), PathBuf>>,
    /// Attachments allocated and still being wired: GC must not release them meanwhile.
    /// Changed only with `ipam` held, so GC (which holds it) sees a settled set.
    wiring: std::sync::Mutex<HashSet<ipam::AllocationKey>>,
}

impl AgentHandler {
    /// A handler over the daemon's parts (each wired once, in `daemon::run`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        ipam: Mutex<ipam::Allocator>,
        kernel: Arc<dyn Kernel>,
        speaker: bgp::driver::SpeakerHandle,
        dataplane: Arc<Reconciler>,
        metrics: Arc<Metrics>,
        blocks: Arc<BlockAnnouncer>,
        conflicts: Arc<Conflicts>,
    ) -> Self {
        Self {
            config,
            ipam,
            kernel,
            speaker,
            dataplane,
            metrics,
            blocks,
            conflicts,
            netns: Mutex::new(HashMap::new()),
            wiring: std::sync::Mutex::new(HashSet::new()),
        }
    }

    fn wiring(&self) -> std::sync::MutexGuard<'_, HashSet<ipam::AllocationKey>> {
        // A panic elsewhere cannot leave the set inconsistent: every change is one call.
        self.wiring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn attach(
        &self,
        container_id: String,
        ifname: String,
        netns: PathBuf,
        mtu: Option<u32>,
    ) -> Reply {
        if let Err(message) = validate_key(&container_id, &ifname) {
            return error("bad_request", message);
        }
        if let Err(message) = self.check_target(&container_id, &ifname, &netns).await {
            warn!(container = %container_id, %ifname, netns = %netns.display(), "attach refused: {message}");
            return error("bad_request", message);
        }
        let key = ipam::AllocationKey::new(&container_id, &ifname);
        let mut ipam = self.ipam.lock().await;
        let existed = ipam.ipam().get(&key).is_some();
        let assigned = match ipam.allocate(&key, now()).await {
            Ok(a) => a,
            Err(e @ ipam::IpamError::Exhausted { .. }) => {
                self.metrics.ipam_allocation_error("exhausted");
                warn!(container = %container_id, %ifname, error = %e, "no address left");
                return error("exhausted", e.to_string());
            }
            Err(e) => {
                let reason = match e {
                    ipam::IpamError::Io { .. } | ipam::IpamError::Corrupt { .. } => "store",
                    _ => "other",
                };
                self.metrics.ipam_allocation_error(reason);
                return error("ipam", e.to_string());
            }
        };
        // A borrowed block must be announced before its first container is reachable.
        self.sync_blocks(&ipam).await;
        self.wiring().insert(key.clone());
        drop(ipam);
        let (address, address_v6) = (assigned.v4, assigned.v6);
        let mtu = match mtu {
            Some(m) => m,
            None => self.mtu().await,
        };
        let spec = dataplane::AttachSpec {
            netns: netns.clone(),
            container_id: container_id.clone(),
            ifname: ifname.clone(),
            address,
            address_v6,
            mtu,
        };
        let wired = self.dataplane.attach(&spec).await;
        let mut ipam = self.ipam.lock().await;
        self.wiring().remove(&key);
        match wired {
            Ok(info) => {
                info!(container = %container_id, %ifname, %address, host_if = %info.host_ifname, "attached");
                self.netns
                    .lock()
                    .await
                    .insert((container_id.clone(), ifname.clone()), netns.clone());
                Reply::Attached(Attachment {
                    container_id,
                    ifname,
                    address,
                    address_v6,
                    host_ifname: info.host_ifname,
                    netns,
                    host_mac: Some(info.host_mac.to_string()),
                    container_mac: info.container_mac.map(|m| m.to_string()),
                })
            }
            Err(e) => {
                if !existed {
                    if let Err(re) = ipam.release(&key, now()) {
                        warn!(error = %re, "releasing address after a failed attach");
                    }
                }
                error("kernel", format!("wiring {container_id}/{ifname}: {e}"))
            }
        }
    }

    async fn detach(&self, container_id: String, ifname: String) -> Reply {
        if let Err(message) = validate_key(&container_id, &ifname) {
            return error("bad_request", message);
        }
        let key = ipam::AllocationKey::new(&container_id, &ifname);
        // The veth goes first, without the IPAM lock: deleting a veth is the slowest step
        // (the kernel waits for RCU), and holding the lock would queue every other attach and
        // detach behind it. Runtimes never run ADD and DEL of one container at once (CNI spec),
        // and the address is released only after its veth is gone.
        if let Err(e) = self.dataplane.detach(&container_id, &ifname).await {
            return error("kernel", format!("unwiring {container_id}/{ifname}: {e}"));
        }
        let mut ipam = self.ipam.lock().await;
        self.netns
            .lock()
            .await
            .remove(&(container_id.clone(), ifname.clone()));
        match ipam.release(&key, now()) {
            Ok(released) => {
                if let Some(a) = &released {
                    info!(container = %container_id, %ifname, address = %a.v4, address_v6 = ?a.v6, "detached");
                }
                Reply::Detached {
                    released: released.map(|a| IpAddr::V4(a.v4)),
                }
            }
            Err(e) => error("ipam", e.to_string()),
        }
    }

    /// Unwire and release every attachment not in `keep`; one that fails to unwire is kept
    /// (and reported in the log) so its address is never handed out while still wired.
    async fn gc(&self, keep: Vec<AttachmentKey>) -> Reply {
        let mut keep: HashSet<ipam::AllocationKey> = keep
            .into_iter()
            .map(|k| ipam::AllocationKey::new(&k.container_id, &k.ifname))
            .collect();
        let mut ipam = self.ipam.lock().await;
        // Attaches still wiring are the runtime's current work, whatever its list says.
        keep.extend(self.wiring().iter().cloned());
        let doomed: Vec<ipam::AllocationKey> = ipam
            .ipam()
            .allocations()
            .into_iter()
            .map(|a| a.key)
            .filter(|k| !keep.contains(k))
            .collect();
        for k in doomed {
            // Through the reconciler: it forgets the container first, so no repair rewires it.
            if let Err(e) = self.dataplane.detach(&k.container_id, &k.ifname).await {
                warn!(container = %k.container_id, ifname = %k.ifname, error = %e, "gc: unwiring failed; address kept");
                keep.insert(k);
            }
        }
        let released = match ipam.gc(&keep, now()) {
            Ok(r) => r,
            Err(e) => return error("ipam", e.to_string()),
        };
        let mut netns = self.netns.lock().await;
        let released = released
            .into_iter()
            .map(|a| {
                info!(container = %a.key.container_id, ifname = %a.key.ifname, address = %a.v4, "gc: released");
                netns.remove(&(a.key.container_id.clone(), a.key.ifname.clone()));
                AttachmentKey {
                    container_id: a.key.container_id,
                    ifname: a.key.ifname,
                }
            })
            .collect();
        Reply::Collected { released }
    }

    async fn list(&self) -> Reply {
        let allocations = self.ipam.lock().await.ipam().allocations();
        let netns = self.netns.lock().await;
        let attachments = allocations
            .into_iter()
            .map(|a| {
                let key = (a.key.container_id.clone(), a.key.ifname.clone());
                Attachment {
                    host_ifname: dataplane::host_ifname(&a.key.container_id, &a.key.ifname),
                    netns: netns.get(&key).cloned().unwrap_or_default(),
                    container_id: a.key.container_id,
                    ifname: a.key.ifname,
                    address: a.v4,
                    address_v6: a.v6,
                    host_mac: None,
                    container_mac: None,
                }
            })
            .collect();
        Reply::List { attachments }
    }

    async fn status(&self) -> Reply {
        let (blocks, attachments, usage) = {
            let ipam = self.ipam.lock().await;
            let usage = super::queries::block_usage(ipam.ipam());
            (ipam.ipam().blocks(), ipam.ipam().in_use(), usage)
        };
        Reply::Status(NodeStatus {
            node: self.config.node.name.clone(),
            asn: self.config.node.asn,
            router_id: self.config.node.router_id,
            blocks: blocks
                .iter()
                .filter_map(|b| match b {
                    ipnet::IpNet::V4(n) => Some(*n),
                    ipnet::IpNet::V6(_) => None,
                })
                .collect(),
            blocks_v6: blocks
                .iter()
                .filter_map(|b| match b {
                    ipnet::IpNet::V6(n) => Some(*n),
                    ipnet::IpNet::V4(_) => None,
                })
                .collect(),
            conflicts: self.conflicts.list(),
            attachments,
            peers: crate::api::convert::peers(self.speaker.status().await),
            learned_routes: self
                .dataplane
                .stats
                .learned
                .load(std::sync::atomic::Ordering::Relaxed),
            block_usage: usage,
        })
    }

    /// The block-conflict tracker (for the metrics exporter: `count()`, `list()`).
    pub fn conflicts(&self) -> Arc<Conflicts> {
        self.conflicts.clone()
    }

    /// Give back drained borrowed blocks whose grace period is over (called periodically).
    pub async fn reap_blocks(&self) {
        let mut ipam = self.ipam.lock().await;
        match ipam.reap(now()).await {
            Ok(gone) if gone.is_empty() => {}
            Ok(_) => {
                self.sync_blocks(&ipam).await;
                self.publish_usage(ipam.ipam());
            }
            Err(e) => warn!(error = %e, "giving back drained blocks"),
        }
    }

    /// Announce (and blackhole) exactly the blocks IPAM holds.
    async fn sync_blocks(&self, ipam: &ipam::Allocator) {
        if let Err(e) = self.blocks.sync(ipam.ipam().blocks()).await {
            warn!(error = %e, "updating the blackholes of the held blocks");
        }
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

impl Handler for AgentHandler {
    fn handle(&self, req: Request) -> BoxFuture<'_, Reply> {
        async move {
            let started = std::time::Instant::now();
            let (interface, operation, reply) = match req {
                Request::Cni { command, request } => {
                    let reply = match *request {
                        Request::Cni { .. } => error(
                            "bad_request",
                            "a cni request cannot carry another cni request",
                        ),
                        inner => self.dispatch(inner).await.1,
                    };
                    (Interface::Cni, command.as_str(), reply)
                }
                other => {
                    let (operation, reply) = self.dispatch(other).await;
                    (Interface::Api, operation, reply)
                }
            };
            let result = match &reply {
                Reply::Error(e) => e.kind.as_str(),
                _ => "ok",
            };
            self.metrics
                .observe_request(interface, operation, result, started.elapsed());
            reply
        }
        .boxed()
    }
}

impl AgentHandler {
    /// Answers one request (not a `cni` wrapper); the operation name for the metrics.
    async fn dispatch(&self, req: Request) -> (&'static str, Reply) {
        {
            let (operation, reply) = match req {
                Request::Attach {
                    container_id,
                    ifname,
                    netns,
                    mtu,
                } => {
                    let reply = self.attach(container_id, ifname, netns, mtu).await;
                    self.publish_usage(self.ipam.lock().await.ipam());
                    ("attach", reply)
                }
                Request::Check {
                    container_id,
                    ifname,
                    netns,
                } => ("check", self.check(container_id, ifname, netns).await),
                Request::Allocate {
                    container_id,
                    ifname,
                } => {
                    let reply = self.allocate(container_id, ifname).await;
                    self.publish_usage(self.ipam.lock().await.ipam());
                    ("allocate", reply)
                }
                Request::Ready => ("ready", self.ready().await),
                Request::Detach {
                    container_id,
                    ifname,
                } => {
                    let reply = self.detach(container_id, ifname).await;
                    self.publish_usage(self.ipam.lock().await.ipam());
                    ("detach", reply)
                }
                Request::Gc { keep } => {
                    let reply = self.gc(keep).await;
                    self.publish_usage(self.ipam.lock().await.ipam());
                    ("gc", reply)
                }
                Request::List => ("list", self.list().await),
                Request::Status => ("status", self.status().await),
                Request::Peers { peer } => ("peers", self.peers(peer).await),
                Request::Routes => ("routes", self.routes().await),
                Request::Ipam => ("ipam", self.ipam_status().await),
                Request::Cni { .. } => (
                    "cni",
                    error(
                        "bad_request",
                        "a cni request cannot carry another cni request",
                    ),
                ),
            };
            (operation, reply)
        }
    }
}

/// Keys end up in file names and interface-name hashes: keep them printable and bounded.
fn validate_key(container_id: &str, ifname: &str) -> Result<(), String> {
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

/// Seconds since the Unix epoch: the clock IPAM's grace periods run on (it survives restarts).
pub(super) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(super) fn error(kind: &str, message: impl Into<String>) -> Reply {
    Reply::Error(ApiError {
        kind: kind.into(),
        message: message.into(),
    })
}
