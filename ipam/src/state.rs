//! The host's whole IPAM state and the records that change it (pure).
//!
//! Every change is a [`Record`]; the store journals records and replays them on open, so the
//! state after a restart is exactly the state after the last acknowledged change.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::family::FamilyBlocks;
use crate::pool::{Allocation, AllocationKey};

/// One change of the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    /// The host holds `block` from now on.
    AddBlock {
        /// The block.
        block: IpNet,
        /// Whether it is the family's primary block (never given back).
        primary: bool,
    },
    /// The host gave `block` back (it was borrowed and empty).
    RemoveBlock {
        /// The block.
        block: IpNet,
    },
    /// `key` holds these addresses (one per configured family).
    Assign {
        /// The holder.
        key: AllocationKey,
        /// Its addresses.
        addresses: Vec<IpAddr>,
    },
    /// `key` holds nothing any more.
    Release {
        /// The former holder.
        key: AllocationKey,
    },
}

/// Blocks and allocations of both families.
#[derive(Debug, Clone)]
pub struct IpamState {
    /// IPv4 blocks.
    pub v4: FamilyBlocks,
    /// IPv6 blocks, when `cluster.cidr_v6` is configured.
    pub v6: Option<FamilyBlocks>,
}

impl IpamState {
    /// Empty state; `v6` enables the IPv6 family.
    pub fn new(max_blocks: usize, v6: bool) -> Self {
        Self {
            v4: FamilyBlocks::new(max_blocks),
            v6: v6.then(|| FamilyBlocks::new(max_blocks)),
        }
    }

    /// The family of `net`.
    pub fn family(&self, net: &IpNet) -> Option<&FamilyBlocks> {
        match net {
            IpNet::V4(_) => Some(&self.v4),
            IpNet::V6(_) => self.v6.as_ref(),
        }
    }

    fn family_mut(&mut self, v6: bool) -> Option<&mut FamilyBlocks> {
        if v6 {
            self.v6.as_mut()
        } else {
            Some(&mut self.v4)
        }
    }

    /// Apply `record` (from the journal or a snapshot); an error means the stored state is not
    /// one this code could have written.
    pub fn apply(&mut self, record: &Record, now: u64) -> Result<(), String> {
        match record {
            Record::AddBlock { block, primary } => {
                let f = self
                    .family_mut(block.addr().is_ipv6())
                    .ok_or_else(|| format!("block {block}: IPv6 is not configured"))?;
                if !f.add_block(*block, *primary, now) {
                    return Err(format!("block {block} overlaps a held block"));
                }
            }
            Record::RemoveBlock { block } => {
                let f = self
                    .family_mut(block.addr().is_ipv6())
                    .ok_or_else(|| format!("block {block}: IPv6 is not configured"))?;
                if !f.remove_block(*block) {
                    return Err(format!("block {block} removed while not held, or in use"));
                }
            }
            Record::Assign { key, addresses } => {
                for a in addresses {
                    let ok = self
                        .family_mut(a.is_ipv6())
                        .is_some_and(|f| f.insert(key, *a));
                    if !ok {
                        return Err(format!(
                            "{}/{} at {a}: outside the held blocks or held twice",
                            key.container_id, key.ifname
                        ));
                    }
                }
            }
            Record::Release { key } => {
                self.v4.release(key, now);
                if let Some(f) = self.v6.as_mut() {
                    f.release(key, now);
                }
            }
        }
        Ok(())
    }

    /// Records that rebuild this state from empty (the snapshot).
    pub fn to_records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        let families = std::iter::once(&self.v4).chain(self.v6.as_ref());
        for f in families.clone() {
            let primary = f.primary();
            for block in f.blocks() {
                out.push(Record::AddBlock {
                    block,
                    primary: Some(block) == primary,
                });
            }
        }
        let mut by_key: std::collections::BTreeMap<AllocationKey, Vec<IpAddr>> = Default::default();
        for a in families.flat_map(|f| f.allocations()) {
            by_key.entry(a.key()).or_default().push(a.address);
        }
        out.extend(
            by_key
                .into_iter()
                .map(|(key, addresses)| Record::Assign { key, addresses }),
        );
        out
    }

    /// Every allocation of both families.
    pub fn allocations(&self) -> Vec<Allocation> {
        let mut all: Vec<Allocation> = self.v4.allocations().collect();
        if let Some(f) = &self.v6 {
            all.extend(f.allocations());
        }
        all
    }
}
