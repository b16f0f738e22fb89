//! The container lifecycle requests (CNI ADD, DEL and GC; Docker's release): an address from
//! IPAM, the wiring through the reconciler, and both undone.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;

use tracing::{info, warn};

use super::shared::{error, validate_key, AgentHandler};
use crate::dataplane;
use api::proto::{Attachment, AttachmentKey, Reply};

impl AgentHandler {
    /// Allocate (or find) the container's addresses and wire it; a failed wiring gives a new
    /// address back.
    pub(super) async fn attach(
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
        let assigned = match ipam.allocate(&key, self.now()).await {
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
                    if let Err(re) = ipam.release(&key, self.now()) {
                        warn!(error = %re, "releasing address after a failed attach");
                    }
                }
                error("kernel", format!("wiring {container_id}/{ifname}: {e}"))
            }
        }
    }

    /// Unwire the container, then release its addresses.
    pub(super) async fn detach(&self, container_id: String, ifname: String) -> Reply {
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
        match ipam.release(&key, self.now()) {
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
    pub(super) async fn gc(&self, keep: Vec<AttachmentKey>) -> Reply {
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
        let released = match ipam.gc(&keep, self.now()) {
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
}
