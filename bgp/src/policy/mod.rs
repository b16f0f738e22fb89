//! Per-peer routing policy: which learned prefixes are accepted and how many ([`ImportPolicy`],
//! prefix lists), and named route policies that match and change routes both ways
//! ([`Policy`], in `engine.rs`, over the route view of `route.rs`).
//!
//! Pure functions over prefixes and attributes; the driver applies them between the wire and
//! the RIB (import) and between our routes and each peer's Adj-RIB-Out (export).

mod engine;
mod route;
#[cfg(test)]
mod tests;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

pub use engine::{
    Action, Condition, DecidedBy, Decision, Policy, Statement, StatementAction, Verdict,
};
pub use route::{origin_as, path_len, Attrs, Family, RouteAttrs, RouteContext, RouteSource};

/// A prefix-list entry: `prefix` with optional `ge`/`le` bounds on the matched length, with
/// FRR's meaning: without bounds only `prefix` itself matches; `le N` matches more specifics
/// up to /N; `ge N` matches lengths N..=32 (128 for IPv6, or up to `le`). A rule matches prefixes
/// of its own family only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixRule {
    /// The covering prefix.
    pub prefix: IpNet,
    /// Shortest matched length.
    #[serde(default)]
    pub ge: Option<u8>,
    /// Longest matched length.
    #[serde(default)]
    pub le: Option<u8>,
}

impl PrefixRule {
    /// Exactly `prefix`.
    pub fn exact(prefix: impl Into<IpNet>) -> Self {
        Self {
            prefix: prefix.into(),
            ge: None,
            le: None,
        }
    }

    /// `prefix` and everything more specific.
    pub fn or_longer(prefix: impl Into<IpNet>) -> Self {
        let prefix = prefix.into();
        Self {
            prefix,
            ge: None,
            le: Some(prefix.max_prefix_len()),
        }
    }

    /// Whether `p` matches.
    pub fn matches(&self, p: &IpNet) -> bool {
        let base = self.prefix.trunc();
        if !base.contains(p) {
            return false;
        }
        let (low, high) = self.bounds();
        (low..=high).contains(&p.prefix_len())
    }

    /// The matched length range.
    pub fn bounds(&self) -> (u8, u8) {
        let len = self.prefix.prefix_len();
        match (self.ge, self.le) {
            (None, None) => (len, len),
            (Some(ge), None) => (ge, self.prefix.max_prefix_len()),
            (None, Some(le)) => (len, le),
            (Some(ge), Some(le)) => (ge, le),
        }
    }

    /// Why the rule can never match, if so (`len <= ge <= le <= 32` or 128, as FRR requires).
    pub fn check(&self) -> Result<(), String> {
        let len = self.prefix.prefix_len();
        let max = self.prefix.max_prefix_len();
        let (low, high) = self.bounds();
        if self.prefix.addr() != self.prefix.network() {
            return Err(format!("{} has host bits set", self.prefix));
        }
        if low < len || high > max || low > high {
            return Err(format!(
                "needs {len} <= ge <= le <= {max} (got ge {low}, le {high})"
            ));
        }
        Ok(())
    }
}

/// What a peer may send us.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportPolicy {
    /// Accepted prefixes; empty accepts nothing.
    pub rules: Vec<PrefixRule>,
}

impl ImportPolicy {
    /// The safe default (the aim of RFC 8212): the cluster ranges and their more specifics,
    /// plus the default routes, nothing else.
    pub fn cluster_default(clusters: &[IpNet]) -> Self {
        let mut rules: Vec<PrefixRule> =
            clusters.iter().map(|c| PrefixRule::or_longer(*c)).collect();
        rules.push(PrefixRule::exact(Ipv4Net::default()));
        rules.push(PrefixRule::exact(Ipv6Net::default()));
        Self { rules }
    }

    /// Every prefix of both families.
    pub fn accept_all() -> Self {
        Self {
            rules: vec![
                PrefixRule::or_longer(Ipv4Net::default()),
                PrefixRule::or_longer(Ipv6Net::default()),
            ],
        }
    }

    /// Whether `p` is accepted.
    pub fn accepts(&self, p: &IpNet) -> bool {
        self.rules.iter().any(|r| r.matches(p))
    }
}

/// RFC 4271 §9.1.2 loop detection, relaxed by `allow_as_in`: a path is usable when our AS
/// appears in it at most `allow_as_in` times.
pub fn loop_free(occurrences_of_local_as: usize, allow_as_in: u8) -> bool {
    occurrences_of_local_as <= usize::from(allow_as_in)
}

#[cfg(test)]
mod prefix_tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn prefix_rules_follow_frr_semantics() {
        let exact = PrefixRule::exact(net("10.244.0.0/16"));
        assert!(exact.matches(&net("10.244.0.0/16")));
        assert!(!exact.matches(&net("10.244.1.0/24")));
        let le = PrefixRule {
            prefix: net("10.244.0.0/16"),
            ge: None,
            le: Some(24),
        };
        assert!(le.matches(&net("10.244.1.0/24")));
        assert!(!le.matches(&net("10.244.1.0/25")));
        let ge = PrefixRule {
            prefix: net("10.244.0.0/16"),
            ge: Some(24),
            le: None,
        };
        assert!(ge.matches(&net("10.244.1.128/25")));
        assert!(!ge.matches(&net("10.244.0.0/23")));
        assert!(!ge.matches(&net("10.245.0.0/24")));
        let both = PrefixRule {
            prefix: net("10.0.0.0/8"),
            ge: Some(20),
            le: Some(24),
        };
        assert!(both.matches(&net("10.1.0.0/22")));
        assert!(!both.matches(&net("10.1.0.0/26")));
    }

    #[test]
    fn impossible_rules_are_refused() {
        assert!(PrefixRule {
            prefix: net("10.0.0.0/16"),
            ge: Some(8),
            le: None
        }
        .check()
        .is_err());
        assert!(PrefixRule {
            prefix: net("10.0.0.0/16"),
            ge: Some(24),
            le: Some(20)
        }
        .check()
        .is_err());
        assert!(PrefixRule {
            prefix: net("10.0.0.0/16"),
            ge: None,
            le: Some(33)
        }
        .check()
        .is_err());
        assert!(PrefixRule::exact(net("10.0.0.1/16")).check().is_err());
        assert!(PrefixRule::or_longer(net("10.0.0.0/16")).check().is_ok());
    }

    #[test]
    fn the_default_imports_cluster_and_default_route_only() {
        let p = ImportPolicy::cluster_default(&[net("10.244.0.0/16")]);
        assert!(p.accepts(&net("10.244.3.0/24")));
        assert!(p.accepts(&net("10.244.0.0/16")));
        assert!(p.accepts(&net("0.0.0.0/0")));
        assert!(!p.accepts(&net("8.8.8.0/24")));
        assert!(!p.accepts(&net("10.0.0.0/8")));
        assert!(!ImportPolicy::default().accepts(&net("10.244.3.0/24")));
        let dual = ImportPolicy::cluster_default(&[net("10.244.0.0/16"), net("fd00:244::/48")]);
        assert!(dual.accepts(&net("fd00:244:0:3::/64")));
        assert!(dual.accepts(&net("::/0")));
        assert!(!dual.accepts(&net("2001:db8::/32")));
        // A rule never matches the other family.
        assert!(!PrefixRule::or_longer(net("0.0.0.0/0")).matches(&net("::/0")));
        assert!(PrefixRule {
            prefix: net("fd00::/8"),
            ge: None,
            le: Some(129)
        }
        .check()
        .is_err());
    }

    #[test]
    fn allow_as_in_counts_occurrences() {
        assert!(loop_free(0, 0));
        assert!(!loop_free(1, 0));
        assert!(loop_free(2, 2));
        assert!(!loop_free(3, 2));
    }
}
