//! Keeping the kernel and BGP in line with the blocks IPAM holds: a blackhole per IPv4 block
//! (so unassigned addresses are dropped here, not looped back to the fabric) and every held
//! block, IPv4 and IPv6, announced by the speaker.

use std::sync::Arc;

use ipnet::IpNet;
use tokio::sync::Mutex;
use tracing::{info, warn};

use super::conflicts::Conflicts;
use crate::dataplane::{self, RTPROT_LATTICE};
use crate::kernel::Kernel;

/// Applies changes of the held block set.
#[derive(Debug)]
pub struct BlockAnnouncer {
    kernel: Arc<dyn Kernel>,
    speaker: bgp::driver::SpeakerHandle,
    conflicts: Arc<Conflicts>,
    announced: Mutex<Vec<IpNet>>,
}

impl BlockAnnouncer {
    /// Nothing announced yet.
    pub fn new(
        kernel: Arc<dyn Kernel>,
        speaker: bgp::driver::SpeakerHandle,
        conflicts: Arc<Conflicts>,
    ) -> Self {
        Self {
            kernel,
            speaker,
            conflicts,
            announced: Mutex::new(Vec::new()),
        }
    }

    /// Make blackholes and announcements match `blocks`.
    pub async fn sync(&self, blocks: Vec<IpNet>) -> Result<(), dataplane::DataplaneError> {
        let mut announced = self.announced.lock().await;
        if *announced == blocks {
            return Ok(());
        }
        for b in blocks.iter().filter(|b| !announced.contains(b)) {
            if let IpNet::V4(v4) = b {
                dataplane::ensure_blackhole(self.kernel.as_ref(), *v4).await?;
            }
            // IPv6 blackholes come with the IPv6 dataplane (the kernel trait is IPv4-only).
            info!(block = %b, "announcing block");
        }
        for b in announced.iter().filter(|b| !blocks.contains(b)) {
            if let IpNet::V4(v4) = b {
                if let Err(e) = self.kernel.delete_route(*v4, RTPROT_LATTICE).await {
                    warn!(block = %b, error = %e, "removing the blackhole of a given-back block");
                }
            }
            info!(block = %b, "withdrawing block");
        }
        self.speaker.set_local_prefixes(blocks.clone());
        self.conflicts.set_blocks(blocks.clone());
        *announced = blocks;
        Ok(())
    }
}
