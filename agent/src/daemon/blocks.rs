//! Keeping the kernel and BGP in line with the blocks IPAM holds: a blackhole per block, IPv4
//! and IPv6 (so unassigned addresses are dropped here, not looped back to the fabric; the
//! reconciler keeps them), and every held block announced by the speaker.

use std::sync::Arc;

use ipnet::IpNet;
use tokio::sync::Mutex;
use tracing::info;

use super::clock::Clock;
use super::conflicts::Conflicts;
use super::reconciler::Reconciler;
use crate::dataplane;

/// Applies changes of the held block set.
#[derive(Debug)]
pub struct BlockAnnouncer {
    reconciler: Arc<Reconciler>,
    speaker: bgp::driver::SpeakerHandle,
    conflicts: Arc<Conflicts>,
    clock: Arc<dyn Clock>,
    announced: Mutex<Vec<IpNet>>,
}

impl BlockAnnouncer {
    /// Nothing announced yet; conflicts found when a block arrives are dated by `clock`.
    pub fn new(
        reconciler: Arc<Reconciler>,
        speaker: bgp::driver::SpeakerHandle,
        conflicts: Arc<Conflicts>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            reconciler,
            speaker,
            conflicts,
            clock,
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
            info!(block = %b, "announcing block");
        }
        for b in announced.iter().filter(|b| !blocks.contains(b)) {
            info!(block = %b, "withdrawing block");
        }
        // Blackholes first: a block is never announced before its blackhole is in place.
        self.reconciler.set_blocks(blocks.clone()).await;
        self.speaker.set_local_prefixes(blocks.clone());
        // What peers advertise now inside a newly held block is a conflict at once.
        let advertised: Vec<(ipnet::IpNet, Vec<std::net::IpAddr>)> = self
            .speaker
            .loc_rib()
            .into_iter()
            .map(|(p, hops)| (p, hops.iter().map(|h| h.address).collect()))
            .collect();
        self.conflicts
            .set_blocks(blocks.clone(), &advertised, self.clock.now());
        *announced = blocks;
        Ok(())
    }
}
