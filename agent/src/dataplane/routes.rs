//! Kernel routes for BGP-learned prefixes: a sans-IO desired-state table ([`LearnedRoutes`])
//! that turns route changes into [`RouteOp`]s, and an executor that applies them in bulk
//! ([`Kernel::apply_routes`]: on netlink, hundreds of changes per system call).
//!
//! Learned routes are installed with protocol `bgp` (186) so they are listed and cleaned up
//! apart from everything else; several next hops make one multipath (ECMP) route, changed
//! atomically with `NLM_F_REPLACE` (never delete-then-add, which would blackhole traffic).
//! Only next hops the kernel can reach (inside a connected prefix of an up link, or link-local
//! on an up link) are installed: the kernel refuses a route through an unreachable gateway, and
//! one bad hop would make it refuse the whole multipath route. An IPv4 prefix may go via an IPv6
//! gateway (RFC 8950, `via inet6 fe80::1 dev eth1`: `RTA_VIA`), so a host whose uplinks have no
//! IPv4 address still routes IPv4. A gateway that is one of this host's own addresses (a
//! link-local one: on the same link), loopback, multicast or unspecified is never installed. A
//! best route left without a usable hop is counted ([`LearnedRoutes::not_installed`]): health
//! says so.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

use futures::stream::{FuturesUnordered, StreamExt};
use ipnet::IpNet;

use super::{at, DataplaneError, RTPROT_LATTICE};
use crate::kernel::{Kernel, LinkInfo, NextHop, Route, RTPROT_BGP};

/// How many route requests the executor keeps in flight on the netlink socket.
pub const IN_FLIGHT: usize = 256;

/// One prefix's best next hops as the BGP RIB now sees them; empty `next_hops` = withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedRoute {
    /// The destination.
    pub prefix: IpNet,
    /// The ECMP next hops (any order, duplicates allowed); a link-local one with its
    /// interface.
    pub next_hops: Vec<NextHop>,
}

pub use crate::kernel::RouteOp;

/// Which gateways the kernel can use right now: those inside a connected prefix of an up link,
/// and link-local ones on an up link; never one of this host's own addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reachability {
    connected: Vec<IpNet>,
    /// Every address of the namespace with its link (a route via one would loop back to us;
    /// a link-local one is ours only on its own link).
    own: BTreeSet<(IpAddr, u32)>,
    /// Links that are up, by index, and their names (for reasons).
    up: BTreeMap<u32, String>,
    /// Every link (up or not) by index, for reasons.
    names: BTreeMap<u32, String>,
    /// Link-local gateways count as on any link (tests, and callers that let the kernel decide).
    any_link: bool,
}

impl Reachability {
    /// From the namespace's links and addresses. Host addresses (/32, /128) connect nothing.
    pub fn new(links: &[LinkInfo], addresses: &[(u32, IpNet)]) -> Self {
        let up: BTreeMap<u32, String> = links
            .iter()
            .filter(|l| l.up)
            .map(|l| (l.index, l.name.clone()))
            .collect();
        let mut connected: Vec<IpNet> = addresses
            .iter()
            .filter(|(i, a)| up.contains_key(i) && a.prefix_len() < a.max_prefix_len())
            .map(|(_, a)| a.trunc())
            .collect();
        connected.sort();
        connected.dedup();
        let names = links.iter().map(|l| (l.index, l.name.clone())).collect();
        let own = addresses.iter().map(|(i, a)| (a.addr(), *i)).collect();
        Reachability {
            connected,
            own,
            up,
            names,
            any_link: false,
        }
    }

    /// Everything reachable: for tests and for callers that let the kernel decide.
    pub fn everything() -> Self {
        let all = [
            IpNet::V4(ipnet::Ipv4Net::default()),
            IpNet::V6(ipnet::Ipv6Net::default()),
        ];
        Reachability {
            connected: all.to_vec(),
            any_link: true,
            ..Reachability::default()
        }
    }

    /// True if the kernel can send to `hop` directly.
    pub fn reaches(&self, hop: NextHop) -> bool {
        self.why_not(hop).is_none()
    }

    /// Why the kernel cannot send to `hop` directly, if it cannot.
    pub fn why_not(&self, hop: NextHop) -> Option<String> {
        let gw = hop.gateway;
        if gw.is_loopback() || gw.is_multicast() || gw.is_unspecified() {
            return Some(format!("next hop {gw} cannot be a gateway"));
        }
        let ours = match hop.ifindex.filter(|_| hop.is_link_local()) {
            Some(index) => self.own.contains(&(gw, index)),
            None => self.own.range((gw, 0)..=(gw, u32::MAX)).next().is_some(),
        };
        if ours {
            return Some(format!("next hop {gw} is this host's own address"));
        }
        if hop.is_link_local() {
            let Some(index) = hop.ifindex else {
                return Some(format!("next hop {} has no interface", hop.gateway));
            };
            if self.any_link || self.up.contains_key(&index) {
                return None;
            }
            return Some(match self.names.get(&index) {
                Some(name) => format!("next hop {} is on {name}, which is down", hop.gateway),
                None => format!("next hop {}: interface {index} is gone", hop.gateway),
            });
        }
        if self.connected.iter().any(|net| net.contains(&hop.gateway)) {
            return None;
        }
        Some(format!(
            "next hop {} is not on-link (no up interface has a prefix holding it)",
            hop.gateway
        ))
    }

    /// The name of interface `index`, if it exists.
    pub fn interface_name(&self, index: u32) -> Option<&str> {
        self.names.get(&index).map(String::as_str)
    }

    /// `hops` without the unreachable ones.
    pub fn filter(&self, hops: &[NextHop]) -> Vec<NextHop> {
        hops.iter().copied().filter(|h| self.reaches(*h)).collect()
    }
}

/// The learned routes the kernel should hold (sans-IO: no kernel access here).
#[derive(Debug, Clone, Default)]
pub struct LearnedRoutes {
    /// What BGP wants, normalized (sorted, deduplicated, unfiltered).
    desired: BTreeMap<IpNet, Vec<NextHop>>,
    /// What was last programmed: the reachable subset of `desired`, never empty.
    installed: BTreeMap<IpNet, Vec<NextHop>>,
    /// How many of `installed` have several next hops (kept as it changes: read per batch).
    multipath: usize,
    /// Prefixes never taken from BGP (our own blocks: their blackholes and /32s must win).
    protected: BTreeSet<IpNet>,
}

impl LearnedRoutes {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ignores learned routes equal to or inside `block` (e.g. this host's own block echoed
    /// back by a peer), so they never replace our local routes. Keep this check: the IPAM
    /// conflict tracker builds on it.
    pub fn protect(&mut self, block: impl Into<IpNet>) {
        self.protected.insert(block.into().trunc());
    }

    /// Replaces the protected blocks with `blocks`.
    pub fn set_protected(&mut self, blocks: &[IpNet]) {
        self.protected = blocks.iter().map(|b| b.trunc()).collect();
    }

    /// True if `prefix` lies inside one of our own blocks.
    pub fn is_protected(&self, prefix: IpNet) -> bool {
        self.protected.iter().any(|p| p.contains(&prefix))
    }

    /// Records a change and returns the kernel ops it needs (none if nothing changed).
    pub fn apply(&mut self, change: &LearnedRoute, reach: &Reachability) -> Vec<RouteOp> {
        let prefix = change.prefix.trunc();
        if self.is_protected(prefix) {
            return Vec::new();
        }
        let hops = normalize(prefix, &change.next_hops);
        if hops.is_empty() {
            self.desired.remove(&prefix);
        } else {
            self.desired.insert(prefix, hops);
        }
        self.program(prefix, reach).into_iter().collect()
    }

    /// Recomputes `prefix`'s installed hops under `reach`; the op that gets the kernel there.
    fn program(&mut self, prefix: IpNet, reach: &Reachability) -> Option<RouteOp> {
        let usable = self
            .desired
            .get(&prefix)
            .map(|h| reach.filter(h))
            .unwrap_or_default();
        if usable.is_empty() {
            return self.uninstall(prefix).map(|_| RouteOp::Delete {
                destination: prefix,
                protocol: RTPROT_BGP,
            });
        }
        if self.installed.get(&prefix) == Some(&usable) {
            return None;
        }
        let op = RouteOp::learned(prefix, &usable);
        self.install(prefix, usable);
        Some(op)
    }

    fn install(&mut self, prefix: IpNet, hops: Vec<NextHop>) {
        let multi = hops.len() > 1;
        if let Some(old) = self.installed.insert(prefix, hops) {
            self.multipath = self.multipath.saturating_sub(usize::from(old.len() > 1));
        }
        self.multipath = self.multipath.saturating_add(usize::from(multi));
    }

    fn uninstall(&mut self, prefix: IpNet) -> Option<Vec<NextHop>> {
        let old = self.installed.remove(&prefix)?;
        self.multipath = self.multipath.saturating_sub(usize::from(old.len() > 1));
        Some(old)
    }

    /// The next hops BGP wants for `prefix`, if any (reachable or not).
    pub fn next_hops(&self, prefix: IpNet) -> Option<&[NextHop]> {
        self.desired.get(&prefix.trunc()).map(Vec::as_slice)
    }

    /// True if BGP wants a route to exactly `prefix`.
    pub fn wants(&self, prefix: IpNet) -> bool {
        self.desired.contains_key(&prefix)
    }

    /// Number of prefixes programmed (with at least one reachable next hop).
    pub fn len(&self) -> usize {
        self.installed.len()
    }

    /// Number of prefixes BGP wants in the kernel that have no usable next hop (not installed).
    pub fn not_installed(&self) -> usize {
        self.desired.len().saturating_sub(self.installed.len())
    }

    /// Number of programmed prefixes with several next hops (ECMP).
    pub fn multipath_len(&self) -> usize {
        self.multipath
    }

    /// True if nothing is programmed.
    pub fn is_empty(&self) -> bool {
        self.installed.is_empty()
    }

    /// Ops that turn `actual` (the kernel's `proto bgp` routes) into the desired state under
    /// `reach`: replaces for missing or different routes, and, if `prune`, deletes for routes
    /// nobody wants (e.g. left by a previous run: kept until the sessions had time to re-learn).
    pub fn reconcile(
        &mut self,
        actual: &[Route],
        reach: &Reachability,
        prune: bool,
    ) -> Vec<RouteOp> {
        let have: BTreeMap<IpNet, Vec<NextHop>> = actual
            .iter()
            .filter(|r| r.protocol == RTPROT_BGP)
            .map(|r| (r.destination, r.next_hops()))
            .collect();
        let mut ops = Vec::new();
        let prefixes: Vec<IpNet> = self.desired.keys().copied().collect();
        self.installed.clear();
        self.multipath = 0;
        for prefix in prefixes {
            let usable = self
                .desired
                .get(&prefix)
                .map(|h| reach.filter(h))
                .unwrap_or_default();
            match (usable.is_empty(), have.get(&prefix)) {
                (true, Some(_)) => ops.push(RouteOp::Delete {
                    destination: prefix,
                    protocol: RTPROT_BGP,
                }),
                (true, None) => {}
                (false, current) => {
                    if current != Some(&usable) {
                        ops.push(RouteOp::learned(prefix, &usable));
                    }
                    self.install(prefix, usable);
                }
            }
        }
        if prune {
            let stale = have.keys().filter(|p| !self.desired.contains_key(p));
            ops.extend(stale.map(|&destination| RouteOp::Delete {
                destination,
                protocol: RTPROT_BGP,
            }));
        }
        ops
    }
}

/// Sorted, deduplicated, interfaces kept only on link-local hops, without unspecified
/// addresses or IPv4 gateways of IPv6 prefixes (the kernel has no IPv6 route via IPv4). IPv4
/// prefixes keep IPv6 gateways (RFC 8950).
fn normalize(prefix: IpNet, hops: &[NextHop]) -> Vec<NextHop> {
    let v6 = matches!(prefix, IpNet::V6(_));
    let set: BTreeSet<NextHop> = hops
        .iter()
        .map(|h| h.normalized())
        .filter(|h| !(h.gateway.is_unspecified() || (v6 && h.gateway.is_ipv4())))
        .collect();
    set.into_iter().collect()
}

/// Applies `ops` in order through [`Kernel::apply_routes`] (on netlink: hundreds of changes per
/// system call). Every op is tried; the first failure is returned. Deleting a route that is
/// already gone counts as done. If the batch itself fails, the ops are applied again with
/// [`execute_pipelined`] (they are idempotent).
pub async fn execute(kernel: &dyn Kernel, ops: &[RouteOp]) -> Result<(), DataplaneError> {
    let failed = match kernel.apply_routes(ops).await {
        Ok(failed) => failed,
        Err(e) => {
            tracing::warn!(error = %e, "route batch failed; applying one request at a time");
            return execute_pipelined(kernel, ops).await;
        }
    };
    let mut first_error = None;
    for (i, e) in failed {
        let delete = matches!(ops.get(i), Some(RouteOp::Delete { .. }));
        if delete && e.is_not_found() {
            continue;
        }
        let e = at(if delete {
            "delete route"
        } else {
            "replace route"
        })(e);
        tracing::warn!(error = %e, "route op failed");
        first_error.get_or_insert(e);
    }
    first_error.map_or(Ok(()), Err)
}

/// Applies `ops` with up to [`IN_FLIGHT`] requests outstanding at once. Ops on the same
/// destination keep their order (a later one waits for the earlier ones). Every op is tried;
/// the first failure is returned. Deleting a route that is already gone counts as done.
pub async fn execute_pipelined(kernel: &dyn Kernel, ops: &[RouteOp]) -> Result<(), DataplaneError> {
    let mut first_error = None;
    let mut start = 0;
    while start < ops.len() {
        // The longest run from `start` with distinct destinations goes out concurrently.
        let mut seen = HashSet::new();
        let end = ops
            .iter()
            .skip(start)
            .position(|op| !seen.insert(op.destination()))
            .map_or(ops.len(), |n| start + n);
        let wave = ops.get(start..end).unwrap_or_default();
        let mut queued = wave.iter();
        let mut in_flight = FuturesUnordered::new();
        loop {
            while in_flight.len() < IN_FLIGHT {
                match queued.next() {
                    Some(op) => in_flight.push(execute_one(kernel, op)),
                    None => break,
                }
            }
            match in_flight.next().await {
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "route op failed");
                    first_error.get_or_insert(e);
                }
                Some(Ok(())) => {}
                None => break,
            }
        }
        start = end;
    }
    first_error.map_or(Ok(()), Err)
}

async fn execute_one(kernel: &dyn Kernel, op: &RouteOp) -> Result<(), DataplaneError> {
    match op {
        RouteOp::Replace(route) => kernel
            .replace_route(route)
            .await
            .map_err(at("replace route")),
        RouteOp::Delete {
            destination,
            protocol,
        } => match kernel.delete_route(*destination, *protocol).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map_err(at("delete route")),
        },
    }
}

/// Installs `blackhole <block>` (protocol lattice): addresses of the block not (or no longer)
/// given to a container are dropped here instead of following the default route out.
pub async fn ensure_blackhole(
    kernel: &dyn Kernel,
    block: impl Into<IpNet>,
) -> Result<(), DataplaneError> {
    kernel
        .replace_route(&Route::blackhole(block.into().trunc(), RTPROT_LATTICE))
        .await
        .map_err(at("blackhole route"))
}

/// Host-wide settings the routed dataplane needs: IPv4 forwarding, and IPv6 forwarding where
/// the namespace has IPv6 (a kernel booted with `ipv6.disable=1` has no such sysctl).
pub async fn prepare_host(kernel: &dyn Kernel) -> Result<(), DataplaneError> {
    kernel
        .write_sysctl("net/ipv4/ip_forward", "1")
        .await
        .map_err(at("enable ip_forward"))?;
    match kernel
        .write_sysctl("net/ipv6/conf/all/forwarding", "1")
        .await
    {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map_err(at("enable IPv6 forwarding")),
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
