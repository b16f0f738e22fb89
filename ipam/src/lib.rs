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
//! Where blocks come from is the datastore's business ([`Datastore`]): `local` (configured),
//! `fan` (computed from the underlay address) or `etcd` (claimed by compare-and-swap, see
//! [`etcd`]). Allocations persist under `state_dir` in every case, journaled before an address
//! is returned (see [`store`]), so an acknowledged allocation survives a crash at any instant.

mod addr;
mod allocator;
mod block;
mod error;
pub mod etcd;
mod family;
mod host;
mod pool;
mod state;
pub mod store;

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

pub use allocator::Allocator;
pub use block::{choose_block, fixed_blocks, FixedBlocks};
pub use error::IpamError;
pub use host::{Assigned, Ipam};
pub use pool::{Allocation, AllocationKey, Pool};
pub use state::Record;

/// Default IPv6 block length: /120, 256 addresses like the IPv4 default /24, so one block of each
/// family serves the same containers; a /64 per host would leave 2^64 addresses unused.
pub const DEFAULT_BLOCK_PREFIX_LEN_V6: u8 = 120;
/// Default `ipam.max_blocks_per_host`.
pub const DEFAULT_MAX_BLOCKS_PER_HOST: usize = 4;
/// Default `ipam.block_grace_period` in seconds.
pub const DEFAULT_GRACE_PERIOD_SECS: u64 = 300;

/// Where the host's blocks come from (`ipam.datastore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datastore {
    /// Configured blocks (`ipam.block`/`ipam.node_index`, `ipam.blocks`).
    Local,
    /// Computed from `address` inside `underlay` (`ipam.fan`).
    Fan {
        /// `ipam.fan.underlay`: the hosts' underlay range.
        underlay: Ipv4Net,
        /// This host's underlay address.
        address: Ipv4Addr,
    },
    /// Claimed in etcd (`ipam.etcd`).
    Etcd {
        /// `ipam.etcd.endpoints`.
        endpoints: Vec<String>,
        /// `ipam.etcd.prefix`: the key prefix of this cluster.
        prefix: String,
        /// This host's name (`node.name`), the owner recorded on its blocks.
        node: String,
    },
}

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
