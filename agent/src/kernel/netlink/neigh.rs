//! Neighbour requests: `RTM_NEWNEIGH` (permanent IPv4 entries).

use std::net::{IpAddr, Ipv4Addr};

use rtnetlink::Handle;

use super::error::map;
use crate::kernel::{KernelResult, MacAddr};

/// Adds or replaces the permanent entry `ip lladdr mac` on link `index`.
pub(super) async fn add(
    handle: &Handle,
    index: u32,
    ip: Ipv4Addr,
    mac: MacAddr,
) -> KernelResult<()> {
    // NeighbourAddRequest defaults to NUD_PERMANENT.
    handle
        .neighbours()
        .add(index, IpAddr::V4(ip))
        .link_layer_address(&mac.0)
        .replace()
        .execute()
        .await
        .map_err(|e| map("RTM_NEWNEIGH", format!("neighbour {ip}"), e))
}
