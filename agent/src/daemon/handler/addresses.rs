//! The IPAM requests: an address reserved without wiring (Docker's RequestAddress, which
//! wires later through its own calls) and `lattice ipam`.

use super::shared::{error, validate_key, AgentHandler};
use crate::daemon::usage;
use api::proto::{Allocation, IpamStatus, Reply};

impl AgentHandler {
    /// The Docker driver's RequestAddress: an address for a key, persisted, nothing wired.
    pub(super) async fn allocate(&self, container_id: String, ifname: String) -> Reply {
        if let Err(message) = validate_key(&container_id, &ifname) {
            return error("bad_request", message);
        }
        let key = ipam::AllocationKey::new(&container_id, &ifname);
        let mut ipam = self.ipam.lock().await;
        match ipam.allocate(&key, self.now()).await {
            Ok(a) => {
                // A borrowed block must be announced before its first container is reachable.
                self.sync_blocks(&ipam).await;
                Reply::Allocated {
                    address: a.v4,
                    address_v6: a.v6,
                }
            }
            Err(e @ ipam::IpamError::Exhausted { .. }) => error("exhausted", e.to_string()),
            Err(e) => error("ipam", e.to_string()),
        }
    }

    /// Blocks, usage and allocations.
    pub(super) async fn ipam_status(&self) -> Reply {
        let allocator = self.ipam.lock().await;
        let ipam = allocator.ipam();
        let allocations: Vec<Allocation> = ipam
            .allocations()
            .into_iter()
            .map(|a| Allocation {
                address: a.v4,
                address_v6: a.v6,
                container_id: a.key.container_id,
                ifname: a.key.ifname,
            })
            .collect();
        Reply::Ipam(IpamStatus {
            blocks: usage::block_usage(ipam),
            allocations,
        })
    }
}
