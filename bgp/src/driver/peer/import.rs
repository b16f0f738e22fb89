//! The import step between an UPDATE and the RIB: the peer's prefix list, then its route
//! policy, which may refuse a route or change it. Paths a policy changed the same way stay
//! shared, as the prefixes of one UPDATE share theirs.

use std::sync::Arc;

use ipnet::IpNet;

use crate::policy::{ImportPolicy, Policy, RouteAttrs, RouteContext, RouteSource};
use crate::rib::Path;
use crate::PeerKey;

/// One pass of imports (an UPDATE, or a kept Adj-RIB-In taken again).
#[derive(Debug)]
pub(super) struct Importer<'a> {
    prefixes: &'a ImportPolicy,
    policy: Option<&'a Policy>,
    peer: &'a PeerKey,
    local_as: u32,
    /// The prefixes refused in this pass.
    pub refused: Vec<IpNet>,
    /// Paths changed in this pass: (the received path, what the policy made of it, the result).
    changed: Vec<(Arc<Path>, RouteAttrs, Arc<Path>)>,
}

impl<'a> Importer<'a> {
    /// An import step for `peer` with its prefix list and policy.
    pub fn new(
        prefixes: &'a ImportPolicy,
        policy: Option<&'a Policy>,
        peer: &'a PeerKey,
        local_as: u32,
    ) -> Self {
        Self {
            prefixes,
            policy,
            peer,
            local_as,
            refused: Vec::new(),
            changed: Vec::new(),
        }
    }

    /// The path to store for `prefix`, or `None`: refused (it counts as withdrawn).
    pub fn import(&mut self, prefix: &IpNet, path: &Arc<Path>) -> Option<Arc<Path>> {
        if !self.prefixes.accepts(prefix) {
            self.refused.push(*prefix);
            return None;
        }
        let Some(policy) = self.policy else {
            return Some(path.clone());
        };
        let ctx = RouteContext {
            prefix: *prefix,
            peer: self.peer,
            source: RouteSource::Learned,
            local_as: self.local_as,
        };
        let decision = policy.evaluate(&ctx, path.as_ref());
        if !decision.accepted() {
            self.refused.push(*prefix);
            return None;
        }
        let Some(attrs) = decision.changed else {
            return Some(path.clone());
        };
        // A handful of distinct outcomes per pass at most in practice: a linear look-up.
        if let Some((_, _, done)) = self
            .changed
            .iter()
            .find(|(from, a, _)| Arc::ptr_eq(from, path) && *a == attrs)
        {
            return Some(done.clone());
        }
        let done = Arc::new(path.with_attrs(attrs.clone()));
        if self.changed.len() < 64 {
            self.changed.push((path.clone(), attrs, done.clone()));
        }
        Some(done)
    }
}
