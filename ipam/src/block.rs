//! Choosing the host's blocks inside the cluster ranges: configured (`local`) or computed
//! from the underlay address (`fan`).

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};

use crate::addr::{nth_subnet, subnet_count};
use crate::{Datastore, IpamError, IpamSettings};

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

/// The configured `ipam.block`, or else the `ipam.node_index`-th block of `cluster.cidr`.
pub fn choose_block(s: &IpamSettings) -> Result<Ipv4Net, IpamError> {
    let cluster = s.cluster.trunc();
    check_len(
        IpNet::V4(cluster),
        s.block_prefix_len,
        "cluster.block_prefix_len",
    )?;
    if let Some(block) = s.block {
        check_block(
            IpNet::V4(block),
            IpNet::V4(cluster),
            s.block_prefix_len,
            "ipam.block",
        )?;
        return Ok(block);
    }
    let Some(index) = s.node_index else {
        return Err(bad(
            "ipam.block",
            "set ipam.block or ipam.node_index to choose this host's block".into(),
        ));
    };
    match nth_subnet(IpNet::V4(cluster), s.block_prefix_len, u128::from(index)) {
        Some(IpNet::V4(b)) => Ok(b),
        _ => Err(bad(
            "ipam.node_index",
            format!(
                "{cluster} has no block number {index} of size /{}",
                s.block_prefix_len
            ),
        )),
    }
}

/// The blocks of a `local` or `fan` host; `None` for `etcd`, whose blocks are claimed.
pub fn fixed_blocks(s: &IpamSettings) -> Result<Option<FixedBlocks>, IpamError> {
    match &s.datastore {
        Datastore::Local => local_blocks(s).map(Some),
        Datastore::Fan { underlay, address } => fan_blocks(s, *underlay, *address).map(Some),
        Datastore::Etcd { .. } => {
            check_len(
                IpNet::V4(s.cluster),
                s.block_prefix_len,
                "cluster.block_prefix_len",
            )?;
            if let Some(c6) = s.cluster_v6 {
                check_len(
                    IpNet::V6(c6),
                    s.block_prefix_len_v6,
                    "cluster.block_prefix_len_v6",
                )?;
            }
            Ok(None)
        }
    }
}

fn local_blocks(s: &IpamSettings) -> Result<FixedBlocks, IpamError> {
    let v4 = IpNet::V4(choose_block(s)?);
    let v6 = match s.cluster_v6 {
        None => None,
        Some(c6) => {
            let c6 = IpNet::V6(c6.trunc());
            check_len(c6, s.block_prefix_len_v6, "cluster.block_prefix_len_v6")?;
            Some(match (s.block_v6, s.node_index) {
                (Some(b), _) => {
                    check_block(IpNet::V6(b), c6, s.block_prefix_len_v6, "ipam.block_v6")?;
                    IpNet::V6(b)
                }
                (None, Some(i)) => nth_subnet(c6, s.block_prefix_len_v6, u128::from(i))
                    .ok_or_else(|| {
                        bad(
                            "ipam.node_index",
                            format!("{c6} has no IPv6 block number {i}"),
                        )
                    })?,
                (None, None) => {
                    return Err(bad(
                        "ipam.block_v6",
                        "cluster.cidr_v6 is set: set ipam.block_v6 or ipam.node_index".into(),
                    ))
                }
            })
        }
    };
    let mut borrowable = Vec::new();
    for b in &s.blocks {
        let (range, len) = match b {
            IpNet::V4(_) => (IpNet::V4(s.cluster), s.block_prefix_len),
            IpNet::V6(_) => match s.cluster_v6 {
                Some(c6) => (IpNet::V6(c6), s.block_prefix_len_v6),
                None => {
                    return Err(bad(
                        "ipam.blocks",
                        format!("{b}: cluster.cidr_v6 is not set"),
                    ))
                }
            },
        };
        check_block(*b, range, len, "ipam.blocks")?;
        let overlaps = |o: &IpNet| o.contains(b) || b.contains(o);
        if overlaps(&v4) || v6.as_ref().is_some_and(overlaps) || borrowable.iter().any(overlaps) {
            return Err(bad(
                "ipam.blocks",
                format!("{b} is listed twice or is the host's own block"),
            ));
        }
        borrowable.push(*b);
    }
    Ok(FixedBlocks { v4, v6, borrowable })
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

fn check_len(range: IpNet, len: u8, key: &'static str) -> Result<(), IpamError> {
    if len < range.prefix_len() || len > range.max_prefix_len() {
        return Err(bad(
            key,
            format!(
                "must be between the cluster prefix length /{} and /{}",
                range.prefix_len(),
                range.max_prefix_len()
            ),
        ));
    }
    Ok(())
}

fn check_block(block: IpNet, range: IpNet, len: u8, key: &'static str) -> Result<(), IpamError> {
    if block.addr() != block.network() {
        return Err(bad(
            key,
            format!(
                "{block} has host bits set (did you mean {}?)",
                block.trunc()
            ),
        ));
    }
    if block.prefix_len() != len {
        return Err(bad(
            key,
            format!("{block} is not a /{len} (the cluster's block size)"),
        ));
    }
    if !range.trunc().contains(&block) {
        return Err(bad(
            key,
            format!("{block} is not inside the cluster range {}", range.trunc()),
        ));
    }
    Ok(())
}

fn bad(field: &'static str, message: String) -> IpamError {
    IpamError::BadConfig { field, message }
}

#[cfg(test)]
#[path = "block_tests.rs"]
mod tests;
