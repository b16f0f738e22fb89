//! The `fan` datastore: the host's blocks computed from its underlay address, so hosts need
//! no coordination (the Fan idea: the uplink address decides the block).
//!
//! The source is given the host's candidate addresses (the agent passes `ipam.fan.address`, or
//! `node.router_id` and its uplinks' addresses, read from the kernel) and takes the first one
//! inside `ipam.fan.underlay`.

use std::any::Any;
use std::net::Ipv4Addr;

use async_trait::async_trait;
use ipnet::{IpNet, Ipv4Net};
use tracing::info;

use super::checks::{bad, check_len};
use super::{BlockSource, FixedBlocks};
use crate::addr::{nth_subnet, subnet_count};
use crate::{IpamError, IpamSettings};

/// A `fan` host's blocks and the underlay address they were computed from.
#[derive(Debug)]
pub(super) struct FanBlocks {
    blocks: FixedBlocks,
    address: Ipv4Addr,
    /// Whether `address` is not the first candidate (it was found on an uplink).
    found: bool,
}

impl FanBlocks {
    /// The blocks of the first of `addresses` inside `underlay`; none inside is refused as
    /// `ipam.fan.address`, naming the first.
    pub(super) fn new(
        s: &IpamSettings,
        underlay: Ipv4Net,
        addresses: &[Ipv4Addr],
    ) -> Result<Self, IpamError> {
        let inside = addresses
            .iter()
            .enumerate()
            .find(|(_, a)| underlay.trunc().contains(*a));
        let (address, found) = match (inside, addresses.first()) {
            (Some((i, a)), _) => (*a, i > 0),
            // None inside: refused by `fan_blocks`, naming the address the operator gave.
            (None, Some(first)) => (*first, false),
            (None, None) => {
                return Err(bad(
                    "ipam.fan.address",
                    format!("no address of this host was given to place it in {underlay}"),
                ))
            }
        };
        Ok(FanBlocks {
            blocks: fan_blocks(s, underlay, address)?,
            address,
            found,
        })
    }
}

#[async_trait]
impl BlockSource for FanBlocks {
    fn fixed(&self) -> Option<&FixedBlocks> {
        Some(&self.blocks)
    }

    async fn start(&mut self, _held: &[IpNet]) -> Result<(), IpamError> {
        if self.found {
            info!(address = %self.address, "fan: this host's underlay address, found on an uplink");
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Fan: the host's offset inside the underlay range picks its region of each cluster range
/// (underlay /24 and cluster /16: the last octet picks the /24); the region's blocks are the
/// host's, the first primary. Two hosts of one underlay cannot collide by construction.
fn fan_blocks(
    s: &IpamSettings,
    underlay: Ipv4Net,
    address: Ipv4Addr,
) -> Result<FixedBlocks, IpamError> {
    let underlay = underlay.trunc();
    if !underlay.contains(&address) {
        return Err(bad(
            "ipam.fan.address",
            format!("{address} is not inside ipam.fan.underlay {underlay}"),
        ));
    }
    let index = u128::from(u32::from(address) - u32::from(underlay.network()));
    let host_bits = 32 - underlay.prefix_len();
    let region = |range: IpNet, len: u8, key: &'static str| -> Result<Vec<IpNet>, IpamError> {
        let region_len = range.prefix_len().saturating_add(host_bits);
        if region_len > len {
            return Err(bad(
                key,
                format!(
                    "{range} split among the {} addresses of {underlay} gives /{region_len} \
                     regions, smaller than a /{len} block",
                    1u64 << host_bits
                ),
            ));
        }
        let r = nth_subnet(range, region_len, index).ok_or_else(|| bad(key, "no region".into()))?;
        // Only the first max_blocks_per_host blocks of a region can ever be held.
        let count = subnet_count(r, len).min(s.max_blocks_per_host.max(1) as u128);
        Ok((0..count).filter_map(|i| nth_subnet(r, len, i)).collect())
    };
    check_len(
        IpNet::V4(s.cluster),
        s.block_prefix_len,
        "cluster.block_prefix_len",
    )?;
    let mut v4 = region(
        IpNet::V4(s.cluster.trunc()),
        s.block_prefix_len,
        "ipam.fan.underlay",
    )?;
    let mut v6 = match s.cluster_v6 {
        Some(c6) => {
            check_len(
                IpNet::V6(c6),
                s.block_prefix_len_v6,
                "cluster.block_prefix_len_v6",
            )?;
            region(
                IpNet::V6(c6.trunc()),
                s.block_prefix_len_v6,
                "cluster.cidr_v6",
            )?
        }
        None => Vec::new(),
    };
    if v4.is_empty() {
        return Err(bad(
            "ipam.fan.underlay",
            "no block in this host's region".into(),
        ));
    }
    let primary4 = v4.remove(0);
    let primary6 = (!v6.is_empty()).then(|| v6.remove(0));
    v4.extend(v6);
    Ok(FixedBlocks {
        v4: primary4,
        v6: primary6,
        borrowable: v4,
    })
}
