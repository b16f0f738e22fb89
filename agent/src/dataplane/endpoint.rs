//! An endpoint's host side, for a runtime that moves and configures the container's interface
//! itself (Docker: address, the connected route to the gateway, the default route), in routed
//! veth: a veth whose peer the runtime moves into the container. The ipvlan endpoint is in
//! `endpoint_ipvlan.rs`; [`detach`] removes either.
//!
//! Unlike the CNI path, latticed cannot add the container's permanent neighbour entry for the
//! gateway (Docker configures the container after our last call), so the host veth holds
//! `169.254.1.1/32` and answers the container's ARP for it as a local address; on a dual-stack
//! network it also holds `fe80::1/64` and answers the container's neighbour solicitations for
//! the IPv6 gateway the same way.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::naming::{fnv1a64, host_ifname};
use super::routed_veth::{GATEWAY, GATEWAY_V6};
use super::RTPROT_LATTICE;
use crate::kernel::{Kernel, KernelError, Route};

/// The interface name the IPAM key goes with.
pub const IFNAME: &str = "eth0";

/// What to wire for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    /// The endpoint's IPAM key (`docker:...`); it names the host interface.
    pub key: String,
    /// The container's address; it gets a /32 route.
    pub address: Ipv4Addr,
    /// The container's IPv6 address on a dual-stack host; it gets a /128 route.
    pub address_v6: Option<Ipv6Addr>,
    /// MTU for both ends.
    pub mtu: u32,
}

/// The name of the interface Docker moves (a veth's peer, an ipvlan slave) until it renames
/// it: `latd` + 11 hex characters.
pub(super) fn peer_ifname(key: &str) -> String {
    format!("latd{:011x}", fnv1a64(key.as_bytes()) & ((1 << 44) - 1))
}

/// Creates (or re-creates) the veth for `spec.key`, routes `address/32` to it; returns the
/// peer. On failure the veth is deleted again, so the host is left as it was. Errors are
/// messages for the runtime, which shows them to its user.
pub(super) async fn attach(k: &dyn Kernel, spec: &EndpointSpec) -> Result<String, String> {
    let key = spec.key.as_str();
    let name = host_ifname(key, IFNAME);
    let peer = peer_ifname(key);
    detach(k, key).await?;
    // Both ends in latticed's own namespace; Docker moves the peer at container start.
    let here = PathBuf::from(format!("/proc/{}/ns/net", std::process::id()));
    k.create_veth(&name, &peer, &here)
        .await
        .map_err(|e| format!("lattice: creating veth {name}: {e}"))?;
    if let Err(e) = configure(k, &name, &peer, spec).await {
        let _ = detach(k, key).await;
        return Err(format!("lattice: wiring {name}: {e}"));
    }
    Ok(peer)
}

async fn configure(
    k: &dyn Kernel,
    name: &str,
    peer: &str,
    spec: &EndpointSpec,
) -> Result<(), KernelError> {
    let (address, mtu) = (spec.address, spec.mtu);
    let h = k.link_by_name(name).await?;
    let p = k.link_by_name(peer).await?;
    k.set_link_mtu(p.index, mtu).await?;
    k.set_link_mtu(h.index, mtu).await?;
    for (leaf, value) in [("forwarding", "1"), ("rp_filter", "1")] {
        k.write_sysctl(&format!("net/ipv4/conf/{name}/{leaf}"), value)
            .await?;
    }
    k.add_address(h.index, Ipv4Net::from(GATEWAY).into())
        .await?;
    k.set_link_up(h.index).await?;
    k.replace_route(&Route::device(
        Ipv4Net::from(address),
        h.index,
        RTPROT_LATTICE,
    ))
    .await?;
    let Some(v6) = spec.address_v6 else {
        return Ok(());
    };
    let gateway = Ipv6Net::new(GATEWAY_V6, 64)
        .map_err(|e| KernelError::Invalid(format!("IPv6 gateway: {e}")))?;
    k.add_address(h.index, IpNet::V6(gateway)).await?;
    k.replace_route(&Route::device(Ipv6Net::from(v6), h.index, RTPROT_LATTICE))
        .await
}

/// Deletes the host interfaces of `key`, whichever mode wired it: its veth (the peer, wherever
/// it is, and the route go with it), and an interface under the peer's name still in this
/// namespace (an ipvlan slave Docker moved back at Leave, or one it never moved). Routes out of
/// the ipvlan host slave stay: `endpoint_ipvlan::unreach` removes those.
pub(super) async fn detach(k: &dyn Kernel, key: &str) -> Result<(), String> {
    super::routed_veth::detach(k, key, IFNAME)
        .await
        .map_err(|e| format!("lattice: removing the veth of {key}: {e}"))?;
    let peer = peer_ifname(key);
    let removed = match k.link_by_name(&peer).await {
        Ok(l) => k.delete_link(l.index).await,
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if !e.is_not_found() => Err(format!("lattice: removing {peer} of {key}: {e}")),
        _ => Ok(()),
    }
}
