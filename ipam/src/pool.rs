//! The in-memory allocator of one block (pure: no I/O), IPv4 or IPv6.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::addr::{offset_of, IpNetExt};

/// Who holds an address: one interface of one container.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AllocationKey {
    /// Caller's container id.
    pub container_id: String,
    /// Interface name inside the container.
    pub ifname: String,
}

impl AllocationKey {
    /// A key from its parts.
    pub fn new(container_id: &str, ifname: &str) -> Self {
        Self {
            container_id: container_id.to_string(),
            ifname: ifname.to_string(),
        }
    }
}

/// One container interface's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// Caller's container id.
    pub container_id: String,
    /// Interface name inside the container.
    pub ifname: String,
    /// The address.
    pub address: IpAddr,
}

impl Allocation {
    /// An allocation record.
    pub fn new(key: &AllocationKey, address: IpAddr) -> Self {
        Self {
            container_id: key.container_id.clone(),
            ifname: key.ifname.clone(),
            address,
        }
    }

    /// Its key.
    pub fn key(&self) -> AllocationKey {
        AllocationKey::new(&self.container_id, &self.ifname)
    }
}

/// Addresses of one block and who holds them; each address has at most one owner by construction.
#[derive(Debug, Clone)]
pub struct Pool {
    block: IpNet,
    /// Offset inside the block -> holder; ordered so the lowest free offset is found by walking.
    by_offset: BTreeMap<u128, AllocationKey>,
    by_key: HashMap<AllocationKey, u128>,
}

impl Pool {
    /// An empty pool over `block` (host bits are ignored).
    pub fn new(block: IpNet) -> Self {
        Self {
            block: block.trunc(),
            by_offset: BTreeMap::new(),
            by_key: HashMap::new(),
        }
    }

    /// The block.
    pub fn block(&self) -> IpNet {
        self.block
    }

    /// The lowest free address, held by `key` from now on; `None` when the block is full.
    /// A key that already holds an address here keeps it.
    pub fn allocate(&mut self, key: &AllocationKey) -> Option<IpAddr> {
        if let Some(a) = self.get(key) {
            return Some(a);
        }
        let offset = self.lowest_free()?;
        self.by_offset.insert(offset, key.clone());
        self.by_key.insert(key.clone(), offset);
        Some(self.block.at(offset))
    }

    /// Record `address` as held by `key`; false (and nothing changed) if it is outside the block,
    /// held by another key, or `key` holds another address.
    pub fn insert(&mut self, key: &AllocationKey, address: IpAddr) -> bool {
        let Some(offset) = offset_of(self.block, address) else {
            return false;
        };
        match (self.by_offset.get(&offset), self.by_key.get(key)) {
            (None, None) => {
                self.by_offset.insert(offset, key.clone());
                self.by_key.insert(key.clone(), offset);
                true
            }
            (Some(holder), Some(o)) => holder == key && *o == offset,
            _ => false,
        }
    }

    /// Release `key`'s address, if any.
    pub fn release(&mut self, key: &AllocationKey) -> Option<IpAddr> {
        let offset = self.by_key.remove(key)?;
        self.by_offset.remove(&offset);
        Some(self.block.at(offset))
    }

    /// `key`'s address.
    pub fn get(&self, key: &AllocationKey) -> Option<IpAddr> {
        self.by_key.get(key).map(|o| self.block.at(*o))
    }

    /// Every allocation in address order.
    pub fn allocations(&self) -> impl Iterator<Item = Allocation> + '_ {
        self.by_offset
            .iter()
            .map(|(o, key)| Allocation::new(key, self.block.at(*o)))
    }

    /// Every key holding an address here.
    pub fn keys(&self) -> impl Iterator<Item = &AllocationKey> + '_ {
        self.by_key.keys()
    }

    /// Size of the block (saturating at `u128::MAX` for a /0 of IPv6).
    pub fn capacity(&self) -> u128 {
        self.block.size()
    }

    /// Addresses held.
    pub fn in_use(&self) -> usize {
        self.by_offset.len()
    }

    /// Whether no address is held.
    pub fn is_empty(&self) -> bool {
        self.by_offset.is_empty()
    }

    /// First offset not held, walking held offsets in order.
    fn lowest_free(&self) -> Option<u128> {
        let mut candidate: u128 = 0;
        for held in self.by_offset.keys() {
            if *held != candidate {
                break;
            }
            candidate = candidate.checked_add(1)?;
        }
        (candidate <= self.block.last_offset()).then_some(candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(block: &str) -> Pool {
        Pool::new(block.parse().unwrap())
    }

    fn k(id: &str) -> AllocationKey {
        AllocationKey::new(id, "eth0")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn allocates_lowest_free_and_reuses_gaps() {
        let mut p = pool("10.244.1.0/24");
        assert_eq!(p.allocate(&k("a")), Some(ip("10.244.1.0")));
        assert_eq!(p.allocate(&k("b")), Some(ip("10.244.1.1")));
        assert_eq!(p.allocate(&k("c")), Some(ip("10.244.1.2")));
        assert_eq!(p.release(&k("b")), Some(ip("10.244.1.1")));
        assert_eq!(p.allocate(&k("d")), Some(ip("10.244.1.1")));
    }

    #[test]
    fn ipv6_blocks_work_the_same() {
        let mut p = pool("fd00:10:244::100/120");
        assert_eq!(p.block().to_string(), "fd00:10:244::100/120");
        assert_eq!(p.allocate(&k("a")), Some(ip("fd00:10:244::100")));
        assert_eq!(p.allocate(&k("b")), Some(ip("fd00:10:244::101")));
        assert_eq!(p.capacity(), 256);
        let mut huge = pool("fd00::/64");
        assert_eq!(huge.capacity(), 1 << 64);
        assert_eq!(huge.allocate(&k("a")), Some(ip("fd00::")));
    }

    #[test]
    fn same_key_same_address() {
        let mut p = pool("10.244.1.0/24");
        let a = p.allocate(&k("a")).unwrap();
        assert_eq!(p.allocate(&k("a")), Some(a));
        assert_ne!(p.allocate(&AllocationKey::new("a", "eth1")), Some(a));
        assert_eq!(p.in_use(), 2);
    }

    #[test]
    fn a_full_block_gives_none_not_a_wrong_address() {
        let mut p = pool("10.244.1.0/30");
        for i in 0..4 {
            assert!(p.allocate(&k(&i.to_string())).is_some());
        }
        assert_eq!(p.allocate(&k("x")), None);
        let mut last = pool("255.255.255.255/32");
        assert_eq!(last.allocate(&k("a")), Some(ip("255.255.255.255")));
        assert_eq!(last.allocate(&k("b")), None);
        let mut last6 = pool("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");
        assert!(last6.allocate(&k("a")).is_some());
        assert!(last6.allocate(&k("b")).is_some());
        assert_eq!(last6.allocate(&k("c")), None);
    }

    #[test]
    fn release_is_idempotent() {
        let mut p = pool("10.244.1.0/24");
        p.allocate(&k("a")).unwrap();
        assert!(p.release(&k("a")).is_some());
        assert!(p.release(&k("a")).is_none());
        assert!(p.is_empty());
    }

    #[test]
    fn insert_refuses_double_owners_and_strays() {
        let mut p = pool("10.244.1.0/24");
        assert!(p.insert(&k("a"), ip("10.244.1.5")));
        assert!(
            p.insert(&k("a"), ip("10.244.1.5")),
            "the same record again is fine"
        );
        assert!(!p.insert(&k("b"), ip("10.244.1.5")));
        assert!(!p.insert(&k("a"), ip("10.244.1.6")));
        assert!(!p.insert(&k("c"), ip("10.244.2.5")));
        assert!(!p.insert(&k("c"), ip("fd00::1")));
        assert_eq!(p.in_use(), 1);
    }
}
