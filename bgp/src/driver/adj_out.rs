//! What one peer is sent of our routes (its Adj-RIB-Out), as a pure function of its
//! configuration and our routes: the local prefixes (the host's blocks), the peer's own
//! `export` list and the prefixes announced through the API, each with the peer's communities,
//! then through the peer's export policy.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ipnet::IpNet;

use super::config::{Announced, PeerConfig};
use crate::policy::{RouteAttrs, RouteContext, RouteSource};

/// Our routes, as every peer is offered them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OurRoutes {
    /// The local prefixes (the host's blocks), sorted.
    pub local: Vec<IpNet>,
    /// Announced through the API.
    pub announced: Arc<BTreeMap<IpNet, Announced>>,
}

/// One peer's Adj-RIB-Out: each prefix with its attributes; prefixes with equal attributes share
/// them.
pub type AdjRibOut = BTreeMap<IpNet, Arc<RouteAttrs>>;

/// Whether `config` is sent `prefix` (from `source`, carrying `extra` when announced) and with
/// what; else why not, for an operator.
pub fn export_decision(
    config: &PeerConfig,
    local_as: u32,
    prefix: IpNet,
    source: RouteSource,
    extra: Option<&Announced>,
) -> Result<RouteAttrs, String> {
    let mut attrs = RouteAttrs {
        communities: config.communities.clone(),
        large_communities: config.large_communities.clone(),
        ..RouteAttrs::default()
    };
    if let Some(extra) = extra {
        for c in &extra.communities {
            if !attrs.communities.contains(c) {
                attrs.communities.push(*c);
            }
        }
        for c in &extra.large_communities {
            if !attrs.large_communities.contains(c) {
                attrs.large_communities.push(*c);
            }
        }
    }
    let Some(policy) = &config.export_policy else {
        return match source {
            RouteSource::Announced => Err(
                "it has no export policy (without one, only the host's blocks and its export \
                 list are announced)"
                    .into(),
            ),
            _ => Ok(attrs),
        };
    };
    let ctx = RouteContext {
        prefix,
        peer: &config.peer,
        source,
        local_as,
    };
    let decision = policy.evaluate(&ctx, &attrs);
    if decision.accepted() {
        Ok(decision.changed.unwrap_or(attrs))
    } else {
        Err(policy.explain(&decision))
    }
}

/// What `config` is sent of `ours`. A prefix offered from several sources counts once, as a
/// block first, then from the export list, then as announced.
pub fn adj_rib_out(config: &PeerConfig, local_as: u32, ours: &OurRoutes) -> AdjRibOut {
    let mut out = AdjRibOut::new();
    let mut shared: HashMap<RouteAttrs, Arc<RouteAttrs>> = HashMap::new();
    let offered = ours
        .local
        .iter()
        .map(|p| (*p, RouteSource::Block, None))
        .chain(
            config
                .export
                .iter()
                .map(|p| (*p, RouteSource::Static, None)),
        )
        .chain(
            ours.announced
                .iter()
                .map(|(p, a)| (*p, RouteSource::Announced, Some(a))),
        );
    for (prefix, source, extra) in offered {
        if out.contains_key(&prefix) {
            continue;
        }
        if let Ok(attrs) = export_decision(config, local_as, prefix, source, extra) {
            let attrs = shared
                .entry(attrs)
                .or_insert_with_key(|a| Arc::new(a.clone()))
                .clone();
            out.insert(prefix, attrs);
        }
    }
    out
}

/// What changes in `sent` (made from `old`) when only the announced prefixes went from `old`
/// to `new`: only the prefixes whose announcement changed are looked at, so announcing one
/// more prefix costs one export decision per peer, not one per prefix held. `None` when more
/// than the announcements changed (then [`adj_rib_out`] and [`diff`] it is).
pub fn announced_delta(
    config: &PeerConfig,
    local_as: u32,
    old: &OurRoutes,
    new: &OurRoutes,
    sent: &AdjRibOut,
) -> Option<(Vec<IpNet>, Groups)> {
    if old.local != new.local {
        return None;
    }
    let mut changed: Vec<IpNet> = Vec::new();
    if !Arc::ptr_eq(&old.announced, &new.announced) {
        let (mut a, mut b) = (
            old.announced.iter().peekable(),
            new.announced.iter().peekable(),
        );
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some((pa, _)), None) => {
                    changed.push(**pa);
                    a.next();
                }
                (None, Some((pb, _))) => {
                    changed.push(**pb);
                    b.next();
                }
                (Some((pa, va)), Some((pb, vb))) => match pa.cmp(pb) {
                    std::cmp::Ordering::Less => {
                        changed.push(**pa);
                        a.next();
                    }
                    std::cmp::Ordering::Greater => {
                        changed.push(**pb);
                        b.next();
                    }
                    std::cmp::Ordering::Equal => {
                        if va != vb {
                            changed.push(**pa);
                        }
                        a.next();
                        b.next();
                    }
                },
            }
        }
    }
    let mut withdraw = Vec::new();
    let mut shared: HashMap<RouteAttrs, (Arc<RouteAttrs>, Vec<IpNet>)> = HashMap::new();
    for prefix in changed {
        // A block or a listed prefix takes precedence over an announcement of the same prefix.
        if new.local.contains(&prefix) || config.export.contains(&prefix) {
            continue;
        }
        let wanted = new.announced.get(&prefix).and_then(|extra| {
            export_decision(
                config,
                local_as,
                prefix,
                RouteSource::Announced,
                Some(extra),
            )
            .ok()
        });
        match (wanted, sent.get(&prefix)) {
            (None, Some(_)) => withdraw.push(prefix),
            (None, None) => {}
            (Some(attrs), Some(was)) if **was == attrs => {}
            (Some(attrs), _) => {
                shared
                    .entry(attrs)
                    .or_insert_with_key(|a| (Arc::new(a.clone()), Vec::new()))
                    .1
                    .push(prefix);
            }
        }
    }
    let mut groups: Groups = shared.into_values().collect();
    groups.sort_by(|a, b| a.1.first().cmp(&b.1.first()));
    Some((withdraw, groups))
}

/// Prefixes to announce, grouped by their (shared) attributes.
pub type Groups = Vec<(Arc<RouteAttrs>, Vec<IpNet>)>;

/// What changes from `sent` to `wanted`: prefixes to withdraw, and prefixes to announce grouped
/// by their attributes.
pub fn diff(sent: &AdjRibOut, wanted: &AdjRibOut) -> (Vec<IpNet>, Groups) {
    let withdraw: Vec<IpNet> = sent
        .keys()
        .filter(|p| !wanted.contains_key(p))
        .copied()
        .collect();
    // Equal attributes share one Arc in an Adj-RIB-Out made by `adj_rib_out`: grouped by it.
    let mut groups: HashMap<*const RouteAttrs, (Arc<RouteAttrs>, Vec<IpNet>)> = HashMap::new();
    for (prefix, attrs) in wanted {
        let same = sent
            .get(prefix)
            .is_some_and(|s| Arc::ptr_eq(s, attrs) || s == attrs);
        if !same {
            groups
                .entry(Arc::as_ptr(attrs))
                .or_insert_with(|| (attrs.clone(), Vec::new()))
                .1
                .push(*prefix);
        }
    }
    let mut groups: Groups = groups.into_values().collect();
    groups.sort_by(|a, b| a.1.first().cmp(&b.1.first()));
    (withdraw, groups)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::policy::Verdict;
    use crate::policy::{Action, Condition, Policy, PrefixRule, Statement, StatementAction};

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ours() -> OurRoutes {
        let mut announced = BTreeMap::new();
        announced.insert(
            net("192.0.2.10/32"),
            Announced {
                communities: vec![7],
                large_communities: vec![],
            },
        );
        OurRoutes {
            local: vec![net("10.244.1.0/24")],
            announced: Arc::new(announced),
        }
    }

    #[test]
    fn without_a_policy_blocks_and_the_export_list_go_announcements_do_not() {
        let mut cfg = PeerConfig::new(
            "10.0.0.1".parse::<std::net::IpAddr>().unwrap().into(),
            65001,
        );
        cfg.export = vec![net("10.96.0.0/12")];
        cfg.communities = vec![1];
        let out = adj_rib_out(&cfg, 65100, &ours());
        assert_eq!(
            out.keys().copied().collect::<Vec<_>>(),
            vec![net("10.96.0.0/12"), net("10.244.1.0/24")]
        );
        assert!(Arc::ptr_eq(
            &out[&net("10.96.0.0/12")],
            &out[&net("10.244.1.0/24")]
        ));
        let why = export_decision(
            &cfg,
            65100,
            net("192.0.2.10/32"),
            RouteSource::Announced,
            None,
        );
        assert!(why.unwrap_err().contains("no export policy"));
    }

    #[test]
    fn an_export_policy_filters_and_changes_every_source() {
        let mut cfg = PeerConfig::new(
            "10.0.0.1".parse::<std::net::IpAddr>().unwrap().into(),
            65001,
        );
        cfg.communities = vec![1];
        cfg.export_policy = Some(Arc::new(Policy {
            name: "out".into(),
            statements: vec![
                Statement {
                    conditions: vec![Condition::Source(vec![RouteSource::Announced])],
                    actions: vec![Action::SetMed(50)],
                    then: StatementAction::Accept,
                },
                Statement {
                    conditions: vec![Condition::Prefix(vec![PrefixRule::or_longer(net(
                        "10.244.0.0/16",
                    ))])],
                    actions: vec![],
                    then: StatementAction::Accept,
                },
            ],
            default: Verdict::Reject,
        }));
        cfg.export = vec![net("10.96.0.0/12")];
        let out = adj_rib_out(&cfg, 65100, &ours());
        assert_eq!(out.len(), 2, "{out:?}");
        let lb = &out[&net("192.0.2.10/32")];
        assert_eq!((lb.med, lb.communities.clone()), (Some(50), vec![1, 7]));
        assert_eq!(out[&net("10.244.1.0/24")].med, None);
        let why = export_decision(&cfg, 65100, net("10.96.0.0/12"), RouteSource::Static, None);
        assert_eq!(
            why.unwrap_err(),
            "no rule of policy \"out\" decides it and its default is reject"
        );

        // Only what changed is sent again.
        let mut cfg2 = cfg.clone();
        cfg2.communities = vec![2];
        let out2 = adj_rib_out(&cfg2, 65100, &ours());
        let (withdraw, groups) = diff(&out, &out2);
        assert!(withdraw.is_empty());
        assert_eq!(groups.len(), 2);
        let (withdraw, groups) = diff(&out2, &out2.clone());
        assert!(withdraw.is_empty() && groups.is_empty());
        // Only the announcements changed: the delta is what a full recomputation sends.
        let mut more = (*ours().announced).clone();
        more.insert(
            net("192.0.2.11/32"),
            Announced {
                communities: vec![],
                large_communities: vec![],
            },
        );
        more.remove(&net("192.0.2.10/32"));
        let next = OurRoutes {
            local: ours().local,
            announced: Arc::new(more),
        };
        let (w, g) = announced_delta(&cfg2, 65100, &ours(), &next, &out2).unwrap();
        let (full_w, full_g) = diff(&out2, &adj_rib_out(&cfg2, 65100, &next));
        assert_eq!((w.clone(), g.len()), (full_w, full_g.len()));
        assert_eq!(w, vec![net("192.0.2.10/32")]);
        assert_eq!(g[0].1, vec![net("192.0.2.11/32")]);
        let blocks_moved = OurRoutes {
            local: vec![],
            announced: next.announced.clone(),
        };
        assert!(announced_delta(&cfg2, 65100, &next, &blocks_moved, &out2).is_none());
        let mut fewer = out2.clone();
        fewer.remove(&net("192.0.2.10/32"));
        let (withdraw, groups) = diff(&out2, &fewer);
        assert_eq!((withdraw, groups.len()), (vec![net("192.0.2.10/32")], 0));
    }
}
