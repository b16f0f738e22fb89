//! Container wiring and the routes the kernel must hold.
//!
//! [`Wiring`] is the one entry point for wiring, whatever the mode ([`DataplaneMode`]):
//! [`routed_veth`] wires a container with a routed veth (no bridge, no NAT), [`ipvlan`] with an
//! ipvlan slave, and an endpoint whose container side the runtime configures itself (Docker)
//! gets its host side the same way. [`routes`] computes the kernel routes for BGP-learned
//! prefixes (sans-IO) and applies them through a [`Kernel`](crate::kernel::Kernel).

mod endpoint;
mod endpoint_ipvlan;
pub mod ipvlan;
mod mode;
mod naming;
pub mod reconcile;
pub mod routed_veth;
pub mod routes;
mod wiring;

pub use endpoint::{EndpointSpec, IFNAME as ENDPOINT_IFNAME};
pub use ipvlan::IpvlanWiring;
pub use mode::DataplaneMode;
pub use naming::{fnv1a64, host_ifname};
pub use reconcile::{diff, ActualState, ContainerKey, DesiredState, ReconcileOp};
pub use routed_veth::{attach, detach, host_routes, AttachInfo, AttachSpec, GATEWAY, GATEWAY_V6};
pub use routes::{
    ensure_blackhole, execute, prepare_host, LearnedRoute, LearnedRoutes, Reachability, RouteOp,
};
pub use wiring::Wiring;

use crate::kernel::KernelError;

/// `rtm_protocol` of the routes Lattice owns locally (container /32s, the block's blackhole,
/// the routes inside containers).
///
/// 252 is unassigned: the kernel's uapi names values up to 192 (`RTPROT_EIGRP`), FRR uses
/// 186-198 (/etc/iproute2/rt_protos.d/frr.conf), BIRD 12, Calico 80. Owning a protocol id
/// lets a reconciler list and garbage-collect exactly our routes (`ip route show proto 252`).
pub const RTPROT_LATTICE: u8 = 252;

/// The ipvlan slave latticed keeps in the host namespace so the host can reach its own ipvlan
/// containers (an ipvlan parent never delivers to its own slaves).
pub const IPVLAN_HOST_IFNAME: &str = "latipvl0";

/// Why a dataplane operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// A kernel operation failed at `step`.
    #[error("{step}: {source}")]
    Kernel {
        /// What the dataplane was doing, e.g. `container: add address`.
        step: &'static str,
        /// The kernel's error.
        #[source]
        source: KernelError,
    },
    /// The request cannot be wired (bad interface name, MTU, address...).
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl DataplaneError {
    /// The kernel error underneath, if any.
    pub fn kernel_error(&self) -> Option<&KernelError> {
        match self {
            DataplaneError::Kernel { source, .. } => Some(source),
            DataplaneError::Invalid(_) => None,
        }
    }
}

/// Attaches a step name to a kernel error: `.map_err(at("host: set up"))`.
pub(crate) fn at(step: &'static str) -> impl FnOnce(KernelError) -> DataplaneError {
    move |source| DataplaneError::Kernel { step, source }
}
