//! `dataplane.mode`: how a container is wired, one entry point for both modes.

use std::net::IpAddr;

use super::endpoint::{self, EndpointSpec};
use super::endpoint_ipvlan;
use super::ipvlan::{self, IpvlanWiring};
use super::mode::DataplaneMode;
use super::routed_veth::{self, AttachInfo, AttachSpec, GATEWAY};
use super::{host_ifname, DataplaneError, IPVLAN_HOST_IFNAME};
use crate::kernel::{IpvlanMode, Kernel, KernelResult};

/// The wiring mode of this host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Wiring {
    /// `routed-veth`: a veth pair per container, routed on the host.
    #[default]
    RoutedVeth,
    /// `ipvlan-l3`, `ipvlan-l3s`: an ipvlan slave of the parent per container.
    Ipvlan(IpvlanWiring),
}

impl Wiring {
    /// The wiring `mode` asks for; the ipvlan modes hang off `parent` (without one: what is
    /// missing, for the caller to report under its own key). The one place a mode's name
    /// becomes its wiring.
    pub fn for_mode(mode: DataplaneMode, parent: Option<&str>) -> Result<Wiring, String> {
        let ipvlan = match mode {
            DataplaneMode::RoutedVeth => return Ok(Wiring::RoutedVeth),
            DataplaneMode::IpvlanL3 => IpvlanMode::L3,
            DataplaneMode::IpvlanL3s => IpvlanMode::L3s,
        };
        let Some(parent) = parent else {
            return Err(format!(
                "required by mode {:?} (the interface the ipvlan slaves hang off)",
                mode.to_string()
            ));
        };
        Ok(Wiring::Ipvlan(IpvlanWiring {
            parent: parent.to_string(),
            mode: ipvlan,
            // Not the router id: that is usually the parent's own address, and ipvlan would
            // then steal the parent's ARP and BGP traffic for the slave.
            host_address: GATEWAY,
        }))
    }

    /// The host interface a container's /32 (/128) routes go out of.
    pub fn host_link(&self, spec: &AttachSpec) -> String {
        match self {
            Wiring::RoutedVeth => host_ifname(&spec.container_id, &spec.ifname),
            Wiring::Ipvlan(_) => IPVLAN_HOST_IFNAME.to_string(),
        }
    }

    /// Wires (or converges) a container.
    pub async fn attach(
        &self,
        host: &dyn Kernel,
        spec: &AttachSpec,
    ) -> Result<AttachInfo, DataplaneError> {
        match self {
            Wiring::RoutedVeth => routed_veth::attach(host, spec).await,
            Wiring::Ipvlan(w) => ipvlan::attach(host, w, spec).await,
        }
    }

    /// Unwires a container; succeeds when already gone.
    pub async fn detach(&self, host: &dyn Kernel, spec: &AttachSpec) -> Result<(), DataplaneError> {
        match self {
            Wiring::RoutedVeth => routed_veth::detach(host, &spec.container_id, &spec.ifname).await,
            Wiring::Ipvlan(_) => ipvlan::detach(host, spec).await,
        }
    }

    /// The host side of an endpoint whose container side the runtime moves and configures
    /// itself (Docker); returns the interface it moves into the container: a veth's peer, or an
    /// ipvlan slave of the parent whose address is routed out of the host slave. Errors are
    /// messages for the runtime's user.
    pub async fn attach_endpoint(
        &self,
        host: &dyn Kernel,
        spec: &EndpointSpec,
    ) -> Result<String, String> {
        match self {
            Wiring::RoutedVeth => endpoint::attach(host, spec).await,
            Wiring::Ipvlan(w) => endpoint_ipvlan::attach(host, w, spec).await,
        }
    }

    /// Removes an endpoint's host interfaces, whichever mode wired it (a Docker network's mode
    /// need not be the host's, and a record naming it may be lost); succeeds when already
    /// gone. Its routes out of the ipvlan host slave go with [`Wiring::unreach_endpoint`].
    pub async fn detach_endpoint(host: &dyn Kernel, key: &str) -> Result<(), String> {
        endpoint::detach(host, key).await
    }

    /// Routes `address`, a container another driver wired on this wiring's ipvlan parent
    /// (Docker's ipvlan driver with Lattice's IPAM), out of the host slave, so the host and its
    /// other containers reach it rather than the block's blackhole. Routed veth: nothing (it
    /// has no host slave).
    pub async fn reach_endpoint(&self, host: &dyn Kernel, address: IpAddr) -> Result<(), String> {
        match self {
            Wiring::RoutedVeth => Ok(()),
            Wiring::Ipvlan(w) => endpoint_ipvlan::reach(host, w, address).await,
        }
    }

    /// Deletes the host route of an endpoint's `address` if it leaves through the ipvlan host
    /// slave (an ipvlan endpoint's or a reached one); succeeds when there is none.
    pub async fn unreach_endpoint(host: &dyn Kernel, address: IpAddr) -> Result<(), String> {
        endpoint_ipvlan::unreach(host, address).await
    }

    /// Host-wide preparation: for ipvlan, the host slave (fails on a kernel without ipvlan).
    pub async fn prepare(&self, host: &dyn Kernel) -> Result<(), DataplaneError> {
        match self {
            Wiring::RoutedVeth => Ok(()),
            Wiring::Ipvlan(w) => ipvlan::ensure_host_slave(host, w).await.map(|_| ()),
        }
    }

    /// True if the container's own interface must be checked from inside its namespace: an
    /// ipvlan slave can vanish there without a trace on the host, while a veth's host end goes
    /// with its peer (so routed veth is judged from the host's links alone).
    pub fn probes_container_side(&self) -> bool {
        matches!(self, Wiring::Ipvlan(_))
    }

    /// Whether a container's own interface is in place (always true where
    /// [`Wiring::probes_container_side`] is false).
    pub async fn container_side_ok(
        &self,
        host: &dyn Kernel,
        spec: &AttachSpec,
    ) -> KernelResult<bool> {
        match self {
            Wiring::RoutedVeth => Ok(true),
            Wiring::Ipvlan(_) => ipvlan::container_side_ok(host, spec).await,
        }
    }
}
