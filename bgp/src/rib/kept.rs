//! A kept Adj-RIB-In: the paths a peer sent, as received (before loop detection and import
//! policy), for a peer that cannot be asked to send them again (it did not negotiate
//! ROUTE-REFRESH, RFC 2918). A changed import policy is then applied to them again here, as
//! FRR's `soft-reconfiguration inbound` does; a peer with ROUTE-REFRESH costs no memory.

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;

use super::store::Import;
use super::{Path, PeerId, PeerInfo, Rib};

impl Rib {
    /// Start (or stop) keeping what `peer` sends. Starting forgets anything kept before: call it
    /// when a session is established, before its first UPDATE.
    pub fn keep_received(&mut self, peer: PeerId, keep: bool) {
        if keep {
            self.kept.insert(peer, HashMap::new());
        } else {
            self.kept.remove(&peer);
        }
    }

    /// Whether `peer`'s Adj-RIB-In is kept.
    pub fn keeps_received(&self, peer: PeerId) -> bool {
        self.kept.contains_key(&peer)
    }

    /// Prefixes kept for `peer` (as received, whatever import made of them).
    pub fn kept_count(&self, peer: PeerId) -> usize {
        self.kept.get(&peer).map_or(0, HashMap::len)
    }

    /// The peer withdrew `prefix`.
    pub(super) fn forget_kept(&mut self, peer: PeerId, prefix: &IpNet) {
        if let Some(kept) = self.kept.get_mut(&peer) {
            kept.remove(prefix);
        }
    }

    /// Apply `import` (and loop detection with `peer`'s `allow_as_in`) again to everything kept
    /// for `peer`, as if the peer had sent it all again. Paths whose next hops do not change
    /// leave the Loc-RIB as it is (no change is reported for them). `None` if nothing is kept
    /// for the peer; else whether some prefix's next hops moved.
    pub fn reimport(&mut self, peer: PeerInfo, import: &mut Import) -> Option<bool> {
        let kept = self.kept.get(&peer.id)?;
        // Grouped by shared path, as they arrived, so a policy's changed paths stay shared.
        let mut groups: HashMap<*const Path, (Arc<Path>, Vec<IpNet>)> = HashMap::new();
        for (prefix, path) in kept {
            groups
                .entry(Arc::as_ptr(path))
                .or_insert_with(|| (path.clone(), Vec::new()))
                .1
                .push(*prefix);
        }
        let mut moved = false;
        for (_, (path, mut prefixes)) in groups {
            prefixes.sort_unstable();
            self.announce(peer, Some(path), prefixes.into_iter(), import, &mut |_| {
                moved = true
            });
        }
        self.flush_queued();
        Some(moved)
    }
}
