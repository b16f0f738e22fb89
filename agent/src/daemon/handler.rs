//! The API handler: each request turned into IPAM and dataplane calls.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::Mutex;
use tracing::{info, warn};

use super::reconciler::Reconciler;
use crate::api::proto::{ApiError, Attachment, NodeStatus, Reply, Request};
use crate::api::server::Handler;
use crate::config::Config;
use crate::dataplane;
use crate::kernel::Kernel;

/// MTU used when neither `dataplane.mtu` nor an uplink says otherwise.
const DEFAULT_MTU: u32 = 1500;

/// Serves the local API on behalf of the daemon.
#[derive(Debug)]
pub struct AgentHandler {
    config: Config,
    /// Held across a whole attach/detach so the address and the wiring change together.
    ipam: Mutex<ipam::Ipam>,
    kernel: Arc<dyn Kernel>,
    speaker: bgp::driver::SpeakerHandle,
    /// Wires containers and keeps them (and every route) in place.
    dataplane: Arc<Reconciler>,
    /// Namespace paths of attachments made since start (IPAM does not keep them).
    netns: Mutex<HashMap<(String, String), PathBuf>>,
}

impl AgentHandler {
    /// A handler over the daemon's parts.
    pub fn new(
        config: Config,
        ipam: Mutex<ipam::Ipam>,
        kernel: Arc<dyn Kernel>,
        speaker: bgp::driver::SpeakerHandle,
        dataplane: Arc<Reconciler>,
    ) -> Self {
        Self {
            config,
            ipam,
            kernel,
            speaker,
            dataplane,
            netns: Mutex::new(HashMap::new()),
        }
    }

    async fn attach(&self, container_id: String, ifname: String, netns: PathBuf) -> Reply {
        if let Err(message) = validate_key(&container_id, &ifname) {
            return error("bad_request", message);
        }
        let mut ipam = self.ipam.lock().await;
        let existed = ipam.get(&container_id, &ifname).is_some();
        let address = match ipam.allocate(&container_id, &ifname) {
            Ok(a) => a.address,
            Err(e @ ipam::IpamError::Exhausted { .. }) => return error("exhausted", e.to_string()),
            Err(e) => return error("ipam", e.to_string()),
        };
        let mtu = self.mtu().await;
        let spec = dataplane::AttachSpec {
            netns: netns.clone(),
            container_id: container_id.clone(),
            ifname: ifname.clone(),
            address,
            // Filled by IPAM once the host holds an IPv6 block (cluster.cidr_v6).
            address_v6: None,
            mtu,
        };
        let wired = self.dataplane.attach(&spec).await;
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
                    host_ifname: info.host_ifname,
                    netns,
                })
            }
            Err(e) => {
                if !existed {
                    if let Err(re) = ipam.release(&container_id, &ifname) {
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
        let mut ipam = self.ipam.lock().await;
        if let Err(e) = self.dataplane.detach(&container_id, &ifname).await {
            return error("kernel", format!("unwiring {container_id}/{ifname}: {e}"));
        }
        self.netns
            .lock()
            .await
            .remove(&(container_id.clone(), ifname.clone()));
        match ipam.release(&container_id, &ifname) {
            Ok(released) => {
                if let Some(addr) = released {
                    info!(container = %container_id, %ifname, address = %addr, "detached");
                }
                Reply::Detached {
                    released: released.map(IpAddr::V4),
                }
            }
            Err(e) => error("ipam", e.to_string()),
        }
    }

    async fn list(&self) -> Reply {
        let allocations = self.ipam.lock().await.allocations();
        let netns = self.netns.lock().await;
        let attachments = allocations
            .into_iter()
            .map(|a| {
                let key = (a.container_id.clone(), a.ifname.clone());
                Attachment {
                    host_ifname: dataplane::host_ifname(&a.container_id, &a.ifname),
                    netns: netns.get(&key).cloned().unwrap_or_default(),
                    container_id: a.container_id,
                    ifname: a.ifname,
                    address: a.address,
                }
            })
            .collect();
        Reply::List { attachments }
    }

    async fn status(&self) -> Reply {
        let (block, attachments) = {
            let ipam = self.ipam.lock().await;
            (ipam.block(), ipam.in_use())
        };
        Reply::Status(NodeStatus {
            node: self.config.node.name.clone(),
            asn: self.config.node.asn,
            router_id: self.config.node.router_id,
            blocks: vec![block],
            attachments,
            peers: self.speaker.status().await,
            learned_routes: self
                .dataplane
                .stats
                .learned
                .load(std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// `dataplane.mtu`, else the first uplink's MTU, else 1500: routed veth adds no overhead.
    async fn mtu(&self) -> u32 {
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
            match req {
                Request::Attach {
                    container_id,
                    ifname,
                    netns,
                } => self.attach(container_id, ifname, netns).await,
                Request::Detach {
                    container_id,
                    ifname,
                } => self.detach(container_id, ifname).await,
                Request::List => self.list().await,
                Request::Status => self.status().await,
            }
        }
        .boxed()
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

fn error(kind: &str, message: impl Into<String>) -> Reply {
    Reply::Error(ApiError {
        kind: kind.into(),
        message: message.into(),
    })
}
