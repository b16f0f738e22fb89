//! Named route policies: ordered statements of conditions, changes and a verdict, as FRR's
//! route-maps and BIRD's filters have them. Pure: a route and its attributes in, a
//! [`Decision`] out.
//!
//! A policy runs its statements in order. A statement whose conditions all hold applies its
//! changes, then accepts, rejects, or lets the next statement look at the changed route
//! ([`StatementAction::Continue`]). A route no statement decided gets the policy's default.

use crate::PeerKey;

use super::route::{origin_as, path_len, Attrs, Family, RouteAttrs, RouteContext, RouteSource};
use super::PrefixRule;
use crate::wire::{AsSegment, LargeCommunity};

/// Accept or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The route is used (import) or sent (export).
    Accept,
    /// The route is treated as withdrawn (import) or not sent (export).
    Reject,
}

/// What a statement does once its conditions hold and its changes are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementAction {
    /// Stop: the route is accepted as changed.
    Accept,
    /// Stop: the route is rejected.
    Reject,
    /// Go on with the next statement.
    Continue,
}

/// One test on a route. A condition listing several values holds when any of them matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Condition {
    /// The prefix matches one of the rules (FRR prefix-list semantics, see [`PrefixRule`]).
    Prefix(Vec<PrefixRule>),
    /// The prefix is of this family.
    Family(Family),
    /// The route carries one of these communities.
    Community(Vec<u32>),
    /// The route carries one of these large communities.
    LargeCommunity(Vec<LargeCommunity>),
    /// This AS appears anywhere in the AS_PATH (sets included).
    AsPathContains(u32),
    /// The path was originated by this AS (see [`origin_as`]).
    OriginAs(u32),
    /// The AS_PATH length (see [`path_len`]) is within these bounds.
    AsPathLength {
        /// Shortest matched length.
        min: Option<u32>,
        /// Longest matched length.
        max: Option<u32>,
    },
    /// The route comes from (import) or goes to (export) one of these peers.
    Peer(Vec<PeerKey>),
    /// The route is learned, or one of ours of these kinds.
    Source(Vec<RouteSource>),
    /// Not all of these conditions hold (a negated `match` block).
    Not(Vec<Condition>),
}

/// One change to a route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Set LOCAL_PREF.
    SetLocalPref(u32),
    /// Set MULTI_EXIT_DISC.
    SetMed(u32),
    /// Add these communities (each once).
    AddCommunities(Vec<u32>),
    /// Remove these communities.
    RemoveCommunities(Vec<u32>),
    /// Add these large communities (each once).
    AddLargeCommunities(Vec<LargeCommunity>),
    /// Remove these large communities.
    RemoveLargeCommunities(Vec<LargeCommunity>),
    /// Prepend `asn` (our AS when `None`) `count` times to the AS_PATH.
    Prepend {
        /// The AS to prepend; `None`: ours.
        asn: Option<u32>,
        /// How many times.
        count: u8,
    },
}

/// Conditions, changes and what then.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Statement {
    /// All must hold (none: always holds).
    pub conditions: Vec<Condition>,
    /// Made in order when they hold.
    pub actions: Vec<Action>,
    /// Then.
    pub then: StatementAction,
}

/// A named policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Its name (`bgp.policies.NAME`).
    pub name: String,
    /// In order.
    pub statements: Vec<Statement>,
    /// For a route no statement accepted or rejected.
    pub default: Verdict,
}

/// What decided a route's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    /// The statement at this index (0-based).
    Statement(usize),
    /// No statement decided: the policy's default.
    Default,
}

/// A policy's answer for one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Accepted or rejected.
    pub verdict: Verdict,
    /// The changed attributes of an accepted route (`None`: unchanged).
    pub changed: Option<RouteAttrs>,
    /// Which statement decided, or the default.
    pub by: DecidedBy,
}

impl Decision {
    /// Whether the route is accepted.
    pub fn accepted(&self) -> bool {
        self.verdict == Verdict::Accept
    }
}

impl Policy {
    /// Run the policy on a route.
    pub fn evaluate<A: Attrs + ?Sized>(&self, route: &RouteContext, attrs: &A) -> Decision {
        // Copied only when a statement changes something.
        let mut owned: Option<RouteAttrs> = None;
        for (i, st) in self.statements.iter().enumerate() {
            let holds = match &owned {
                Some(o) => all_hold(&st.conditions, route, o),
                None => all_hold(&st.conditions, route, attrs),
            };
            if !holds {
                continue;
            }
            if !st.actions.is_empty() {
                let o = owned.get_or_insert_with(|| attrs.to_route_attrs());
                for a in &st.actions {
                    a.apply(o, route.local_as);
                }
            }
            let verdict = match st.then {
                StatementAction::Continue => continue,
                StatementAction::Accept => Verdict::Accept,
                StatementAction::Reject => Verdict::Reject,
            };
            return decision(verdict, owned, DecidedBy::Statement(i));
        }
        decision(self.default, owned, DecidedBy::Default)
    }

    /// Why `decision` (of this policy) rejected a route, for an operator.
    pub fn explain(&self, decision: &Decision) -> String {
        match decision.by {
            DecidedBy::Statement(i) => format!(
                "rule {i} of policy {:?} {}",
                self.name,
                match decision.verdict {
                    Verdict::Accept => "accepts it",
                    Verdict::Reject => "rejects it",
                }
            ),
            DecidedBy::Default => format!(
                "no rule of policy {:?} decides it and its default is {}",
                self.name,
                match self.default {
                    Verdict::Accept => "accept",
                    Verdict::Reject => "reject",
                }
            ),
        }
    }
}

fn decision(verdict: Verdict, changed: Option<RouteAttrs>, by: DecidedBy) -> Decision {
    Decision {
        verdict,
        changed: changed.filter(|_| verdict == Verdict::Accept),
        by,
    }
}

fn all_hold<A: Attrs + ?Sized>(conditions: &[Condition], route: &RouteContext, attrs: &A) -> bool {
    conditions.iter().all(|c| c.holds(route, attrs))
}

impl Condition {
    /// Whether the condition holds for the route.
    pub fn holds<A: Attrs + ?Sized>(&self, route: &RouteContext, attrs: &A) -> bool {
        match self {
            Condition::Prefix(rules) => rules.iter().any(|r| r.matches(&route.prefix)),
            Condition::Family(f) => Family::of(&route.prefix) == *f,
            Condition::Community(cs) => attrs.communities().iter().any(|c| cs.contains(c)),
            Condition::LargeCommunity(cs) => {
                attrs.large_communities().iter().any(|c| cs.contains(c))
            }
            Condition::AsPathContains(asn) => {
                attrs.as_path().iter().any(|s| s.asns().contains(asn))
            }
            Condition::OriginAs(asn) => origin_as(attrs.as_path()) == Some(*asn),
            Condition::AsPathLength { min, max } => {
                let len = u32::try_from(path_len(attrs.as_path())).unwrap_or(u32::MAX);
                min.is_none_or(|m| len >= m) && max.is_none_or(|m| len <= m)
            }
            Condition::Peer(peers) => peers.contains(route.peer),
            Condition::Source(sources) => sources.contains(&route.source),
            Condition::Not(inner) => !all_hold(inner, route, attrs),
        }
    }
}

impl Action {
    /// Make the change; `local_as` is what a prepend without an AS adds.
    pub fn apply(&self, attrs: &mut RouteAttrs, local_as: u32) {
        match self {
            Action::SetLocalPref(v) => attrs.local_pref = Some(*v),
            Action::SetMed(v) => attrs.med = Some(*v),
            Action::AddCommunities(cs) => add_each(&mut attrs.communities, cs),
            Action::RemoveCommunities(cs) => attrs.communities.retain(|c| !cs.contains(c)),
            Action::AddLargeCommunities(cs) => add_each(&mut attrs.large_communities, cs),
            Action::RemoveLargeCommunities(cs) => {
                attrs.large_communities.retain(|c| !cs.contains(c));
            }
            Action::Prepend { count: 0, .. } => {}
            Action::Prepend { asn, count } => {
                let asn = asn.unwrap_or(local_as);
                let added = std::iter::repeat_n(asn, usize::from(*count));
                match attrs.as_path.first_mut() {
                    Some(AsSegment::Sequence(v)) => {
                        let rest = std::mem::take(v);
                        *v = added.chain(rest).collect();
                    }
                    _ => attrs
                        .as_path
                        .insert(0, AsSegment::Sequence(added.collect())),
                }
            }
        }
    }
}

fn add_each<T: PartialEq + Copy>(list: &mut Vec<T>, add: &[T]) {
    for a in add {
        if !list.contains(a) {
            list.push(*a);
        }
    }
}
