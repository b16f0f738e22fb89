//! Address requests: `RTM_NEWADDR`, `RTM_GETADDR` (IPv4 only for now).

use std::net::IpAddr;
use std::pin::pin;

use futures::TryStreamExt;
use ipnet::Ipv4Net;
use netlink_packet_route::address::AddressAttribute;
use rtnetlink::Handle;

use super::error::map;
use crate::kernel::KernelResult;

/// Adds `address` to link `index`; `NLM_F_REPLACE` makes a repeat a no-op.
pub(super) async fn add(handle: &Handle, index: u32, address: Ipv4Net) -> KernelResult<()> {
    handle
        .address()
        .add(index, IpAddr::V4(address.addr()), address.prefix_len())
        .replace()
        .execute()
        .await
        .map_err(|e| map("RTM_NEWADDR", format!("address {address}"), e))
}

/// The IPv4 addresses on link `index`.
pub(super) async fn list(handle: &Handle, index: u32) -> KernelResult<Vec<Ipv4Net>> {
    let mut replies = pin!(handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute());
    let mut out = Vec::new();
    while let Some(msg) = replies
        .try_next()
        .await
        .map_err(|e| map("RTM_GETADDR", format!("addresses of index {index}"), e))?
    {
        // rtnetlink filters by index in userspace too; keep the check for safety.
        if msg.header.index != index {
            continue;
        }
        for attr in &msg.attributes {
            if let AddressAttribute::Local(IpAddr::V4(a)) = attr {
                if let Ok(net) = Ipv4Net::new(*a, msg.header.prefix_len) {
                    out.push(net);
                }
            }
        }
    }
    Ok(out)
}
