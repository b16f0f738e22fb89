//! `dataplane.mode`: how a container is wired, one entry point for both modes.

use super::ipvlan::{self, IpvlanWiring};
use super::routed_veth::{self, AttachInfo, AttachSpec};
use super::{host_ifname, DataplaneError, IPVLAN_HOST_IFNAME};
use crate::kernel::{Kernel, KernelResult};

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
