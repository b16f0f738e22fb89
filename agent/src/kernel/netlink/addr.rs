//! Address requests: `RTM_NEWADDR`, `RTM_GETADDR`, for both families.

use std::pin::pin;

use futures::TryStreamExt;
use ipnet::IpNet;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use rtnetlink::Handle;

use super::error::map;
use crate::kernel::KernelResult;

/// Adds `address` to link `index`; `NLM_F_REPLACE` makes a repeat a no-op. IPv6 addresses
/// skip duplicate address detection: IPAM made them unique, and DAD would leave them
/// `tentative` (unusable as a source) for a second or more.
pub(super) async fn add(handle: &Handle, index: u32, address: IpNet) -> KernelResult<()> {
    let mut req = handle
        .address()
        .add(index, address.addr(), address.prefix_len())
        .replace();
    if let IpNet::V6(_) = address {
        let msg = req.message_mut();
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    req.execute()
        .await
        .map_err(|e| map("RTM_NEWADDR", format!("address {address}"), e))
}

/// The addresses on link `index` (`None`: on every link), with their link.
pub(super) async fn list(handle: &Handle, index: Option<u32>) -> KernelResult<Vec<(u32, IpNet)>> {
    let mut req = handle.address().get();
    if let Some(i) = index {
        req = req.set_link_index_filter(i);
    }
    let mut replies = pin!(req.execute());
    let mut out = Vec::new();
    while let Some(msg) = replies
        .try_next()
        .await
        .map_err(|e| map("RTM_GETADDR", "address dump", e))?
    {
        // rtnetlink filters by index in userspace too; keep the check for safety.
        if index.is_some_and(|i| i != msg.header.index) {
            continue;
        }
        if let Some(net) = parse(&msg) {
            out.push((msg.header.index, net));
        }
    }
    Ok(out)
}

/// The interface address of a message: `IFA_LOCAL` for IPv4 (peer addresses aside), else
/// `IFA_ADDRESS`.
fn parse(msg: &AddressMessage) -> Option<IpNet> {
    let local = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(a) => Some(*a),
        _ => None,
    });
    let addr = local.or_else(|| {
        msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(a) => Some(*a),
            _ => None,
        })
    })?;
    IpNet::new(addr, msg.header.prefix_len).ok()
}
