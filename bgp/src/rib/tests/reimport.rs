//! Import with a route policy, and a kept Adj-RIB-In given a new policy.

use std::sync::Arc;

use super::*;
use crate::policy::{Action, Condition, Policy, PrefixRule, RouteContext, RouteSource};
use crate::policy::{Statement, StatementAction, Verdict};
use crate::PeerKey;

/// Accepts 10.244.0.0/16 and longer with LOCAL_PREF `pref`; rejects the rest.
fn policy(pref: u32) -> Policy {
    Policy {
        name: "in".into(),
        statements: vec![Statement {
            conditions: vec![Condition::Prefix(vec![PrefixRule::or_longer(
                "10.244.0.0/16".parse::<IpNet>().unwrap(),
            )])],
            actions: vec![Action::SetLocalPref(pref)],
            then: StatementAction::Accept,
        }],
        default: Verdict::Reject,
    }
}

fn with(
    policy: &Policy,
    peer: PeerInfo,
) -> impl FnMut(&IpNet, &Arc<Path>) -> Option<Arc<Path>> + '_ {
    let key = PeerKey::Address(peer.address);
    move |prefix, path| {
        let ctx = RouteContext {
            prefix: *prefix,
            peer: &key,
            source: RouteSource::Learned,
            local_as: peer.local_as,
        };
        let d = policy.evaluate(&ctx, path.as_ref());
        if !d.accepted() {
            return None;
        }
        Some(match d.changed {
            Some(attrs) => Arc::new(path.with_attrs(attrs)),
            None => path.clone(),
        })
    }
}

#[test]
fn a_policy_changes_and_refuses_paths_on_import() {
    let mut rib = Rib::default();
    let p = peer(1, 65001);
    let v1 = policy(200);
    let mut import = with(&v1, p);
    assert!(rib.update_with(
        p,
        &announce("10.244.1.0/24", &[65001], [10, 0, 1, 1], vec![]),
        &mut import
    ));
    assert!(!rib.update_with(
        p,
        &announce("192.168.0.0/24", &[65001], [10, 0, 1, 1], vec![]),
        &mut import
    ));
    let kept: Vec<&Path> = rib.paths(&"10.244.1.0/24".parse().unwrap());
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].local_pref, Some(200));
    assert!(rib.paths(&"192.168.0.0/24".parse().unwrap()).is_empty());
    // Nothing is kept for a peer that was not asked for.
    assert!(!rib.keeps_received(p.id));
    assert_eq!(rib.reimport(p, &mut import), None);
}

#[test]
fn a_kept_adj_rib_in_takes_a_new_policy_without_the_peer() {
    let mut rib = Rib::default();
    let p = peer(1, 65001);
    rib.keep_received(p.id, true);
    let v1 = policy(200);
    {
        let mut import = with(&v1, p);
        for prefix in ["10.244.1.0/24", "10.244.2.0/24", "192.168.0.0/24"] {
            rib.update_with(
                p,
                &announce(prefix, &[65001], [10, 0, 1, 1], vec![]),
                &mut import,
            );
        }
        rib.update_with(p, &withdraw("10.244.2.0/24"), &mut import);
    }
    // As received: the refused one too, the withdrawn one not.
    assert_eq!(rib.kept_count(p.id), 2);
    let _ = rib.take_changes(100);

    // A new policy that accepts everything with LOCAL_PREF 300: the refused prefix arrives,
    // the accepted one changes attributes but not next hops (no change reported for it).
    let v2 = Policy {
        default: Verdict::Accept,
        ..policy(300)
    };
    let mut import = with(&v2, p);
    assert_eq!(rib.reimport(p, &mut import), Some(true));
    let changes = rib.take_changes(100);
    assert_eq!(
        hops(&changes),
        vec![("192.168.0.0/24".to_string(), vec!["10.0.1.1".to_string()])]
    );
    assert_eq!(
        rib.paths(&"10.244.1.0/24".parse().unwrap())[0].local_pref,
        Some(300)
    );
    assert_eq!(rib.received(p.id), 2);

    // Back to v1: 192.168.0.0/24 goes again.
    let mut import = with(&v1, p);
    assert_eq!(rib.reimport(p, &mut import), Some(true));
    assert_eq!(
        hops(&rib.take_changes(100)),
        vec![("192.168.0.0/24".to_string(), vec![])]
    );
    // The session going down forgets what was kept.
    rib.peer_down(p.id);
    assert_eq!(rib.kept_count(p.id), 0);
}

/// A route ignored for its next hop (RFC 4271 §6.3) is kept as received too: a re-import runs
/// the check again with the policy, remembering it as ignored only while import takes it.
#[test]
fn a_kept_route_ignored_for_its_next_hop_is_checked_again_on_reimport() {
    let mut rib = Rib::default();
    let p = peer(1, 65001);
    rib.keep_received(p.id, true);
    // The peer sends our own session address as the next hop: ignored, still kept.
    rib.set_local_address(p.id, Some("10.0.1.9".parse().unwrap()));
    let v1 = policy(200);
    let mut import = with(&v1, p);
    assert!(!rib.update_with(
        p,
        &announce("10.244.1.0/24", &[65001], [10, 0, 1, 9], vec![]),
        &mut import
    ));
    assert_eq!((rib.ignored_count(p.id), rib.kept_count(p.id)), (1, 1));
    assert!(rib.paths(&"10.244.1.0/24".parse().unwrap()).is_empty());
    // A policy refusing it: no longer remembered as ignored, still kept.
    let refuse = Policy {
        statements: vec![],
        ..policy(200)
    };
    let mut import = with(&refuse, p);
    assert_eq!(rib.reimport(p, &mut import), Some(false));
    assert_eq!((rib.ignored_count(p.id), rib.kept_count(p.id)), (0, 1));
    // Our address on the session changed: the next hop is usable and the policy applies.
    rib.set_local_address(p.id, Some("10.0.1.8".parse().unwrap()));
    let mut import = with(&v1, p);
    assert_eq!(rib.reimport(p, &mut import), Some(true));
    let paths = rib.paths(&"10.244.1.0/24".parse().unwrap());
    assert_eq!(paths.len(), 1);
    assert_eq!(paths[0].local_pref, Some(200));
    assert_eq!(rib.ignored_count(p.id), 0);
}
