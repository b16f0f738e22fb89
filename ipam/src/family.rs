//! The blocks one host holds in one address family, and the addresses inside them (pure).
//!
//! The first block is the host's primary block and is never given back. Further blocks are
//! borrowed when every held block is full, up to `max_blocks`; a borrowed block that becomes
//! empty is given back once it stayed empty for the grace period (see [`FamilyBlocks::expired`]),
//! so a container restarting right after its block drained does not move the host's routes.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::addr::IpNetExt;
use crate::pool::{Allocation, AllocationKey, Pool};

/// One held block.
#[derive(Debug, Clone)]
struct Held {
    pool: Pool,
    primary: bool,
    /// When (seconds, caller's clock) a borrowed block became empty; `None` while in use.
    empty_since: Option<u64>,
}

/// Why an allocation found no address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Every held block is full and another may be borrowed.
    MayBorrow,
    /// Every held block is full and `max_blocks` are held.
    AtLimit,
}

/// The blocks of one family and their allocations.
#[derive(Debug, Clone)]
pub struct FamilyBlocks {
    held: Vec<Held>,
    max_blocks: usize,
}

impl FamilyBlocks {
    /// No blocks yet; at most `max_blocks` (at least 1) will be held.
    pub fn new(max_blocks: usize) -> Self {
        Self {
            held: Vec::new(),
            max_blocks: max_blocks.max(1),
        }
    }

    /// Start holding `block`; false if it overlaps a held block (nothing changes).
    /// An empty borrowed block starts its grace period at `now`.
    pub fn add_block(&mut self, block: IpNet, primary: bool, now: u64) -> bool {
        let block = block.trunc();
        if self
            .held
            .iter()
            .any(|h| h.pool.block().contains(&block) || block.contains(&h.pool.block()))
        {
            return self
                .held
                .iter()
                .any(|h| h.pool.block() == block && h.primary == primary);
        }
        self.held.push(Held {
            pool: Pool::new(block),
            primary,
            empty_since: (!primary).then_some(now),
        });
        true
    }

    /// Stop holding `block`; false unless it is held, borrowed and empty.
    pub fn remove_block(&mut self, block: IpNet) -> bool {
        let before = self.held.len();
        self.held
            .retain(|h| !(h.pool.block() == block && !h.primary && h.pool.is_empty()));
        self.held.len() != before
    }

    /// The held blocks, primary first, then in the order they were borrowed.
    pub fn blocks(&self) -> Vec<IpNet> {
        self.held.iter().map(|h| h.pool.block()).collect()
    }

    /// The primary block, if one is held.
    pub fn primary(&self) -> Option<IpNet> {
        self.held.iter().find(|h| h.primary).map(|h| h.pool.block())
    }

    /// Whether another block may be borrowed.
    pub fn may_borrow(&self) -> bool {
        self.held.len() < self.max_blocks
    }

    /// `key`'s address.
    pub fn get(&self, key: &AllocationKey) -> Option<IpAddr> {
        self.held.iter().find_map(|h| h.pool.get(key))
    }

    /// `key`'s address, or the lowest free address of the first held block with room.
    pub fn allocate(&mut self, key: &AllocationKey) -> Result<IpAddr, Full> {
        if let Some(a) = self.get(key) {
            return Ok(a);
        }
        for h in &mut self.held {
            if let Some(a) = h.pool.allocate(key) {
                h.empty_since = None;
                return Ok(a);
            }
        }
        Err(if self.may_borrow() {
            Full::MayBorrow
        } else {
            Full::AtLimit
        })
    }

    /// Record `key` holding `address` (loading state); false if no held block takes it.
    pub fn insert(&mut self, key: &AllocationKey, address: IpAddr) -> bool {
        if self.get(key).is_some_and(|a| a != address) {
            return false;
        }
        let Some(h) = self
            .held
            .iter_mut()
            .find(|h| h.pool.block().contains(&address))
        else {
            return false;
        };
        let ok = h.pool.insert(key, address);
        if ok {
            h.empty_since = None;
        }
        ok
    }

    /// Release `key`'s address; a borrowed block left empty starts its grace period at `now`.
    pub fn release(&mut self, key: &AllocationKey, now: u64) -> Option<IpAddr> {
        self.held.iter_mut().find_map(|h| {
            let a = h.pool.release(key)?;
            if !h.primary && h.pool.is_empty() {
                h.empty_since = Some(now);
            }
            Some(a)
        })
    }

    /// Borrowed blocks empty for at least `grace` seconds at `now`: due to be given back.
    pub fn expired(&self, now: u64, grace: u64) -> Vec<IpNet> {
        self.held
            .iter()
            .filter(|h| {
                h.empty_since
                    .is_some_and(|since| now.saturating_sub(since) >= grace)
            })
            .map(|h| h.pool.block())
            .collect()
    }

    /// Every allocation, block by block in address order.
    pub fn allocations(&self) -> impl Iterator<Item = Allocation> + '_ {
        self.held.iter().flat_map(|h| h.pool.allocations())
    }

    /// Every key holding an address.
    pub fn keys(&self) -> impl Iterator<Item = &AllocationKey> + '_ {
        self.held.iter().flat_map(|h| h.pool.keys())
    }

    /// Addresses in the held blocks (saturating).
    pub fn capacity(&self) -> u128 {
        self.held
            .iter()
            .fold(0u128, |acc, h| acc.saturating_add(h.pool.block().size()))
    }

    /// Addresses held by containers.
    pub fn in_use(&self) -> usize {
        self.held.iter().map(|h| h.pool.in_use()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn k(i: usize) -> AllocationKey {
        AllocationKey::new(&format!("c{i}"), "eth0")
    }

    #[test]
    fn borrows_when_full_and_stops_at_the_limit() {
        let mut f = FamilyBlocks::new(2);
        assert!(f.add_block(net("10.0.0.0/30"), true, 0));
        for i in 0..4 {
            f.allocate(&k(i)).unwrap();
        }
        assert_eq!(f.allocate(&k(4)), Err(Full::MayBorrow));
        assert!(f.add_block(net("10.0.0.8/30"), false, 0));
        assert_eq!(f.allocate(&k(4)), Ok("10.0.0.8".parse().unwrap()));
        for i in 5..8 {
            f.allocate(&k(i)).unwrap();
        }
        assert_eq!(f.allocate(&k(8)), Err(Full::AtLimit));
        assert_eq!(f.in_use(), 8);
        assert_eq!(f.capacity(), 8);
    }

    #[test]
    fn overlapping_blocks_are_refused() {
        let mut f = FamilyBlocks::new(4);
        assert!(f.add_block(net("10.0.0.0/24"), true, 0));
        assert!(!f.add_block(net("10.0.0.128/25"), false, 0));
        assert!(!f.add_block(net("10.0.0.0/16"), false, 0));
        assert!(
            f.add_block(net("10.0.0.0/24"), true, 0),
            "re-adding is a no-op"
        );
        assert_eq!(f.blocks().len(), 1);
    }

    #[test]
    fn a_drained_borrowed_block_expires_after_the_grace_period_only() {
        let mut f = FamilyBlocks::new(2);
        f.add_block(net("10.0.0.0/31"), true, 0);
        f.add_block(net("10.0.0.2/31"), false, 0);
        for i in 0..3 {
            f.allocate(&k(i)).unwrap();
        }
        assert!(f.expired(1000, 10).is_empty());
        f.release(&k(2), 100);
        assert!(f.expired(105, 10).is_empty());
        assert_eq!(f.expired(110, 10), vec![net("10.0.0.2/31")]);
        // Used again within the grace period: no longer due.
        f.release(&k(0), 101);
        f.allocate(&k(5)).unwrap();
        f.allocate(&k(6)).unwrap();
        assert!(f.expired(200, 10).is_empty());
        assert!(!f.remove_block(net("10.0.0.2/31")), "in use");
        assert!(!f.remove_block(net("10.0.0.0/31")), "primary");
        f.release(&k(6), 300);
        assert!(f.remove_block(net("10.0.0.2/31")));
        assert_eq!(f.blocks(), vec![net("10.0.0.0/31")]);
    }

    #[test]
    fn insert_checks_blocks_and_owners() {
        let mut f = FamilyBlocks::new(2);
        f.add_block(net("10.0.0.0/24"), true, 0);
        assert!(f.insert(&k(1), "10.0.0.9".parse().unwrap()));
        assert!(!f.insert(&k(2), "10.0.0.9".parse().unwrap()));
        assert!(!f.insert(&k(1), "10.0.0.10".parse().unwrap()));
        assert!(!f.insert(&k(3), "10.0.1.1".parse().unwrap()));
    }
}
