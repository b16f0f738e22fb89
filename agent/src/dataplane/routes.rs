//! Kernel routes for BGP-learned prefixes: a sans-IO desired-state table ([`LearnedRoutes`])
//! that turns route changes into [`RouteOp`]s, and a thin executor that applies them.
//!
//! Learned routes are installed with protocol `bgp` (186) so they are listed and cleaned up
//! apart from everything else; several next hops make one multipath (ECMP) route, changed
//! atomically with `NLM_F_REPLACE` (never delete-then-add, which would blackhole traffic).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::{at, DataplaneError, RTPROT_LATTICE};
use crate::kernel::{Kernel, Route, RTPROT_BGP};

/// One prefix's best next hops as the BGP RIB now sees them; empty `next_hops` = withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedRoute {
    /// The destination.
    pub prefix: Ipv4Net,
    /// The ECMP next hops (any order, duplicates allowed).
    pub next_hops: Vec<Ipv4Addr>,
}

/// One kernel change for a learned prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOp {
    /// Install or atomically replace the route (one multipath route if several next hops).
    Replace {
        /// The destination.
        prefix: Ipv4Net,
        /// Sorted, deduplicated, non-empty.
        next_hops: Vec<Ipv4Addr>,
    },
    /// Remove the route.
    Delete {
        /// The destination.
        prefix: Ipv4Net,
    },
}

/// The learned routes the kernel should hold (sans-IO: no kernel access here).
#[derive(Debug, Clone, Default)]
pub struct LearnedRoutes {
    desired: BTreeMap<Ipv4Net, Vec<Ipv4Addr>>,
    /// Prefixes never taken from BGP (our own block: its blackhole and /32s must win).
    protected: BTreeSet<Ipv4Net>,
}

impl LearnedRoutes {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ignores learned routes equal to or inside `block` (e.g. this host's own block echoed
    /// back by a peer), so they never replace our local routes.
    pub fn protect(&mut self, block: Ipv4Net) {
        self.protected.insert(block.trunc());
    }

    /// Records a change and returns the kernel ops it needs (none if nothing changed).
    pub fn apply(&mut self, change: &LearnedRoute) -> Vec<RouteOp> {
        let prefix = change.prefix.trunc();
        if self.protected.iter().any(|p| p.contains(&prefix)) {
            return Vec::new();
        }
        let hops = normalize(&change.next_hops);
        if hops.is_empty() {
            return match self.desired.remove(&prefix) {
                Some(_) => vec![RouteOp::Delete { prefix }],
                None => Vec::new(),
            };
        }
        if self.desired.get(&prefix) == Some(&hops) {
            return Vec::new();
        }
        self.desired.insert(prefix, hops.clone());
        vec![RouteOp::Replace {
            prefix,
            next_hops: hops,
        }]
    }

    /// The next hops installed for `prefix`, if any.
    pub fn next_hops(&self, prefix: Ipv4Net) -> Option<&[Ipv4Addr]> {
        self.desired.get(&prefix.trunc()).map(Vec::as_slice)
    }

    /// Number of prefixes held.
    pub fn len(&self) -> usize {
        self.desired.len()
    }

    /// True if no prefix is held.
    pub fn is_empty(&self) -> bool {
        self.desired.is_empty()
    }

    /// Ops that turn `actual` (the kernel's `proto bgp` routes) into the desired state:
    /// replaces for missing or different routes, deletes for routes nobody wants (e.g. left
    /// by a previous run).
    pub fn reconcile(&self, actual: &[Route]) -> Vec<RouteOp> {
        let have: BTreeMap<Ipv4Net, Vec<Ipv4Addr>> = actual
            .iter()
            .filter(|r| r.protocol == RTPROT_BGP)
            .map(|r| (r.destination, r.gateways()))
            .collect();
        let stale = have
            .keys()
            .filter(|p| !self.desired.contains_key(p))
            .map(|&prefix| RouteOp::Delete { prefix });
        let wrong = self
            .desired
            .iter()
            .filter(|(p, hops)| have.get(p) != Some(hops))
            .map(|(&prefix, hops)| RouteOp::Replace {
                prefix,
                next_hops: hops.clone(),
            });
        stale.chain(wrong).collect()
    }
}

fn normalize(hops: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
    let set: BTreeSet<Ipv4Addr> = hops
        .iter()
        .copied()
        .filter(|h| !h.is_unspecified())
        .collect();
    set.into_iter().collect()
}

/// Applies `ops` in order. Every op is tried; the first failure is returned. Deleting a route
/// that is already gone counts as done.
pub async fn execute(kernel: &dyn Kernel, ops: &[RouteOp]) -> Result<(), DataplaneError> {
    let mut first_error = None;
    for op in ops {
        let result = match op {
            RouteOp::Replace { prefix, next_hops } => kernel
                .replace_route(&Route::via(*prefix, next_hops, RTPROT_BGP))
                .await
                .map_err(at("replace learned route")),
            RouteOp::Delete { prefix } => match kernel.delete_route(*prefix, RTPROT_BGP).await {
                Err(e) if e.is_not_found() => Ok(()),
                other => other.map_err(at("delete learned route")),
            },
        };
        if let Err(e) = result {
            tracing::warn!(?op, error = %e, "learned route op failed");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Installs `blackhole <block>` (protocol lattice): addresses of the block not (or no longer)
/// given to a container are dropped here instead of following the default route out.
pub async fn ensure_blackhole(kernel: &dyn Kernel, block: Ipv4Net) -> Result<(), DataplaneError> {
    kernel
        .replace_route(&Route::blackhole(block.trunc(), RTPROT_LATTICE))
        .await
        .map_err(at("blackhole route"))
}

/// Host-wide settings the routed dataplane needs: IPv4 forwarding.
pub async fn prepare_host(kernel: &dyn Kernel) -> Result<(), DataplaneError> {
    kernel
        .write_sysctl("net/ipv4/ip_forward", "1")
        .await
        .map_err(at("enable ip_forward"))
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
