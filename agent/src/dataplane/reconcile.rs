//! The reconciler's core (sans-IO): the state the kernel should be in, what it is in, and the
//! minimal operations between the two.
//!
//! Desired: a blackhole per held block, for each container its host interface and /32 (/128)
//! routes, and the learned routes (only reachable next hops). Actual: the `proto lattice` and
//! `proto bgp` routes, links and addresses, as dumped from the kernel. [`diff`] compares them and
//! never proposes a change that is already in place, so a restart that finds everything right
//! issues no operation at all (adoption: no flush, no traffic lost).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ipnet::IpNet;

use super::routed_veth::{host_routes, AttachSpec};
use super::routes::{LearnedRoutes, Reachability, RouteOp};
use super::wiring::Wiring;
use super::RTPROT_LATTICE;
use crate::kernel::{LinkInfo, Route, RouteTarget};

/// Identifies one container interface: (container id, interface name).
pub type ContainerKey = (String, String);

/// Everything the kernel should hold for this host.
#[derive(Debug, Clone, Default)]
pub struct DesiredState {
    /// The blocks this host holds (IPv4 and IPv6); each gets a blackhole route.
    pub blocks: Vec<IpNet>,
    /// The wired containers.
    pub containers: BTreeMap<ContainerKey, AttachSpec>,
    /// The learned routes.
    pub learned: LearnedRoutes,
    /// Delete `proto bgp` routes nobody announced (off during the adoption window after start).
    pub prune_learned: bool,
    /// How containers are wired (decides their host interface).
    pub wiring: Wiring,
}

/// What the kernel holds, as far as the reconciler cares.
#[derive(Debug, Clone, Default)]
pub struct ActualState {
    /// Routes with protocol [`RTPROT_LATTICE`].
    pub lattice_routes: Vec<Route>,
    /// Routes with protocol `bgp`.
    pub bgp_routes: Vec<Route>,
    /// Every link.
    pub links: Vec<LinkInfo>,
    /// Every address, with its link.
    pub addresses: Vec<(u32, IpNet)>,
    /// Containers whose own interface is missing or down inside their namespace, where that
    /// is checked ([`Wiring::probes_container_side`]: ipvlan slaves).
    pub container_sides_down: BTreeSet<ContainerKey>,
}

/// One step towards the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReconcileOp {
    /// Change one route.
    Route(RouteOp),
    /// (Re)wire a container whose host interface (or, for ipvlan, its own slave) is missing or
    /// down.
    Attach(ContainerKey),
}

impl DesiredState {
    /// The `proto lattice` routes the host namespace should hold, given the links present, and
    /// the containers whose host interface is missing or down (they need a full attach).
    fn local_routes(&self, links: &HashMap<&str, &LinkInfo>) -> (Vec<Route>, Vec<ContainerKey>) {
        let mut routes: Vec<Route> = self
            .blocks
            .iter()
            .map(|b| Route::blackhole(b.trunc(), RTPROT_LATTICE))
            .collect();
        let mut broken = Vec::new();
        for (key, spec) in &self.containers {
            let name = self.wiring.host_link(spec);
            match links.get(name.as_str()) {
                Some(link) if link.up => routes.extend(host_routes(spec, link.index)),
                _ => broken.push(key.clone()),
            }
        }
        (routes, broken)
    }

    /// True if `destination` is a route the reconciler keeps (a block, a container, a learned
    /// prefix): a change to it by someone else deserves a repair.
    pub fn owns(&self, destination: IpNet) -> bool {
        self.blocks.iter().any(|b| b.trunc() == destination)
            || self.learned.wants(destination)
            || self.containers.values().any(|s| {
                host_routes(s, 0)
                    .iter()
                    .any(|r| r.destination == destination)
            })
    }
}

/// The minimal operations that turn `actual` into `desired`. Also refreshes which learned
/// routes count as installed (hence `&mut`).
pub fn diff(desired: &mut DesiredState, actual: &ActualState) -> Vec<ReconcileOp> {
    let links: HashMap<&str, &LinkInfo> =
        actual.links.iter().map(|l| (l.name.as_str(), l)).collect();
    let (want, mut broken) = desired.local_routes(&links);
    for key in &actual.container_sides_down {
        if desired.containers.contains_key(key) && !broken.contains(key) {
            broken.push(key.clone());
        }
    }
    let mut ops: Vec<ReconcileOp> = broken.into_iter().map(ReconcileOp::Attach).collect();

    let have: HashMap<IpNet, &Route> = actual
        .lattice_routes
        .iter()
        .filter(|r| r.protocol == RTPROT_LATTICE)
        .map(|r| (r.destination, r))
        .collect();
    let wanted: HashMap<IpNet, &Route> = want.iter().map(|r| (r.destination, r)).collect();
    for route in &want {
        if have.get(&route.destination).copied() != Some(route) {
            ops.push(ReconcileOp::Route(RouteOp::Replace(route.clone())));
        }
    }
    for (dst, route) in &have {
        if !wanted.contains_key(dst) && !adopted(route, &links) {
            ops.push(ReconcileOp::Route(RouteOp::Delete {
                destination: *dst,
                protocol: RTPROT_LATTICE,
            }));
        }
    }

    let reach = Reachability::new(&actual.links, &actual.addresses);
    let prune = desired.prune_learned;
    let learned = desired.learned.reconcile(&actual.bgp_routes, &reach, prune);
    ops.extend(learned.into_iter().map(ReconcileOp::Route));
    ops
}

/// A `proto lattice` route nobody asked for that is kept anyway: a container route out of a
/// host veth that still exists (a container wired by a run whose records are gone keeps its
/// network until its CNI DEL). Stale blackholes and anything else go.
fn adopted(route: &Route, links: &HashMap<&str, &LinkInfo>) -> bool {
    match route.target {
        RouteTarget::Device { ifindex } => links
            .values()
            .any(|l| l.index == ifindex && l.name.starts_with("lat")),
        RouteTarget::Gateways(_) | RouteTarget::Blackhole => false,
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
