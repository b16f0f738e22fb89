//! IPAM usage: each held block's figures, for `lattice status`/`ipam` and the metrics.

use ipnet::IpNet;

use crate::metrics::RouteKind;
use api::proto::BlockUsage;

/// Each held block with the addresses allocated in it and how many it has.
pub(super) fn block_usage(ipam: &ipam::Ipam) -> Vec<BlockUsage> {
    let allocations = ipam.allocations();
    ipam.blocks()
        .into_iter()
        .map(|block| {
            let in_use = allocations
                .iter()
                .filter(|a| match block {
                    IpNet::V4(b) => b.contains(&a.v4),
                    IpNet::V6(b) => a.v6.is_some_and(|v6| b.contains(&v6)),
                })
                .count();
            let host_bits = u32::from(block.max_prefix_len().saturating_sub(block.prefix_len()));
            let capacity = 1u128
                .checked_shl(host_bits)
                .and_then(|c| usize::try_from(c).ok())
                .unwrap_or(usize::MAX);
            BlockUsage {
                block,
                in_use,
                capacity,
            }
        })
        .collect()
}

/// Publish the IPAM figures and the local routes (one /32 per attachment, one blackhole per
/// block) as metrics.
pub(super) fn publish(metrics: &crate::metrics::Metrics, ipam: &ipam::Ipam) {
    let usage: Vec<(IpNet, usize, usize)> = block_usage(ipam)
        .into_iter()
        .map(|u| (u.block, u.in_use, u.capacity))
        .collect();
    metrics.ipam_blocks(&usage);
    metrics.routes_installed(RouteKind::Local, ipam.in_use());
    metrics.routes_installed(RouteKind::Blackhole, usage.len());
}
