//! An ipvlan endpoint's host side, for a runtime that moves and configures the container's
//! interface itself (Docker): a slave of the parent, created in latticed's namespace for the
//! runtime to move, and the container's /32 (/128) routed out of the host slave
//! [`IPVLAN_HOST_IFNAME`] (an ipvlan parent never delivers to its own slaves: see `ipvlan.rs`).
//!
//! The same host routes serve containers another driver wired on the parent (Docker's own
//! ipvlan driver with Lattice's IPAM): [`reach`] routes such an address out of the host slave,
//! so neither the host nor its other containers lose it to the block's blackhole. The host
//! slave has no address of the parent and the runtime's slave gets only the container's, so
//! traffic from other hosts still goes straight from the parent to the container.

use std::net::IpAddr;

use ipnet::IpNet;

use super::endpoint::{peer_ifname, EndpointSpec};
use super::ipvlan::{ensure_host_slave, IpvlanWiring};
use super::{IPVLAN_HOST_IFNAME, RTPROT_LATTICE};
use crate::kernel::{Kernel, KernelError, Route, RouteTarget};

/// Creates (or re-creates) the slave for `spec.key` in this namespace and routes the
/// endpoint's addresses out of the host slave; returns the slave. On failure the slave and the
/// routes are removed again, so the host is left as it was.
pub(super) async fn attach(
    k: &dyn Kernel,
    w: &IpvlanWiring,
    spec: &EndpointSpec,
) -> Result<String, String> {
    let name = peer_ifname(&spec.key);
    super::endpoint::detach(k, &spec.key).await?;
    let host_slave = ensure_host_slave(k, w)
        .await
        .map_err(|e| format!("lattice: the ipvlan host slave on {}: {e}", w.parent))?;
    let parent = k
        .link_by_name(&w.parent)
        .await
        .map_err(|e| format!("lattice: the ipvlan parent {}: {e}", w.parent))?;
    k.create_ipvlan(parent.index, &name, w.mode, None)
        .await
        .map_err(|e| format!("lattice: creating ipvlan slave {name} of {}: {e}", w.parent))?;
    // A slave cannot exceed its parent's MTU.
    let mtu = spec.mtu.min(parent.mtu);
    if let Err(e) = configure(k, &name, mtu, host_slave.index, spec).await {
        let _ = super::endpoint::detach(k, &spec.key).await;
        for address in addresses(spec) {
            let _ = unreach(k, address).await;
        }
        return Err(format!("lattice: wiring {name}: {e}"));
    }
    Ok(name)
}

async fn configure(
    k: &dyn Kernel,
    name: &str,
    mtu: u32,
    host_slave: u32,
    spec: &EndpointSpec,
) -> Result<(), KernelError> {
    let slave = k.link_by_name(name).await?;
    k.set_link_mtu(slave.index, mtu).await?;
    for address in addresses(spec) {
        k.replace_route(&Route::device(
            IpNet::from(address),
            host_slave,
            RTPROT_LATTICE,
        ))
        .await?;
    }
    Ok(())
}

fn addresses(spec: &EndpointSpec) -> impl Iterator<Item = IpAddr> {
    std::iter::once(IpAddr::V4(spec.address)).chain(spec.address_v6.map(IpAddr::V6))
}

/// Routes `address`, a container some other driver wired as a slave of `w.parent`, out of the
/// host slave (created if missing).
pub(super) async fn reach(k: &dyn Kernel, w: &IpvlanWiring, address: IpAddr) -> Result<(), String> {
    let host_slave = ensure_host_slave(k, w)
        .await
        .map_err(|e| format!("lattice: the ipvlan host slave on {}: {e}", w.parent))?;
    k.replace_route(&Route::device(
        IpNet::from(address),
        host_slave.index,
        RTPROT_LATTICE,
    ))
    .await
    .map_err(|e| format!("lattice: routing {address} through {IPVLAN_HOST_IFNAME}: {e}"))
}

/// Deletes the route to `address` if it leaves through the host slave (an ipvlan endpoint's
/// or a [`reach`]ed address); any other route to it is left alone. Succeeds when there is none.
pub(super) async fn unreach(k: &dyn Kernel, address: IpAddr) -> Result<(), String> {
    let failed = |e: KernelError| format!("lattice: removing the host route of {address}: {e}");
    let host_slave = match k.link_by_name(IPVLAN_HOST_IFNAME).await {
        Ok(l) => l.index,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(failed(e)),
    };
    let destination = IpNet::from(address);
    let ours = k
        .routes(RTPROT_LATTICE)
        .await
        .map_err(failed)?
        .iter()
        .any(|r| {
            r.destination == destination
                && r.target
                    == RouteTarget::Device {
                        ifindex: host_slave,
                    }
        });
    if !ours {
        return Ok(());
    }
    match k.delete_route(destination, RTPROT_LATTICE).await {
        Err(e) if !e.is_not_found() => Err(failed(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "endpoint_ipvlan_tests.rs"]
mod tests;
