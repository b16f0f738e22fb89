//! Where a host's blocks come from: the `ipam.datastore` seam.
//!
//! Every datastore is a [`BlockSource`]: `local` (`local.rs`: configured blocks), `fan`
//! (`fan.rs`: blocks computed from the host's underlay address) and `etcd` ([`etcd`]: blocks
//! claimed by compare-and-swap on a host lease). [`Datastore`] names one with its settings, and
//! [`configure`] is the one place that turns the name into the source. A new datastore is a new
//! module here, a [`Datastore`] variant and its arm in [`configure`]; nothing else in the crate
//! knows which datastore is in use.
//!
//! Two kinds of source exist. Sources that decide blocks without asking anyone (local, fan)
//! report them up front ([`BlockSource::fixed`]): the allocator holds the primaries and borrows
//! the others inside the allocation that needs them, in the same journal write. Sources that
//! coordinate with other hosts (etcd) report none and are asked for one block at a time
//! ([`BlockSource::claim`]) when the held ones are full.

mod checks;
pub mod etcd;
mod fan;
mod local;

use std::any::Any;
use std::net::Ipv4Addr;

use async_trait::async_trait;
use ipnet::{IpNet, Ipv4Net};

use crate::{IpamError, IpamSettings};

pub use local::choose_block;

/// Which datastore supplies the host's blocks (`ipam.datastore`), with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datastore {
    /// Configured blocks (`ipam.block`/`ipam.node_index`, `ipam.blocks`).
    Local,
    /// Computed from this host's address inside `underlay` (`ipam.fan`).
    Fan {
        /// `ipam.fan.underlay`: the hosts' underlay range.
        underlay: Ipv4Net,
        /// This host's addresses, best first: the first one inside `underlay` is its underlay
        /// address (none inside is refused, naming the first). The agent passes
        /// `ipam.fan.address` alone when it is set, else `node.router_id` followed by the
        /// IPv4 addresses its uplinks hold.
        addresses: Vec<Ipv4Addr>,
    },
    /// Claimed in etcd (`ipam.etcd`).
    Etcd {
        /// `ipam.etcd.endpoints`.
        endpoints: Vec<String>,
        /// `ipam.etcd.prefix`: the key prefix of this cluster.
        prefix: String,
        /// This host's name (`node.name`), the owner recorded on its blocks.
        node: String,
        /// TLS files and credentials (`ipam.etcd.ca_file` ... `password_file`).
        security: etcd::EtcdSecurity,
    },
}

/// The primary block of each family and the blocks the host may borrow, for datastores that
/// decide blocks without coordination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedBlocks {
    /// The IPv4 primary block.
    pub v4: IpNet,
    /// The IPv6 primary block, when IPv6 is configured.
    pub v6: Option<IpNet>,
    /// Blocks that may be borrowed, in order of preference.
    pub borrowable: Vec<IpNet>,
}

/// A datastore: where the host's blocks come from and where they go back.
#[async_trait]
pub trait BlockSource: Send + Sync + std::fmt::Debug {
    /// Blocks known without asking anyone (local, fan): each family's primary and the ones
    /// that may be borrowed. `None`: blocks are claimed one at a time ([`BlockSource::claim`]).
    fn fixed(&self) -> Option<&FixedBlocks>;

    /// Called once when the allocator opens, with the blocks the local state holds: connect,
    /// and take those blocks back where claims live outside this host (etcd: on this run's
    /// lease). A held block that another host has claimed meanwhile is an error: two hosts would
    /// hand out the same addresses.
    async fn start(&mut self, held: &[IpNet]) -> Result<(), IpamError> {
        let _ = held;
        Ok(())
    }

    /// Claim a `/len` block of `range` that is not in `held` (a primary at open, or a block to
    /// borrow when every held one is full). Sources with fixed blocks have nothing beyond them:
    /// the default answers [`IpamError::NeedBlock`].
    async fn claim(&self, range: IpNet, len: u8, held: &[IpNet]) -> Result<IpNet, IpamError> {
        let _ = (len, held);
        Err(IpamError::NeedBlock {
            family: family(range),
        })
    }

    /// Give `block` back (it stayed empty for the grace period, or could not be recorded).
    async fn release(&self, block: IpNet) -> Result<(), IpamError> {
        let _ = block;
        Ok(())
    }

    /// The source itself, for callers that need its own type (tests, diagnostics).
    fn as_any(&self) -> &dyn Any;
}

/// The source `settings.datastore` names: the one place a datastore's name becomes its code.
/// Checks what can be checked without I/O (block sizes, configured blocks, the Fan address);
/// nothing is contacted before [`BlockSource::start`].
pub fn configure(settings: &IpamSettings) -> Result<Box<dyn BlockSource>, IpamError> {
    Ok(match &settings.datastore {
        Datastore::Local => Box::new(local::LocalBlocks::new(settings)?),
        Datastore::Fan {
            underlay,
            addresses,
        } => Box::new(fan::FanBlocks::new(settings, *underlay, addresses)?),
        Datastore::Etcd {
            endpoints,
            prefix,
            node,
            security,
        } => Box::new(etcd::EtcdSource::new(
            settings, endpoints, security, prefix, node,
        )?),
    })
}

/// The blocks of a `local` or `fan` host; `None` for `etcd`, whose blocks are claimed.
pub fn fixed_blocks(settings: &IpamSettings) -> Result<Option<FixedBlocks>, IpamError> {
    Ok(configure(settings)?.fixed().cloned())
}

/// `IPv4` or `IPv6`, as errors name a family.
pub(crate) fn family(range: IpNet) -> &'static str {
    match range {
        IpNet::V4(_) => "IPv4",
        IpNet::V6(_) => "IPv6",
    }
}

#[cfg(test)]
mod tests;
