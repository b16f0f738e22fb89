//! Block conflicts: a peer advertising a prefix that overlaps a block this host holds.
//!
//! Two hosts claiming one block is a misconfiguration (a copied `ipam.block`, a restored
//! state, a split etcd). The prefix is never imported (it would steal our containers'
//! traffic); instead the conflict is logged once when it appears and once when it clears,
//! listed by `lattice status`, and counted for the metrics exporter.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;

use ipnet::IpNet;
use tracing::{error, info};

use crate::api::proto::BlockConflict;

/// The blocks this host holds and the advertised prefixes that overlap them.
#[derive(Debug, Default)]
pub struct Conflicts {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    blocks: Vec<IpNet>,
    active: BTreeMap<IpNet, BlockConflict>,
}

impl Conflicts {
    /// Replace the held blocks; conflicts with blocks no longer held clear.
    pub fn set_blocks(&self, blocks: Vec<IpNet>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.active.retain(|prefix, c| {
            let keep = blocks.contains(&c.block);
            if !keep {
                info!(%prefix, block = %c.block, "block conflict cleared: block given back");
            }
            keep
        });
        inner.blocks = blocks;
    }

    /// A route change for `prefix`: `true` if it overlaps a held block (and must not be
    /// imported). Empty `next_hops` (withdrawn) clears a conflict.
    pub fn observe(&self, prefix: IpNet, next_hops: &[IpAddr], now: u64) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        let block = inner
            .blocks
            .iter()
            .find(|b| b.contains(&prefix) || (prefix.prefix_len() > 0 && prefix.contains(*b)))
            .copied();
        if next_hops.is_empty() {
            if let Some(c) = inner.active.remove(&prefix) {
                info!(%prefix, block = %c.block, "block conflict cleared: prefix withdrawn");
            }
            return block.is_some();
        }
        let Some(block) = block else {
            return false;
        };
        // A covering prefix (the cluster range, an aggregate) is harmless: our routes are
        // more specific. Only a prefix inside our block claims our addresses.
        if !block.contains(&prefix) {
            return false;
        }
        let entry = inner.active.entry(prefix).or_insert_with(|| {
            error!(%prefix, %block, ?next_hops, "a peer advertises a prefix inside our block: two hosts claim the same addresses; not imported");
            BlockConflict {
                prefix,
                block,
                next_hops: Vec::new(),
                since: now,
            }
        });
        entry.next_hops = next_hops.to_vec();
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
        c.set_blocks(vec![net("10.244.1.0/24"), net("fd00::100/120")]);
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
        c.set_blocks(vec![net("10.244.1.0/24")]);
        assert_eq!(c.count(), 0);
    }
}
