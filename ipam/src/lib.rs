//! Lattice IPAM: the host's block and its containers' addresses.
//!
//! Every address of a block is usable, including the first and the last: a container holds a /32
//! routed to its veth, so there is no on-link subnet whose network or broadcast address would
//! need reserving (Calico makes the same choice). Allocation takes the lowest free address, so
//! the result depends only on the request history.
//!
//! State is one JSON file under `state_dir`, rewritten crash-safely (see [`store`]) before an
//! address is returned, so an acknowledged allocation survives a crash at any instant.

mod block;
mod error;
mod pool;
pub mod store;

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::Ipv4Net;

pub use block::choose_block;
pub use error::IpamError;
pub use pool::{Allocation, Pool};

/// How the host's IPAM is configured (from `cluster.*` and `ipam.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpamSettings {
    /// `cluster.cidr`: the range all blocks come from.
    pub cluster: Ipv4Net,
    /// `cluster.block_prefix_len`: size of each host block.
    pub block_prefix_len: u8,
    /// `ipam.block`: this host's block, if configured.
    pub block: Option<Ipv4Net>,
    /// `ipam.node_index`: otherwise, the index of this host's block in the cluster range.
    pub node_index: Option<u32>,
    /// `ipam.state_dir`: where allocations persist.
    pub state_dir: PathBuf,
}

/// The host's allocator, backed by its state directory.
#[derive(Debug)]
pub struct Ipam {
    pool: Pool,
    store: store::Store,
}

impl Ipam {
    /// Choose the block, take the state directory's lock and load what was allocated before.
    pub fn open(settings: &IpamSettings) -> Result<Ipam, IpamError> {
        let block = choose_block(settings)?;
        let store = store::Store::open(&settings.state_dir)?;
        let pool = match store.load()? {
            Some(state) if state.block != block => {
                return Err(IpamError::BlockChanged {
                    stored: state.block,
                    configured: block,
                })
            }
            Some(state) => {
                Pool::from_allocations(block, state.allocations).map_err(|e| match e {
                    IpamError::Corrupt { message, .. } => IpamError::Corrupt {
                        path: store.state_path(),
                        message,
                    },
                    other => other,
                })?
            }
            None => Pool::new(block),
        };
        Ok(Ipam { pool, store })
    }

    /// This host's block.
    pub fn block(&self) -> Ipv4Net {
        self.pool.block()
    }

    /// The address of (container, interface), allocating and persisting one if it has none.
    pub fn allocate(&mut self, container_id: &str, ifname: &str) -> Result<Allocation, IpamError> {
        if let Some(address) = self.pool.get(container_id, ifname) {
            return Ok(Allocation::new(container_id, ifname, address));
        }
        let address = self.pool.allocate(container_id, ifname)?;
        if let Err(e) = self.persist() {
            // Not acknowledged, so not kept: memory and disk stay equal.
            self.pool.release(container_id, ifname);
            return Err(e);
        }
        Ok(Allocation::new(container_id, ifname, address))
    }

    /// Release the address of (container, interface); `None` if it had none.
    pub fn release(
        &mut self,
        container_id: &str,
        ifname: &str,
    ) -> Result<Option<Ipv4Addr>, IpamError> {
        let Some(address) = self.pool.release(container_id, ifname) else {
            return Ok(None);
        };
        if let Err(e) = self.persist() {
            self.pool.insert(container_id, ifname, address);
            return Err(e);
        }
        Ok(Some(address))
    }

    /// The address of (container, interface), if allocated.
    pub fn get(&self, container_id: &str, ifname: &str) -> Option<Ipv4Addr> {
        self.pool.get(container_id, ifname)
    }

    /// Every allocation, in address order.
    pub fn allocations(&self) -> Vec<Allocation> {
        self.pool.allocations()
    }

    /// Addresses the block holds.
    pub fn capacity(&self) -> usize {
        self.pool.capacity()
    }

    /// Addresses allocated.
    pub fn in_use(&self) -> usize {
        self.pool.in_use()
    }

    fn persist(&self) -> Result<(), IpamError> {
        self.store.save(&store::State::new(
            self.pool.block(),
            self.pool.allocations(),
        ))
    }
}
