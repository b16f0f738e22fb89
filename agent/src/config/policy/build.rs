//! Validated `bgp.policies` turned into what the speaker runs ([`bgp::policy::Policy`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use bgp::policy as engine;

use super::*;

/// Every policy of `bgp.policies` as the speaker runs it, by name (validated first: anything
/// that does not parse has been refused).
pub fn policies(bgp: &BgpConfig) -> BTreeMap<String, Arc<engine::Policy>> {
    bgp.policies
        .iter()
        .map(|(name, p)| (name.clone(), Arc::new(p.to_policy(name))))
        .collect()
}

impl PolicyConfig {
    /// The speaker's policy.
    pub fn to_policy(&self, name: &str) -> engine::Policy {
        engine::Policy {
            name: name.to_string(),
            statements: self
                .rules
                .iter()
                .map(|r| engine::Statement {
                    conditions: r.conditions.to_conditions(),
                    actions: r.set.to_actions(),
                    then: match r.action {
                        RuleAction::Accept => engine::StatementAction::Accept,
                        RuleAction::Reject => engine::StatementAction::Reject,
                        RuleAction::Continue => engine::StatementAction::Continue,
                    },
                })
                .collect(),
            default: match self.default {
                VerdictConfig::Accept => engine::Verdict::Accept,
                VerdictConfig::Reject => engine::Verdict::Reject,
            },
        }
    }
}

/// (standard, large) communities of a list validation accepted.
fn split(list: &[String]) -> (Vec<u32>, Vec<bgp::wire::LargeCommunity>) {
    let (mut std, mut large) = (Vec::new(), Vec::new());
    for c in list.iter().filter_map(|c| c.parse::<Community>().ok()) {
        match c {
            Community::Standard(v) => std.push(v),
            Community::Large(v) => large.push(v),
        }
    }
    (std, large)
}

impl MatchConfig {
    fn to_conditions(&self) -> Vec<engine::Condition> {
        use engine::Condition as C;
        let mut out = Vec::new();
        if let Some(rules) = &self.prefix {
            out.push(C::Prefix(rules.clone()));
        }
        if let Some(f) = self.family {
            out.push(C::Family(match f {
                FamilyConfig::Ipv4 => engine::Family::Ipv4,
                FamilyConfig::Ipv6 => engine::Family::Ipv6,
            }));
        }
        if let Some(list) = &self.community {
            out.push(C::Community(split(list).0));
        }
        if let Some(list) = &self.large_community {
            out.push(C::LargeCommunity(split(list).1));
        }
        if let Some(asn) = self.as_path_contains {
            out.push(C::AsPathContains(asn));
        }
        if let Some(asn) = self.origin_as {
            out.push(C::OriginAs(asn));
        }
        if let Some(l) = self.as_path_length {
            out.push(C::AsPathLength {
                min: l.min,
                max: l.max,
            });
        }
        if let Some(peers) = &self.peer {
            out.push(C::Peer(peers.clone()));
        }
        if let Some(sources) = &self.source {
            out.push(C::Source(
                sources
                    .iter()
                    .map(|s| match s {
                        SourceConfig::Learned => engine::RouteSource::Learned,
                        SourceConfig::Block => engine::RouteSource::Block,
                        SourceConfig::Static => engine::RouteSource::Static,
                        SourceConfig::Announced => engine::RouteSource::Announced,
                    })
                    .collect(),
            ));
        }
        if let Some(not) = &self.not {
            out.push(C::Not(not.to_conditions()));
        }
        out
    }
}

impl SetConfig {
    fn to_actions(&self) -> Vec<engine::Action> {
        use engine::Action as A;
        let mut out = Vec::new();
        if let Some(v) = self.local_pref {
            out.push(A::SetLocalPref(v));
        }
        if let Some(v) = self.med {
            out.push(A::SetMed(v));
        }
        let (add, add_large) = split(&self.add_communities);
        let (remove, remove_large) = split(&self.remove_communities);
        if !remove.is_empty() {
            out.push(A::RemoveCommunities(remove));
        }
        if !remove_large.is_empty() {
            out.push(A::RemoveLargeCommunities(remove_large));
        }
        if !add.is_empty() {
            out.push(A::AddCommunities(add));
        }
        if !add_large.is_empty() {
            out.push(A::AddLargeCommunities(add_large));
        }
        if let Some(p) = self.prepend {
            out.push(A::Prepend {
                asn: p.asn,
                count: p.count,
            });
        }
        out
    }
}
