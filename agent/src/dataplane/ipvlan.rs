//! ipvlan L3 / L3S container wiring: the container interface is an ipvlan slave of
//! `dataplane.parent`, so there is no MAC per container and no broadcast domain; the parent's
//! namespace (the host) routes for every slave.
//!
//! In the container: `address/32` (and `/128`), `default dev ifname` for both families (L3
//! slaves do no ARP/NDP: every packet goes to the parent's routing). Traffic from other hosts
//! for a container's address is delivered by ipvlan itself when it arrives on the parent.
//!
//! The caveat: an ipvlan parent never delivers to its own slaves, so the host cannot reach its
//! containers through the parent. Lattice keeps one more slave of the parent in the host
//! namespace, [`IPVLAN_HOST_IFNAME`], holding `169.254.1.1/32`, and routes each container's
//! /32 (/128) out of it (`proto lattice`). Host-to-container packets then leave through that
//! slave (source 169.254.1.1) and ipvlan switches them to the container's slave; replies are
//! switched back the same way. The slave must not hold any address of the parent: ipvlan
//! delivers whatever is addressed to a slave address (ARP included) to that slave, so the
//! parent would stop answering ARP for its own address.

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::naming::temp_peer_ifname;
use super::routed_veth::{bring_up_in_container, host_routes, validate, AttachInfo, AttachSpec};
use super::{at, DataplaneError, IPVLAN_HOST_IFNAME, RTPROT_LATTICE};
use crate::kernel::{IpvlanMode, Kernel, KernelError, LinkInfo, Route};

/// How ipvlan containers hang off the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvlanWiring {
    /// `dataplane.parent`.
    pub parent: String,
    /// L3 or L3S.
    pub mode: IpvlanMode,
    /// The host slave's address (169.254.1.1 in latticed): the source of host-to-container
    /// traffic; never one of the parent's addresses.
    pub host_address: Ipv4Addr,
}

/// Makes sure the host-side slave exists, is up and holds the host address; returns it.
/// On a kernel without ipvlan this is where [`KernelError::Unsupported`] surfaces.
pub async fn ensure_host_slave(
    host: &dyn Kernel,
    w: &IpvlanWiring,
) -> Result<LinkInfo, DataplaneError> {
    let parent = parent(host, w).await?;
    let slave = match host.link_by_name(IPVLAN_HOST_IFNAME).await {
        Ok(l) if l.peer_index == Some(parent.index) => l,
        Ok(stale) => {
            host.delete_link(stale.index)
                .await
                .map_err(at("delete stale ipvlan host slave"))?;
            create_host_slave(host, &parent, w).await?
        }
        Err(e) if e.is_not_found() => create_host_slave(host, &parent, w).await?,
        Err(e) => return Err(at("look up ipvlan host slave")(e)),
    };
    host.add_address(slave.index, IpNet::V4(Ipv4Net::from(w.host_address)))
        .await
        .map_err(at("ipvlan host slave: address"))?;
    host.set_link_up(slave.index)
        .await
        .map_err(at("ipvlan host slave: set up"))?;
    Ok(slave)
}

async fn parent(host: &dyn Kernel, w: &IpvlanWiring) -> Result<LinkInfo, DataplaneError> {
    match host.link_by_name(&w.parent).await {
        Ok(p) => Ok(p),
        Err(e) if e.is_not_found() => Err(DataplaneError::Invalid(format!(
            "dataplane.parent {:?} does not exist",
            w.parent
        ))),
        Err(e) => Err(at("look up ipvlan parent")(e)),
    }
}

async fn create_host_slave(
    host: &dyn Kernel,
    parent: &LinkInfo,
    w: &IpvlanWiring,
) -> Result<LinkInfo, DataplaneError> {
    host.create_ipvlan(parent.index, IPVLAN_HOST_IFNAME, w.mode, None)
        .await
        .map_err(at("create ipvlan host slave"))?;
    host.link_by_name(IPVLAN_HOST_IFNAME)
        .await
        .map_err(at("look up ipvlan host slave"))
}

/// Wires a container as an ipvlan slave; idempotent (an existing interface holding the
/// address is converged, not recreated). A failed attach removes what it created.
pub async fn attach(
    host: &dyn Kernel,
    w: &IpvlanWiring,
    spec: &AttachSpec,
) -> Result<AttachInfo, DataplaneError> {
    validate(spec)?;
    let slave = ensure_host_slave(host, w).await?;
    let parent = parent(host, w).await?;
    let ctr = host
        .netns(&spec.netns)
        .await
        .map_err(at("open container netns"))?;
    let address = IpNet::V4(Ipv4Net::from(spec.address));
    let existing = match ctr.link_by_name(&spec.ifname).await {
        Ok(l) => {
            let addrs = ctr
                .addresses(l.index)
                .await
                .map_err(at("container: list addresses"))?;
            if !addrs.contains(&address) {
                return Err(DataplaneError::Invalid(format!(
                    "{} already exists in the container without {}",
                    spec.ifname, spec.address
                )));
            }
            Some(l)
        }
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(at("container: look up interface")(e)),
    };
    let created = existing.is_none();
    let name = match existing {
        Some(_) => spec.ifname.clone(),
        None => {
            let temp = temp_peer_ifname(&spec.container_id, &spec.ifname);
            host.create_ipvlan(parent.index, &temp, w.mode, Some(&spec.netns))
                .await
                .map_err(at("create ipvlan slave"))?;
            temp
        }
    };
    let result = configure(host, &*ctr, &name, spec, &slave).await;
    if result.is_err() && created {
        rollback(&*ctr, &name, &spec.ifname).await;
    }
    result.map(|()| AttachInfo {
        host_ifname: IPVLAN_HOST_IFNAME.to_string(),
        host_mac: slave.mac.unwrap_or_default(),
        container_mac: slave.mac,
    })
}

/// Deletes the slave this attach created (under its temporary or its final name).
async fn rollback(ctr: &dyn Kernel, temp: &str, ifname: &str) {
    for name in [temp, ifname] {
        if let Ok(l) = ctr.link_by_name(name).await {
            if l.peer_index.is_some() {
                if let Err(e) = ctr.delete_link(l.index).await {
                    tracing::warn!(error = %e, "rollback of a failed ipvlan attach failed");
                }
                return;
            }
        }
    }
}

async fn configure(
    host: &dyn Kernel,
    ctr: &dyn Kernel,
    name: &str,
    spec: &AttachSpec,
    slave: &LinkInfo,
) -> Result<(), DataplaneError> {
    // A slave cannot exceed its parent's MTU.
    let i = bring_up_in_container(ctr, name, spec, spec.mtu.min(slave.mtu))
        .await?
        .index;
    if let Some(v6) = spec.address_v6 {
        ctr.add_address(i, IpNet::V6(Ipv6Net::from(v6)))
            .await
            .map_err(at("container: add IPv6 address"))?;
    }
    let defaults = [
        Some(IpNet::V4(Ipv4Net::default())),
        spec.address_v6.map(|_| IpNet::V6(Ipv6Net::default())),
    ];
    for dst in defaults.into_iter().flatten() {
        ctr.replace_route(&Route::device(dst, i, RTPROT_LATTICE))
            .await
            .map_err(at("container: default route"))?;
    }
    for route in host_routes(spec, slave.index) {
        host.replace_route(&route)
            .await
            .map_err(at("host: container route"))?;
    }
    Ok(())
}

/// Removes a container's ipvlan slave and its host routes; succeeds when already gone.
pub async fn detach(host: &dyn Kernel, spec: &AttachSpec) -> Result<(), DataplaneError> {
    for route in host_routes(spec, 0) {
        match host.delete_route(route.destination, RTPROT_LATTICE).await {
            Err(e) if !e.is_not_found() => return Err(at("host: delete container route")(e)),
            _ => {}
        }
    }
    let ctr = match host.netns(&spec.netns).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(at("open container netns")(e)),
    };
    match ctr.link_by_name(&spec.ifname).await {
        Ok(l) => match ctr.delete_link(l.index).await {
            Err(e) if !e.is_not_found() => Err(at("container: delete slave")(e)),
            _ => Ok(()),
        },
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(at("container: look up interface")(e)),
    }
}

/// Whether a container's slave is still in place: its namespace exists and holds `ifname`, up.
///
/// Deleting (or downing) a slave inside the container changes nothing in the host namespace
/// (the host slave, the parent and the container's /32 route all stay), so neither the host's
/// links nor its notifications reveal it; the reconciler asks here. `Ok(false)` means rewire;
/// an error means the answer is unknown.
pub async fn container_side_ok(host: &dyn Kernel, spec: &AttachSpec) -> Result<bool, KernelError> {
    let ctr = match host.netns(&spec.netns).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e),
    };
    match ctr.link_by_name(&spec.ifname).await {
        Ok(l) => Ok(l.up),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// True if the error means the kernel has no ipvlan at all.
pub fn is_unsupported(e: &DataplaneError) -> bool {
    matches!(e.kernel_error(), Some(KernelError::Unsupported(_)))
}

#[cfg(test)]
#[path = "ipvlan_tests.rs"]
mod tests;
