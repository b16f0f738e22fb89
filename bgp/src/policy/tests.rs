//! The policy engine's table test: every condition both ways, every action, and how statements
//! chain (continue, accept, reject, default).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use super::*;
use crate::wire::{AsSegment, LargeCommunity};
use crate::PeerKey;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn key(s: &str) -> PeerKey {
    s.parse().unwrap()
}

/// The peer the test route comes from.
static PEER: PeerKey = PeerKey::Address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));

fn large(g: u32, a: u32, b: u32) -> LargeCommunity {
    LargeCommunity {
        global: g,
        local1: a,
        local2: b,
    }
}

/// A learned 10.244.1.0/24 from 10.0.0.1 with path `65001 65002 {65003} 65004`, communities
/// 65000:1 and 65000:2, large community 65000:1:1, MED 5, no LOCAL_PREF.
fn route() -> (RouteContext<'static>, RouteAttrs) {
    (
        RouteContext {
            prefix: net("10.244.1.0/24"),
            peer: &PEER,
            source: RouteSource::Learned,
            local_as: 65100,
        },
        RouteAttrs {
            as_path: vec![
                AsSegment::Sequence(vec![65001, 65002]),
                AsSegment::Set(vec![65003]),
                AsSegment::Sequence(vec![65004]),
            ],
            communities: vec![(65000 << 16) | 1, (65000 << 16) | 2],
            large_communities: vec![large(65000, 1, 1)],
            med: Some(5),
            local_pref: None,
        },
    )
}

/// The name of a condition's kind; exhaustive, so a new kind cannot miss the table below.
fn condition_kind(c: &Condition) -> &'static str {
    match c {
        Condition::Prefix(_) => "prefix",
        Condition::Family(_) => "family",
        Condition::Community(_) => "community",
        Condition::LargeCommunity(_) => "large_community",
        Condition::AsPathContains(_) => "as_path_contains",
        Condition::OriginAs(_) => "origin_as",
        Condition::AsPathLength { .. } => "as_path_length",
        Condition::Peer(_) => "peer",
        Condition::Source(_) => "source",
        Condition::Not(_) => "not",
    }
}
const CONDITION_KINDS: usize = 10;

fn action_kind(a: &Action) -> &'static str {
    match a {
        Action::SetLocalPref(_) => "local_pref",
        Action::SetMed(_) => "med",
        Action::AddCommunities(_) => "add_communities",
        Action::RemoveCommunities(_) => "remove_communities",
        Action::AddLargeCommunities(_) => "add_large_communities",
        Action::RemoveLargeCommunities(_) => "remove_large_communities",
        Action::Prepend { .. } => "prepend",
    }
}
const ACTION_KINDS: usize = 7;

#[test]
fn every_condition_matches_and_misses() {
    let le24 = |p: &str| PrefixRule {
        prefix: net(p),
        ge: None,
        le: Some(24),
    };
    let c = |asn: u32, v: u32| (asn << 16) | v;
    let table: Vec<(Condition, bool)> = vec![
        (Condition::Prefix(vec![le24("10.244.0.0/16")]), true),
        (
            Condition::Prefix(vec![PrefixRule::exact(net("10.244.0.0/16"))]),
            false,
        ),
        (
            Condition::Prefix(vec![
                le24("192.168.0.0/16"),
                PrefixRule {
                    prefix: net("10.0.0.0/8"),
                    ge: Some(24),
                    le: Some(24),
                },
            ]),
            true,
        ),
        (Condition::Family(Family::Ipv4), true),
        (Condition::Family(Family::Ipv6), false),
        (Condition::Community(vec![c(65000, 9), c(65000, 2)]), true),
        (Condition::Community(vec![c(65000, 3)]), false),
        (Condition::LargeCommunity(vec![large(65000, 1, 1)]), true),
        (Condition::LargeCommunity(vec![large(65000, 1, 2)]), false),
        (Condition::AsPathContains(65002), true),
        // Inside an AS_SET counts.
        (Condition::AsPathContains(65003), true),
        (Condition::AsPathContains(65100), false),
        (Condition::OriginAs(65004), true),
        (Condition::OriginAs(65001), false),
        // 2 + 1 (the set) + 1.
        (
            Condition::AsPathLength {
                min: Some(4),
                max: Some(4),
            },
            true,
        ),
        (
            Condition::AsPathLength {
                min: None,
                max: Some(3),
            },
            false,
        ),
        (
            Condition::AsPathLength {
                min: Some(5),
                max: None,
            },
            false,
        ),
        (
            Condition::Peer(vec![key("10.0.0.9"), key("10.0.0.1")]),
            true,
        ),
        (Condition::Peer(vec![key("10.0.0.2"), key("eth1")]), false),
        (Condition::Source(vec![RouteSource::Learned]), true),
        (
            Condition::Source(vec![RouteSource::Block, RouteSource::Announced]),
            false,
        ),
        (Condition::Not(vec![Condition::Family(Family::Ipv6)]), true),
        // Not(all of): false only when every inner condition holds.
        (
            Condition::Not(vec![
                Condition::Family(Family::Ipv4),
                Condition::AsPathContains(65001),
            ]),
            false,
        ),
        (
            Condition::Not(vec![
                Condition::Family(Family::Ipv4),
                Condition::AsPathContains(1),
            ]),
            true,
        ),
    ];
    let (ctx, attrs) = route();
    let mut kinds = BTreeSet::new();
    let mut outcomes = BTreeSet::new();
    for (cond, expected) in &table {
        assert_eq!(cond.holds(&ctx, &attrs), *expected, "{cond:?}");
        kinds.insert(condition_kind(cond));
        outcomes.insert((condition_kind(cond), *expected));
    }
    assert_eq!(kinds.len(), CONDITION_KINDS, "a condition kind has no row");
    assert_eq!(
        outcomes.len(),
        2 * CONDITION_KINDS,
        "every kind must be seen to hold and to miss: {outcomes:?}"
    );
    // An empty path has no origin AS and length 0.
    let empty = RouteAttrs::default();
    assert!(!Condition::OriginAs(65100).holds(&ctx, &empty));
    assert!(Condition::AsPathLength {
        min: None,
        max: Some(0)
    }
    .holds(&ctx, &empty));
    // A path ending in a set has no origin AS.
    let set_last = RouteAttrs {
        as_path: vec![AsSegment::Sequence(vec![1]), AsSegment::Set(vec![2, 3])],
        ..RouteAttrs::default()
    };
    assert!(!Condition::OriginAs(3).holds(&ctx, &set_last));
}

#[test]
fn every_action_changes_what_it_says() {
    let (ctx, attrs) = route();
    let c = |v: u32| (65000 << 16) | v;
    type Expect = Box<dyn Fn(&mut RouteAttrs)>;
    let table: Vec<(Action, Expect)> = vec![
        (
            Action::SetLocalPref(200),
            Box::new(|a| a.local_pref = Some(200)),
        ),
        (Action::SetMed(0), Box::new(|a| a.med = Some(0))),
        (
            // An existing one is not added twice; new ones go last.
            Action::AddCommunities(vec![c(2), c(7)]),
            Box::new(move |a| a.communities = vec![c(1), c(2), c(7)]),
        ),
        (
            Action::RemoveCommunities(vec![c(1), c(9)]),
            Box::new(move |a| a.communities = vec![c(2)]),
        ),
        (
            Action::AddLargeCommunities(vec![large(65000, 1, 1), large(1, 2, 3)]),
            Box::new(|a| a.large_communities = vec![large(65000, 1, 1), large(1, 2, 3)]),
        ),
        (
            Action::RemoveLargeCommunities(vec![large(65000, 1, 1)]),
            Box::new(|a| a.large_communities.clear()),
        ),
        (
            // Our AS by default, into the leading sequence.
            Action::Prepend {
                asn: None,
                count: 2,
            },
            Box::new(|a| {
                a.as_path[0] = AsSegment::Sequence(vec![65100, 65100, 65001, 65002]);
            }),
        ),
        (
            Action::Prepend {
                asn: Some(64999),
                count: 1,
            },
            Box::new(|a| {
                a.as_path[0] = AsSegment::Sequence(vec![64999, 65001, 65002]);
            }),
        ),
        (
            Action::Prepend {
                asn: None,
                count: 0,
            },
            Box::new(|_| {}),
        ),
    ];
    let mut kinds = BTreeSet::new();
    for (action, expect) in &table {
        let mut got = attrs.clone();
        action.apply(&mut got, ctx.local_as);
        let mut want = attrs.clone();
        expect(&mut want);
        assert_eq!(got, want, "{action:?}");
        kinds.insert(action_kind(action));
    }
    assert_eq!(kinds.len(), ACTION_KINDS, "an action kind has no row");
    // Prepending to an empty path (a route of ours) or one starting with a set starts a sequence.
    let mut empty = RouteAttrs::default();
    Action::Prepend {
        asn: None,
        count: 1,
    }
    .apply(&mut empty, 65100);
    assert_eq!(empty.as_path, vec![AsSegment::Sequence(vec![65100])]);
    let mut set_first = RouteAttrs {
        as_path: vec![AsSegment::Set(vec![1, 2])],
        ..RouteAttrs::default()
    };
    Action::Prepend {
        asn: Some(7),
        count: 1,
    }
    .apply(&mut set_first, 65100);
    assert_eq!(
        set_first.as_path,
        vec![AsSegment::Sequence(vec![7]), AsSegment::Set(vec![1, 2])]
    );
}

fn statement(conditions: Vec<Condition>, actions: Vec<Action>, then: StatementAction) -> Statement {
    Statement {
        conditions,
        actions,
        then,
    }
}

#[test]
fn statements_run_in_order_and_continue_carries_changes() {
    let (ctx, attrs) = route();
    let tag = (65000 << 16) | 100;
    let policy = Policy {
        name: "in".into(),
        statements: vec![
            // Not for this prefix: skipped.
            statement(
                vec![Condition::Prefix(vec![PrefixRule::exact(net(
                    "10.0.0.0/8",
                ))])],
                vec![],
                StatementAction::Reject,
            ),
            // Tags everything from 10.0.0.1 and goes on.
            statement(
                vec![Condition::Peer(vec![key("10.0.0.1")])],
                vec![Action::AddCommunities(vec![tag])],
                StatementAction::Continue,
            ),
            // Sees the tag the previous statement added.
            statement(
                vec![Condition::Community(vec![tag])],
                vec![Action::SetLocalPref(300)],
                StatementAction::Accept,
            ),
        ],
        default: Verdict::Reject,
    };
    let d = policy.evaluate(&ctx, &attrs);
    assert_eq!(d.verdict, Verdict::Accept);
    assert_eq!(d.by, DecidedBy::Statement(2));
    let changed = d.changed.clone().unwrap();
    assert_eq!(changed.local_pref, Some(300));
    assert!(changed.communities.contains(&tag));
    assert_eq!(
        policy.explain(&d),
        "rule 2 of policy \"in\" accepts it".to_string()
    );

    // From another peer: no statement decides; the default rejects, and nothing is changed.
    let other = RouteContext {
        peer: &key("10.0.0.2"),
        ..ctx
    };
    let d = policy.evaluate(&other, &attrs);
    assert_eq!(
        (d.verdict, d.by, &d.changed),
        (Verdict::Reject, DecidedBy::Default, &None)
    );
    assert_eq!(
        policy.explain(&d),
        "no rule of policy \"in\" decides it and its default is reject"
    );

    // A reject after a change discards the change; an accept without changes reports none.
    let reject_after_change = Policy {
        name: "x".into(),
        statements: vec![statement(
            vec![],
            vec![Action::SetMed(1)],
            StatementAction::Reject,
        )],
        default: Verdict::Accept,
    };
    let d = reject_after_change.evaluate(&ctx, &attrs);
    assert_eq!((d.verdict, d.changed), (Verdict::Reject, None));
    let accept_all = Policy {
        name: "all".into(),
        statements: vec![],
        default: Verdict::Accept,
    };
    let d = accept_all.evaluate(&ctx, &attrs);
    assert!(d.accepted());
    assert_eq!(d.changed, None);
    // Changes made by continuing statements stay when the default accepts.
    let continue_then_default = Policy {
        name: "c".into(),
        statements: vec![statement(
            vec![],
            vec![Action::SetMed(9)],
            StatementAction::Continue,
        )],
        default: Verdict::Accept,
    };
    assert_eq!(
        continue_then_default
            .evaluate(&ctx, &attrs)
            .changed
            .unwrap()
            .med,
        Some(9)
    );
}
