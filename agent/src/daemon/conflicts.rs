//! Block conflicts: a peer advertising a prefix that overlaps a block this host holds.
//!
//! Two hosts claiming one block is a misconfiguration (a copied `ipam.block`, a restored
//! state, a split etcd). The prefix is never imported (it would steal our containers'
//! traffic); instead the conflict is logged once when it appears and once when it clears,
//! listed by `lattice status`, and counted for the metrics exporter.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use api::proto::BlockConflict;
use ipnet::IpNet;
use tracing::{error, info};

use crate::metrics::Metrics;

/// The blocks this host holds and the advertised prefixes that overlap them.
#[derive(Debug, Default)]
pub struct Conflicts {
    inner: Mutex<Inner>,
    /// Where each new conflict is counted, once the daemon has it.
    metrics: OnceLock<Arc<Metrics>>,
}

#[derive(Debug, Default)]
struct Inner {
    blocks: Vec<IpNet>,
    active: BTreeMap<IpNet, BlockConflict>,
}

impl Inner {
    /// The held block `prefix` lies inside, if any (a covering prefix, such as the cluster
    /// range or an aggregate, is harmless: our routes are more specific).
    fn block_of(&self, prefix: &IpNet) -> Option<IpNet> {
        self.blocks.iter().find(|b| b.contains(prefix)).copied()
    }

    /// Record the conflict (or refresh its next hops); true if it is new.
    fn raise(&mut self, prefix: IpNet, block: IpNet, next_hops: &[IpAddr], now: u64) -> bool {
        let mut new = false;
        let entry = self.active.entry(prefix).or_insert_with(|| {
            new = true;
            error!(%prefix, %block, ?next_hops, "a peer advertises a prefix inside our block: two hosts claim the same addresses; not imported");
            BlockConflict {
                prefix,
                block,
                next_hops: Vec::new(),
                since: now,
            }
        });
        entry.next_hops = next_hops.to_vec();
        new
    }
}

impl Conflicts {
    /// Count new conflicts in `metrics` from now on (set once; later calls are ignored).
    pub fn set_metrics(&self, metrics: Arc<Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    fn count_new(&self, n: usize) {
        if let Some(m) = self.metrics.get() {
            for _ in 0..n {
                m.ipam_block_conflict();
            }
        }
    }

    /// Replace the held blocks at `now`: conflicts with blocks no longer held clear, and what
    /// peers already advertise (`advertised`: the speaker's Loc-RIB) inside a held block is
    /// raised.
    pub fn set_blocks(&self, blocks: Vec<IpNet>, advertised: &[(IpNet, Vec<IpAddr>)], now: u64) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let mut new = 0;
        inner.active.retain(|prefix, c| {
            let keep = blocks.contains(&c.block);
            if !keep {
                info!(%prefix, block = %c.block, "block conflict cleared: block given back");
            }
            keep
        });
        inner.blocks = blocks;
        for (prefix, hops) in advertised {
            if let Some(block) = inner.block_of(prefix) {
                new += usize::from(inner.raise(*prefix, block, hops, now));
            }
        }
        drop(inner);
        self.count_new(new);
    }

    /// A route change for `prefix`: `true` if it lies inside a held block (and must not be
    /// imported). Empty `next_hops` (withdrawn) clears a conflict.
    pub fn observe(&self, prefix: IpNet, next_hops: &[IpAddr], now: u64) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        let block = inner.block_of(&prefix);
        if next_hops.is_empty() {
            if let Some(c) = inner.active.remove(&prefix) {
                info!(%prefix, block = %c.block, "block conflict cleared: prefix withdrawn");
            }
            return block.is_some();
        }
        let Some(block) = block else {
            return false;
        };
        let new = inner.raise(prefix, block, next_hops, now);
        drop(inner);
        self.count_new(usize::from(new));
        true
    }

    /// The current conflicts, by prefix.
    pub fn list(&self) -> Vec<BlockConflict> {
        self.inner
            .lock()
            .map(|i| i.active.values().cloned().collect())
            .unwrap_or_default()
    }

    /// How many conflicts are active (for metrics).
    pub fn count(&self) -> usize {
        self.inner.lock().map(|i| i.active.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn overlap_is_raised_once_and_cleared_by_withdraw_or_release() {
        let c = Conflicts::default();
        c.set_blocks(vec![net("10.244.1.0/24"), net("fd00::100/120")], &[], 0);
        let hop = ["10.0.0.9".parse().unwrap()];
        assert!(!c.observe(net("10.244.2.0/24"), &hop, 1));
        assert!(
            !c.observe(net("10.244.0.0/16"), &hop, 1),
            "covering: harmless"
        );
        assert!(!c.observe(net("0.0.0.0/0"), &hop, 1));
        assert!(c.observe(net("10.244.1.0/24"), &hop, 5));
        assert!(c.observe(net("10.244.1.0/24"), &hop, 6));
        assert!(c.observe(net("fd00::180/121"), &hop, 7));
        assert_eq!(c.count(), 2);
        assert_eq!(c.list()[0].since, 5);
        assert!(c.observe(net("10.244.1.0/24"), &[], 8));
        assert_eq!(c.count(), 1);
        c.set_blocks(vec![net("10.244.1.0/24")], &[], 9);
        assert_eq!(c.count(), 0);
    }

    #[test]
    fn a_block_borrowed_after_a_peer_announced_it_is_a_conflict_at_once() {
        let c = Conflicts::default();
        c.set_blocks(vec![net("10.244.1.0/24")], &[], 0);
        let hop: [IpAddr; 1] = ["10.0.0.9".parse().unwrap()];
        assert!(!c.observe(net("10.244.2.0/24"), &hop, 1));
        let loc_rib = [(net("10.244.2.0/24"), hop.to_vec())];
        c.set_blocks(
            vec![net("10.244.1.0/24"), net("10.244.2.0/24")],
            &loc_rib,
            2,
        );
        let list = c.list();
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].prefix, list[0].since), (net("10.244.2.0/24"), 2));
        assert!(
            c.observe(net("10.244.2.0/24"), &[], 3),
            "the withdrawal is not imported either"
        );
        assert_eq!(c.count(), 0);
    }
}
