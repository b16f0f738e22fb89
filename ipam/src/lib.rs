//! Lattice IPAM: the host's blocks and its containers' addresses.
//!
//! Cluster ranges (`cluster.cidr`, and `cluster.cidr_v6` for dual stack) are carved into blocks.
//! A host holds a primary block per family and borrows further blocks when its blocks are full,
//! up to `ipam.max_blocks_per_host`; a borrowed block that drains is given back after a grace
//! period. Every address of a block is usable, including the first and the last: a container
//! holds a /32 (/128) routed to its veth, so there is no on-link subnet whose network or
//! broadcast address would need reserving (Calico makes the same choice). Allocation takes the
//! lowest free address, so the result depends only on the request history.
//!
//! Addresses are keyed by (container id, interface name): asking again returns the same
//! addresses, releasing is idempotent, and [`Ipam::gc`] releases every key not in a live set.
//!
//! Where blocks come from is the datastore's business, behind one trait ([`BlockSource`], see
//! [`source`]): `local` (configured), `fan` (computed from the underlay address) or `etcd`
//! (claimed by compare-and-swap, see [`etcd`]). Allocations persist under `state_dir` in every
//! case, journaled before an address is returned (see [`store`]), so an acknowledged allocation
//! survives a crash at any instant.

mod addr;
mod allocator;
mod error;
mod family;
mod host;
mod pool;
pub mod source;
mod state;
pub mod store;

use std::path::PathBuf;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

pub use allocator::Allocator;
pub use error::IpamError;
pub use host::{Assigned, Ipam};
pub use pool::{Allocation, AllocationKey, Pool};
pub use source::{choose_block, etcd, fixed_blocks, BlockSource, Datastore, FixedBlocks};
pub use state::Record;

/// Default IPv6 block length: /120, 256 addresses like the IPv4 default /24, so one block of each
/// family serves the same containers; a /64 per host would leave 2^64 addresses unused.
pub const DEFAULT_BLOCK_PREFIX_LEN_V6: u8 = 120;
/// Default `ipam.max_blocks_per_host`.
pub const DEFAULT_MAX_BLOCKS_PER_HOST: usize = 4;
/// Default `ipam.block_grace_period` in seconds.
pub const DEFAULT_GRACE_PERIOD_SECS: u64 = 300;

/// How the host's IPAM is configured (from `cluster.*` and `ipam.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpamSettings {
    /// `cluster.cidr`: the range all IPv4 blocks come from.
    pub cluster: Ipv4Net,
    /// `cluster.block_prefix_len`: size of each IPv4 block.
    pub block_prefix_len: u8,
    /// `cluster.cidr_v6`: the IPv6 range, for dual stack.
    pub cluster_v6: Option<Ipv6Net>,
    /// `cluster.block_prefix_len_v6`: size of each IPv6 block.
    pub block_prefix_len_v6: u8,
    /// `ipam.block`: this host's IPv4 block, if configured.
    pub block: Option<Ipv4Net>,
    /// `ipam.block_v6`: this host's IPv6 block, if configured.
    pub block_v6: Option<Ipv6Net>,
    /// `ipam.node_index`: otherwise, the index of this host's block in the cluster ranges.
    pub node_index: Option<u32>,
    /// `ipam.blocks`: further blocks a `local` host may borrow, in order.
    pub blocks: Vec<IpNet>,
    /// `ipam.max_blocks_per_host`: blocks held per family at most.
    pub max_blocks_per_host: usize,
    /// `ipam.block_grace_period`: seconds a drained borrowed block (or a dead host's blocks in
    /// etcd) is kept before it returns to the pool.
    pub grace_period_secs: u64,
    /// `ipam.state_dir`: where allocations persist.
    pub state_dir: PathBuf,
    /// `ipam.datastore` and its settings.
    pub datastore: Datastore,
}

impl IpamSettings {
    /// A `local` host over `cluster` with every other setting at its default.
    pub fn new(cluster: Ipv4Net, state_dir: PathBuf) -> Self {
        Self {
            cluster,
            block_prefix_len: 24,
            cluster_v6: None,
            block_prefix_len_v6: DEFAULT_BLOCK_PREFIX_LEN_V6,
            block: None,
            block_v6: None,
            node_index: None,
            blocks: Vec::new(),
            max_blocks_per_host: DEFAULT_MAX_BLOCKS_PER_HOST,
            grace_period_secs: DEFAULT_GRACE_PERIOD_SECS,
            state_dir,
            datastore: Datastore::Local,
        }
    }
}

impl IpamSettings {
    /// The cluster range and block length of a family (IPv6 without `cluster_v6`: IPv4's).
    pub fn range(&self, v6: bool) -> (IpNet, u8) {
        match (v6, self.cluster_v6) {
            (true, Some(c6)) => (IpNet::V6(c6), self.block_prefix_len_v6),
            _ => (IpNet::V4(self.cluster), self.block_prefix_len),
        }
    }

    /// The cluster range and block length of each configured family, IPv4 first.
    pub fn families(&self) -> Vec<(IpNet, u8)> {
        let mut all = vec![self.range(false)];
        if self.cluster_v6.is_some() {
            all.push(self.range(true));
        }
        all
    }
}
