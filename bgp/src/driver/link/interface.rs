//! What an interface looks like now (`getifaddrs`, one netlink dump): its index, whether it is
//! up with carrier, its usable link-local address and its MAC; and which interface holds a
//! given local address.

use std::net::{IpAddr, Ipv6Addr, SocketAddrV6, UdpSocket};

use nix::ifaddrs::getifaddrs;
use nix::net::if_::{if_nametoindex, InterfaceFlags};

use crate::neighbour::LinkState;

/// The interface called `name`, or `None` if there is none.
pub(super) fn state(name: &str) -> Option<LinkState> {
    let ifindex = if_nametoindex(name).ok()?;
    let mut seen = false;
    let mut up = false;
    let mut link_local = None;
    let mut mac = None;
    for a in getifaddrs().ok()?.filter(|a| a.interface_name == name) {
        seen = true;
        up = a
            .flags
            .contains(InterfaceFlags::IFF_UP | InterfaceFlags::IFF_RUNNING);
        let Some(address) = a.address else { continue };
        if let Some(ll) = address.as_link_addr().and_then(|l| l.addr()) {
            mac = Some(ll);
        }
        if let Some(v6) = address.as_sockaddr_in6().map(|s| s.ip()) {
            if v6.is_unicast_link_local() && link_local.is_none() && usable(v6, ifindex) {
                link_local = Some(v6);
            }
        }
    }
    seen.then_some(LinkState {
        ifindex,
        up,
        link_local,
        mac,
    })
}

/// A tentative address (duplicate address detection still running) cannot be bound: the
/// sessions could not use it yet either.
fn usable(address: Ipv6Addr, ifindex: u32) -> bool {
    UdpSocket::bind(SocketAddrV6::new(address, 0, 0, ifindex)).is_ok()
}

/// The index of the interface that holds `local` (our end of a session), if one does.
pub(crate) fn holding(local: IpAddr) -> Option<u32> {
    let local = match local {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
        v4 => v4,
    };
    let name = getifaddrs().ok()?.find_map(|a| {
        let address = a.address?;
        let ip = address
            .as_sockaddr_in()
            .map(|s| IpAddr::V4(s.ip()))
            .or_else(|| address.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))?;
        (ip == local).then_some(a.interface_name)
    })?;
    if_nametoindex(name.as_str()).ok()
}

/// The name of interface `ifindex`.
pub(crate) fn name_of(ifindex: u32) -> Option<String> {
    nix::net::if_::if_indextoname(ifindex)
        .ok()
        .and_then(|c| c.into_string().ok())
}
