//! The in-memory allocator of one block (pure: no I/O).

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::IpamError;

/// One container interface's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// Caller's container id.
    pub container_id: String,
    /// Interface name inside the container.
    pub ifname: String,
    /// The address.
    pub address: Ipv4Addr,
}

impl Allocation {
    /// An allocation record.
    pub fn new(container_id: &str, ifname: &str, address: Ipv4Addr) -> Self {
        Self {
            container_id: container_id.to_string(),
            ifname: ifname.to_string(),
            address,
        }
    }
}

type Key = (String, String);

/// Addresses of one block and who holds them; each address has at most one owner by construction.
#[derive(Debug, Clone)]
pub struct Pool {
    block: Ipv4Net,
    by_addr: BTreeMap<Ipv4Addr, Key>,
    by_key: HashMap<Key, Ipv4Addr>,
}

impl Pool {
    /// An empty pool over `block`.
    pub fn new(block: Ipv4Net) -> Self {
        Self {
            block,
            by_addr: BTreeMap::new(),
            by_key: HashMap::new(),
        }
    }

    /// A pool holding `allocations`; refuses records outside the block or held twice.
    pub fn from_allocations(
        block: Ipv4Net,
        allocations: Vec<Allocation>,
    ) -> Result<Self, IpamError> {
        let mut pool = Self::new(block);
        for a in allocations {
            let duplicate = pool.by_addr.contains_key(&a.address)
                || pool
                    .by_key
                    .contains_key(&(a.container_id.clone(), a.ifname.clone()));
            if !block.contains(&a.address) || duplicate {
                return Err(IpamError::Corrupt {
                    path: Default::default(),
                    message: format!(
                        "allocation {} for {}/{} is outside {block} or held twice",
                        a.address, a.container_id, a.ifname
                    ),
                });
            }
            pool.insert(&a.container_id, &a.ifname, a.address);
        }
        Ok(pool)
    }

    /// The block.
    pub fn block(&self) -> Ipv4Net {
        self.block
    }

    /// Allocate the lowest free address to `key` (which must not hold one).
    pub fn allocate(&mut self, container_id: &str, ifname: &str) -> Result<Ipv4Addr, IpamError> {
        if let Some(a) = self.get(container_id, ifname) {
            return Ok(a);
        }
        let address = self.lowest_free().ok_or(IpamError::Exhausted {
            block: self.block,
            capacity: self.capacity(),
        })?;
        self.insert(container_id, ifname, address);
        Ok(address)
    }

    /// Record `address` as held by `key`.
    pub fn insert(&mut self, container_id: &str, ifname: &str, address: Ipv4Addr) {
        let key = (container_id.to_string(), ifname.to_string());
        self.by_addr.insert(address, key.clone());
        self.by_key.insert(key, address);
    }

    /// Release `key`'s address, if any.
    pub fn release(&mut self, container_id: &str, ifname: &str) -> Option<Ipv4Addr> {
        let address = self
            .by_key
            .remove(&(container_id.to_string(), ifname.to_string()))?;
        self.by_addr.remove(&address);
        Some(address)
    }

    /// `key`'s address.
    pub fn get(&self, container_id: &str, ifname: &str) -> Option<Ipv4Addr> {
        self.by_key
            .get(&(container_id.to_string(), ifname.to_string()))
            .copied()
    }

    /// Every allocation in address order.
    pub fn allocations(&self) -> Vec<Allocation> {
        self.by_addr
            .iter()
            .map(|(addr, (id, ifname))| Allocation::new(id, ifname, *addr))
            .collect()
    }

    /// Size of the block.
    pub fn capacity(&self) -> usize {
        1usize << (32 - u32::from(self.block.prefix_len()))
    }

    /// Addresses held.
    pub fn in_use(&self) -> usize {
        self.by_addr.len()
    }

    /// First address of the block not held, walking held addresses in order.
    fn lowest_free(&self) -> Option<Ipv4Addr> {
        let first = u32::from(self.block.network());
        let last = u32::from(self.block.broadcast());
        let mut candidate = first;
        for held in self.by_addr.keys().map(|a| u32::from(*a)) {
            if held != candidate {
                break;
            }
            candidate = candidate.checked_add(1)?;
        }
        (candidate <= last).then(|| Ipv4Addr::from(candidate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(block: &str) -> Pool {
        Pool::new(block.parse().unwrap())
    }

    #[test]
    fn allocates_lowest_free_and_reuses_gaps() {
        let mut p = pool("10.244.1.0/24");
        assert_eq!(
            p.allocate("a", "eth0").unwrap(),
            Ipv4Addr::new(10, 244, 1, 0)
        );
        assert_eq!(
            p.allocate("b", "eth0").unwrap(),
            Ipv4Addr::new(10, 244, 1, 1)
        );
        assert_eq!(
            p.allocate("c", "eth0").unwrap(),
            Ipv4Addr::new(10, 244, 1, 2)
        );
        assert_eq!(p.release("b", "eth0"), Some(Ipv4Addr::new(10, 244, 1, 1)));
        assert_eq!(
            p.allocate("d", "eth0").unwrap(),
            Ipv4Addr::new(10, 244, 1, 1)
        );
    }

    #[test]
    fn same_key_same_address() {
        let mut p = pool("10.244.1.0/24");
        let a = p.allocate("a", "eth0").unwrap();
        assert_eq!(p.allocate("a", "eth0").unwrap(), a);
        assert_ne!(p.allocate("a", "eth1").unwrap(), a);
        assert_eq!(p.in_use(), 2);
    }

    #[test]
    fn exhaustion_is_an_error_not_a_wrong_address() {
        let mut p = pool("10.244.1.0/30");
        for i in 0..4 {
            p.allocate(&i.to_string(), "eth0").unwrap();
        }
        assert!(matches!(
            p.allocate("x", "eth0"),
            Err(IpamError::Exhausted { capacity: 4, .. })
        ));
        let mut full = pool("255.255.255.255/32");
        full.allocate("a", "eth0").unwrap();
        assert!(matches!(
            full.allocate("b", "eth0"),
            Err(IpamError::Exhausted { .. })
        ));
    }

    #[test]
    fn release_is_idempotent() {
        let mut p = pool("10.244.1.0/24");
        p.allocate("a", "eth0").unwrap();
        assert!(p.release("a", "eth0").is_some());
        assert!(p.release("a", "eth0").is_none());
        assert_eq!(p.in_use(), 0);
    }

    #[test]
    fn loading_refuses_double_owners_and_strays() {
        let block: Ipv4Net = "10.244.1.0/24".parse().unwrap();
        let a = Allocation::new("a", "eth0", Ipv4Addr::new(10, 244, 1, 5));
        let b = Allocation::new("b", "eth0", Ipv4Addr::new(10, 244, 1, 5));
        let stray = Allocation::new("c", "eth0", Ipv4Addr::new(10, 244, 2, 5));
        assert!(Pool::from_allocations(block, vec![a.clone(), b]).is_err());
        assert!(Pool::from_allocations(block, vec![stray]).is_err());
        assert_eq!(Pool::from_allocations(block, vec![a]).unwrap().in_use(), 1);
    }
}
