//! Routed-veth container wiring, like Calico's: no bridge, no NAT, no address on the host side.
//!
//! In the container: `ifname` holds `address/32`, a `169.254.1.1/32 dev ifname scope link`
//! route, `default via 169.254.1.1 dev ifname`, and a permanent neighbour entry
//! `169.254.1.1 lladdr <host veth MAC>` (proxy ARP alone fails when the host has no route to
//! 169.254.1.1). On the host: `address/32 dev lat... scope link proto lattice`.
//!
//! IPv6 (when the spec carries `address_v6`) mirrors it: `address_v6/128` (nodad),
//! `default via fe80::1 dev ifname` and a permanent neighbour `fe80::1 lladdr <host veth MAC>`;
//! on the host `address_v6/128 dev lat... proto lattice` and a permanent neighbour for the
//! container's address. Fixed neighbour entries, not proxy NDP: proxy NDP needs one proxy entry
//! per address plus `proxy_ndp` and answers only once the host veth's own link-local address has
//! finished DAD, so a new container would lose its first second of traffic; fixed entries work
//! the moment the veth is up and never depend on a multicast exchange.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::naming::{host_ifname, temp_peer_ifname};
use super::{at, DataplaneError, RTPROT_LATTICE};
use crate::kernel::{Kernel, KernelError, LinkInfo, MacAddr, NextHop, Route, RouteTarget};

/// The containers' default gateway: link-local, never on the wire, answered by the host veth.
/// The API's (CNI results report it), so latticed and its clients cannot disagree.
pub const GATEWAY: Ipv4Addr = api::proto::GATEWAY;

/// The containers' IPv6 default gateway: link-local, answered by a fixed neighbour entry.
pub const GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

/// Sysctls for each host veth, and why:
/// - `forwarding=1`: the host routes between the veth and everything else.
/// - `rp_filter=1`: strict reverse-path filtering; the container's only route back is its /32
///   via this veth, so legitimate packets pass and spoofed sources are dropped (as Calico).
const HOST_VETH_SYSCTLS: [(&str, &str); 2] = [("forwarding", "1"), ("rp_filter", "1")];

/// What to wire: one interface of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachSpec {
    /// The container's network namespace file (e.g. CNI_NETNS).
    pub netns: PathBuf,
    /// A stable container id; with `ifname` it names the host veth.
    pub container_id: String,
    /// The interface name inside the container (e.g. `eth0`).
    pub ifname: String,
    /// The container's address; it gets a /32.
    pub address: Ipv4Addr,
    /// The container's IPv6 address, if the host holds an IPv6 block; it gets a /128.
    pub address_v6: Option<Ipv6Addr>,
    /// MTU for both ends.
    pub mtu: u32,
}

/// What [`attach`] built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachInfo {
    /// The host-side veth's name.
    pub host_ifname: String,
    /// The host-side veth's MAC (the container's gateway MAC).
    pub host_mac: MacAddr,
    /// The container interface's MAC, if it has one.
    pub container_mac: Option<MacAddr>,
}

/// What already exists for a spec on the host.
enum Existing {
    /// Nothing: create.
    Absent,
    /// Our veth, paired with `ifname` holding the address: converge it, never recreate.
    Matching,
    /// A veth with our name that is not (fully) this container's: replace it.
    Stale(u32),
}

/// Wires a container; idempotent (a running container's veth is converged, not recreated).
///
/// If this call created the veth and a later step fails, the veth is deleted again (its peer,
/// addresses and routes go with it), so a failed attach leaves the host as it was. A stale veth
/// with our name but another peer is deleted and recreated.
pub async fn attach(host: &dyn Kernel, spec: &AttachSpec) -> Result<AttachInfo, DataplaneError> {
    validate(spec)?;
    let name = host_ifname(&spec.container_id, &spec.ifname);
    let ctr = host
        .netns(&spec.netns)
        .await
        .map_err(at("open container netns"))?;
    let created = match existing(host, &*ctr, &name, spec).await? {
        Existing::Matching => false,
        Existing::Stale(index) => {
            tracing::warn!(veth = %name, "replacing a stale host veth");
            ignore_not_found(host.delete_link(index).await).map_err(at("delete stale veth"))?;
            true
        }
        Existing::Absent => true,
    };
    let peer = if created {
        let temp = temp_peer_ifname(&spec.container_id, &spec.ifname);
        host.create_veth(&name, &temp, &spec.netns)
            .await
            .map_err(at("create veth"))?;
        temp
    } else {
        spec.ifname.clone()
    };
    let result = configure(host, &*ctr, &name, &peer, spec).await;
    if result.is_err() && created {
        rollback(host, &name).await;
    }
    result
}

/// Removes a container's wiring; deleting the host veth takes the peer and the /32 route with
/// it. Succeeds when already gone.
pub async fn detach(
    host: &dyn Kernel,
    container_id: &str,
    ifname: &str,
) -> Result<(), DataplaneError> {
    let name = host_ifname(container_id, ifname);
    let link = match host.link_by_name(&name).await {
        Ok(link) => link,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(at("look up host veth")(e)),
    };
    ignore_not_found(host.delete_link(link.index).await).map_err(at("delete host veth"))
}

pub(crate) fn validate(spec: &AttachSpec) -> Result<(), DataplaneError> {
    let name = &spec.ifname;
    let name_ok = !name.is_empty()
        && name.len() <= 15
        && name != "lo"
        && !name.contains(['/', ':'])
        && !name.chars().any(char::is_whitespace);
    let a = spec.address;
    let addr_ok = !(a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast());
    let v6_ok = spec.address_v6.is_none_or(|a| {
        let link_local = (a.segments()[0] & 0xffc0) == 0xfe80;
        !(a.is_unspecified() || a.is_loopback() || a.is_multicast() || link_local)
    });
    if !name_ok {
        Err(DataplaneError::Invalid(format!("interface name {name:?}")))
    } else if spec.container_id.is_empty() {
        Err(DataplaneError::Invalid("empty container id".into()))
    } else if !(68..=65535).contains(&spec.mtu) {
        Err(DataplaneError::Invalid(format!("mtu {}", spec.mtu)))
    } else if !addr_ok {
        Err(DataplaneError::Invalid(format!("address {a}")))
    } else if !v6_ok {
        Err(DataplaneError::Invalid(format!(
            "IPv6 address {:?}",
            spec.address_v6
        )))
    } else {
        Ok(())
    }
}

async fn existing(
    host: &dyn Kernel,
    ctr: &dyn Kernel,
    name: &str,
    spec: &AttachSpec,
) -> Result<Existing, DataplaneError> {
    let h = match host.link_by_name(name).await {
        Ok(h) => h,
        Err(e) if e.is_not_found() => return Ok(Existing::Absent),
        Err(e) => return Err(at("look up host veth")(e)),
    };
    let c = match ctr.link_by_name(&spec.ifname).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() => return Ok(Existing::Stale(h.index)),
        Err(e) => return Err(at("container: look up interface")(e)),
    };
    // Indices are per namespace, so check the pairing from both ends.
    let paired = h.peer_index == Some(c.index) && c.peer_index == Some(h.index);
    let addrs = ctr
        .addresses(c.index)
        .await
        .map_err(at("container: list addresses"))?;
    if paired && addrs.contains(&host_net(spec.address)) {
        Ok(Existing::Matching)
    } else {
        Ok(Existing::Stale(h.index))
    }
}

/// Brings both ends to the desired state; every step is idempotent.
async fn configure(
    host: &dyn Kernel,
    ctr: &dyn Kernel,
    name: &str,
    peer: &str,
    spec: &AttachSpec,
) -> Result<AttachInfo, DataplaneError> {
    let h = host
        .link_by_name(name)
        .await
        .map_err(at("look up host veth"))?;
    let host_mac = h
        .mac
        .ok_or_else(|| DataplaneError::Invalid(format!("host veth {name} has no MAC")))?;
    let c = configure_container(ctr, peer, spec, host_mac).await?;
    configure_host(host, &h, spec, c.mac).await?;
    Ok(AttachInfo {
        host_ifname: name.to_string(),
        host_mac,
        container_mac: c.mac,
    })
}

async fn configure_container(
    ctr: &dyn Kernel,
    peer: &str,
    spec: &AttachSpec,
    host_mac: MacAddr,
) -> Result<LinkInfo, DataplaneError> {
    let c = bring_up_in_container(ctr, peer, spec, spec.mtu).await?;
    let i = c.index;
    let gw = Route::device(host_net(GATEWAY), i, RTPROT_LATTICE);
    ctr.replace_route(&gw)
        .await
        .map_err(at("container: gateway route"))?;
    let default = Route {
        destination: IpNet::V4(Ipv4Net::default()),
        target: RouteTarget::Gateways(vec![NextHop {
            gateway: IpAddr::V4(GATEWAY),
            ifindex: Some(i),
        }]),
        protocol: RTPROT_LATTICE,
    };
    ctr.replace_route(&default)
        .await
        .map_err(at("container: default route"))?;
    ctr.add_neighbour(i, IpAddr::V4(GATEWAY), host_mac)
        .await
        .map_err(at("container: gateway neighbour"))?;
    if let Some(v6) = spec.address_v6 {
        configure_container_v6(ctr, i, v6, host_mac).await?;
    }
    Ok(c)
}

/// The container side's common steps in both wiring modes: the interface created as `name`
/// renamed to `spec.ifname`, given `mtu` and the container's IPv4 /32, and brought up with
/// `lo` (routes need the link up: the kernel refuses a nexthop on a down device).
pub(super) async fn bring_up_in_container(
    ctr: &dyn Kernel,
    name: &str,
    spec: &AttachSpec,
    mtu: u32,
) -> Result<LinkInfo, DataplaneError> {
    let c = ctr
        .link_by_name(name)
        .await
        .map_err(at("container: look up interface"))?;
    if name != spec.ifname {
        ctr.rename_link(c.index, &spec.ifname)
            .await
            .map_err(at("container: rename interface"))?;
    }
    let i = c.index;
    ctr.set_link_mtu(i, mtu)
        .await
        .map_err(at("container: set mtu"))?;
    ctr.add_address(i, host_net(spec.address))
        .await
        .map_err(at("container: add address"))?;
    let lo = ctr
        .link_by_name("lo")
        .await
        .map_err(at("container: look up lo"))?;
    ctr.set_link_up(lo.index)
        .await
        .map_err(at("container: set lo up"))?;
    ctr.set_link_up(i).await.map_err(at("container: set up"))?;
    Ok(c)
}

async fn configure_container_v6(
    ctr: &dyn Kernel,
    i: u32,
    address: Ipv6Addr,
    host_mac: MacAddr,
) -> Result<(), DataplaneError> {
    ctr.add_address(i, IpNet::V6(Ipv6Net::from(address)))
        .await
        .map_err(at("container: add IPv6 address"))?;
    ctr.add_neighbour(i, IpAddr::V6(GATEWAY_V6), host_mac)
        .await
        .map_err(at("container: IPv6 gateway neighbour"))?;
    let default = Route {
        destination: IpNet::V6(Ipv6Net::default()),
        target: RouteTarget::Gateways(vec![NextHop {
            gateway: IpAddr::V6(GATEWAY_V6),
            ifindex: Some(i),
        }]),
        protocol: RTPROT_LATTICE,
    };
    ctr.replace_route(&default)
        .await
        .map_err(at("container: IPv6 default route"))
}

async fn configure_host(
    host: &dyn Kernel,
    h: &LinkInfo,
    spec: &AttachSpec,
    container_mac: Option<MacAddr>,
) -> Result<(), DataplaneError> {
    for (leaf, value) in HOST_VETH_SYSCTLS {
        let key = format!("net/ipv4/conf/{}/{leaf}", h.name);
        host.write_sysctl(&key, value)
            .await
            .map_err(at("host: veth sysctl"))?;
    }
    host.set_link_mtu(h.index, spec.mtu)
        .await
        .map_err(at("host: set mtu"))?;
    host.set_link_up(h.index)
        .await
        .map_err(at("host: set up"))?;
    let route = Route::device(host_net(spec.address), h.index, RTPROT_LATTICE);
    host.replace_route(&route)
        .await
        .map_err(at("host: container route"))?;
    let Some(v6) = spec.address_v6 else {
        return Ok(());
    };
    if let Some(mac) = container_mac {
        host.add_neighbour(h.index, IpAddr::V6(v6), mac)
            .await
            .map_err(at("host: container IPv6 neighbour"))?;
    }
    let route = Route::device(Ipv6Net::from(v6), h.index, RTPROT_LATTICE);
    host.replace_route(&route)
        .await
        .map_err(at("host: container IPv6 route"))
}

/// Deletes the veth this attach created; best effort, the original error is what matters.
async fn rollback(host: &dyn Kernel, name: &str) {
    let result = match host.link_by_name(name).await {
        Ok(link) => host.delete_link(link.index).await,
        Err(e) => Err(e),
    };
    if let Err(e) = ignore_not_found(result) {
        tracing::warn!(veth = %name, error = %e, "rollback of a failed attach failed");
    }
}

fn ignore_not_found(result: Result<(), KernelError>) -> Result<(), KernelError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

fn host_net(a: Ipv4Addr) -> IpNet {
    IpNet::V4(Ipv4Net::from(a))
}

/// The host routes (/32, /128) a spec's container gets, out of the link `ifindex`.
pub fn host_routes(spec: &AttachSpec, ifindex: u32) -> Vec<Route> {
    let v4 = Route::device(host_net(spec.address), ifindex, RTPROT_LATTICE);
    let v6 = spec
        .address_v6
        .map(|a| Route::device(Ipv6Net::from(a), ifindex, RTPROT_LATTICE));
    std::iter::once(v4).chain(v6).collect()
}

#[cfg(test)]
#[path = "routed_veth_tests.rs"]
mod tests;
