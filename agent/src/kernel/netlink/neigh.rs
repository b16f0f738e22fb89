//! Neighbour requests: `RTM_NEWNEIGH` (permanent entries, IPv4 or IPv6).

use std::net::IpAddr;

use rtnetlink::Handle;

use super::error::map;
use crate::kernel::{KernelResult, MacAddr};

/// Adds or replaces the permanent entry `ip lladdr mac` on link `index`.
pub(super) async fn add(handle: &Handle, index: u32, ip: IpAddr, mac: MacAddr) -> KernelResult<()> {
    // NeighbourAddRequest defaults to NUD_PERMANENT.
    handle
        .neighbours()
        .add(index, ip)
        .link_layer_address(&mac.0)
        .replace()
        .execute()
        .await
        .map_err(|e| map("RTM_NEWNEIGH", format!("neighbour {ip}"), e))
}
