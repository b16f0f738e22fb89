//! The `local` datastore: the blocks the configuration gives (`ipam.block` or
//! `ipam.node_index`, `ipam.block_v6`, and `ipam.blocks` to borrow).

use std::any::Any;

use ipnet::{IpNet, Ipv4Net};

use super::checks::{bad, check_block, check_len};
use super::{BlockSource, FixedBlocks};
use crate::addr::nth_subnet;
use crate::{IpamError, IpamSettings};

/// A `local` host's blocks, checked against the cluster ranges.
#[derive(Debug)]
pub(super) struct LocalBlocks(FixedBlocks);

impl LocalBlocks {
    /// The configured blocks; a block outside the cluster ranges, of the wrong size or listed
    /// twice is refused naming its key.
    pub(super) fn new(s: &IpamSettings) -> Result<Self, IpamError> {
        local_blocks(s).map(LocalBlocks)
    }
}

impl BlockSource for LocalBlocks {
    fn fixed(&self) -> Option<&FixedBlocks> {
        Some(&self.0)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
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
