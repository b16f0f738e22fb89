//! BFD as an input of the per-peer machine, with no runtime (RFC 5882, RFC 9384): a fall of
//! BFD takes the session down at once with Cease/10 and its routes out, even under graceful
//! restart; the peer stays down, inbound connections included, until BFD is Up again; and a
//! peer whose graceful restart is under way keeps its stale routes unless its C bit says the
//! fall cannot be the restart (RFC 5882 §4.3).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peer_machine;

use std::time::Duration;

use bgp::fsm::peer::{ConnId, Input, Output};
use bgp::fsm::{GrOptions, State};
use bgp::wire::cease_subcode;
use peer_machine::*;

const C1: ConnId = ConnId(1);
const C2: ConnId = ConnId(2);
const C3: ConnId = ConnId(3);

fn bfd_down(c_bit: bool) -> Input {
    Input::BfdDown {
        remote_control_plane_independent: c_bit,
    }
}

fn down_reason(out: &[Output]) -> Option<&str> {
    out.iter().find_map(|o| match o {
        Output::Down(r) => Some(r.as_str()),
        _ => None,
    })
}

/// Ticks at each deadline for `span`; every output.
fn run_for(rig: &mut Rig, span: Duration) -> Vec<Output> {
    let end = rig.now + span;
    let mut all = vec![];
    while let Some(at) = rig.peer.next_deadline() {
        if at > end {
            break;
        }
        rig.now = at.max(rig.now);
        all.extend(rig.feed(Input::Tick));
    }
    rig.now = end;
    all
}

#[test]
fn bfd_down_sends_cease_10_drops_routes_even_under_graceful_restart_and_holds_the_peer_down() {
    let mut rig = Rig::with(config(false, Some(GrOptions::default())), None);
    rig.establish(C1, open_from(LOWER_ID, vec![gr_cap(120, true)]));
    let out = rig.feed(bfd_down(false));
    assert_eq!(
        notification_on(&out, C1),
        Some((6, cease_subcode::BFD_DOWN)),
        "{out:?}"
    );
    assert!(closes(&out, C1), "{out:?}");
    // A NOTIFICATION ends graceful restart (RFC 4724 §4.2): the routes go, not kept stale.
    assert!(out.contains(&Output::DropRoutes), "{out:?}");
    assert!(!out.contains(&Output::MarkStale), "{out:?}");
    let reason = down_reason(&out).unwrap();
    assert!(reason.starts_with("BFD down: "), "{reason}");
    assert_eq!(rig.peer.state(), State::Idle);
    assert!(rig.peer.held_down_by_bfd());

    // Held down: no connection attempt however long, and the peer's own connection is closed.
    let later = run_for(&mut rig, Duration::from_secs(600));
    assert!(!later.contains(&Output::Connect), "{later:?}");
    let out = rig.feed(Input::Inbound(C2));
    assert!(closes(&out, C2), "{out:?}");
    assert_eq!(rig.peer.state(), State::Idle);

    // BFD Up: the session starts at once.
    assert!(rig.feed(Input::BfdUp).is_empty());
    assert!(!rig.peer.held_down_by_bfd());
    assert_eq!(rig.peer.next_deadline(), Some(rig.now));
    let out = rig.feed(Input::Tick);
    assert!(out.contains(&Output::Connect), "{out:?}");
    rig.feed(Input::Connected(C3));
    rig.feed(Input::Message(C3, open_from(LOWER_ID, vec![])));
    let out = rig.feed(Input::Message(C3, bgp::wire::Message::Keepalive));
    assert_eq!(established_on(&out), Some(C3));
}

#[test]
fn bfd_down_while_connecting_abandons_the_attempt_until_bfd_is_up() {
    let mut rig = Rig::new();
    let out = rig.feed(Input::Start);
    assert!(out.contains(&Output::Connect));
    assert_eq!(rig.peer.state(), State::Connect);
    let out = rig.feed(bfd_down(false));
    assert!(out.contains(&Output::CancelConnect), "{out:?}");
    assert!(!touches_routes(&out), "{out:?}");
    assert_eq!(rig.peer.state(), State::Idle);
    // An attempt that completes anyway is closed.
    let out = rig.feed(Input::Connected(C1));
    assert!(closes(&out, C1), "{out:?}");
    let later = run_for(&mut rig, Duration::from_secs(120));
    assert!(!later.contains(&Output::Connect), "{later:?}");
    rig.feed(Input::BfdUp);
    let out = rig.feed(Input::Tick);
    assert!(out.contains(&Output::Connect), "{out:?}");
}

#[test]
fn bfd_down_in_opensent_notifies_too() {
    let mut rig = Rig::new();
    rig.feed(Input::Start);
    let out = rig.feed(Input::Connected(C1));
    assert!(opened(&out, C1));
    let out = rig.feed(bfd_down(false));
    assert_eq!(notification_on(&out, C1), Some((6, 10)), "{out:?}");
    assert!(closes(&out, C1));
}

#[test]
fn bfd_up_without_a_fall_changes_nothing() {
    let mut rig = Rig::new();
    rig.establish(C1, open_from(LOWER_ID, vec![]));
    assert!(rig.feed(Input::BfdUp).is_empty());
    assert_eq!(rig.peer.state(), State::Established);
}

#[test]
fn stale_routes_of_a_restarting_peer_go_only_when_its_c_bit_says_the_fall_is_not_its_restart() {
    for c_bit in [false, true] {
        let mut rig = Rig::with(config(false, Some(GrOptions::default())), None);
        rig.establish(C1, open_from(LOWER_ID, vec![gr_cap(120, true)]));
        // The peer restarts: the connection closes without a NOTIFICATION, routes kept stale.
        let out = rig.feed(Input::Closed(C1));
        assert!(out.contains(&Output::MarkStale), "{out:?}");
        let out = rig.feed(bfd_down(c_bit));
        assert_eq!(
            out.contains(&Output::DropRoutes),
            c_bit,
            "C bit {c_bit}: {out:?}"
        );
        // Either way the restart time no longer drops anything twice, and BFD holds it down.
        assert!(rig.peer.held_down_by_bfd());
        if c_bit {
            let later = run_for(&mut rig, Duration::from_secs(200));
            assert!(!touches_routes(&later), "{later:?}");
        }
    }
}

#[test]
fn bfd_up_does_not_cut_a_maximum_prefix_hold_down_short() {
    let mut rig = Rig::with(config(false, None), Some(1));
    rig.establish(C1, open_from(LOWER_ID, vec![]));
    let out = rig.feed(Input::Imported {
        conn: C1,
        held: 2,
        family: (1, 1),
    });
    assert_eq!(notification_on(&out, C1), Some((6, 1)));
    rig.feed(bfd_down(false));
    rig.feed(Input::BfdUp);
    // Still the 30 s hold-down, not an immediate start.
    let at = rig.peer.next_deadline().unwrap();
    assert!(
        at - rig.now >= Duration::from_secs(29),
        "{:?}",
        at - rig.now
    );
}

#[test]
fn a_start_waiting_for_bfd_begins_when_bfd_is_up_or_when_the_wait_ends() {
    // BFD comes up: the session starts then, not before.
    let mut rig = Rig::new();
    rig.peer.wait_for_bfd(rig.now + Duration::from_secs(10));
    let out = rig.feed(Input::Start);
    assert!(!out.contains(&Output::Connect), "{out:?}");
    assert!(rig.peer.held_down_by_bfd());
    let out = rig.feed(Input::Inbound(C1));
    assert!(closes(&out, C1), "the peer cannot get in either: {out:?}");
    let early = run_for(&mut rig, Duration::from_secs(2));
    assert!(!early.contains(&Output::Connect), "{early:?}");
    rig.feed(Input::BfdUp);
    assert!(rig.feed(Input::Tick).contains(&Output::Connect));

    // BFD never comes up (the peer does not run it): the session starts when the wait ends.
    let mut rig = Rig::new();
    rig.peer.wait_for_bfd(rig.now + Duration::from_secs(10));
    rig.feed(Input::Start);
    let (wait, out) = rig.next();
    assert_eq!(wait, Duration::from_secs(10));
    assert!(out.contains(&Output::Connect), "{out:?}");
    assert!(!rig.peer.held_down_by_bfd());
}

/// An interface peer's transport coming back does not start a session BFD holds down: BFD
/// Up does, at once.
#[test]
fn a_returning_transport_waits_for_bfd_when_bfd_holds_the_peer_down() {
    let mut rig = Rig::with(config(false, None), None);
    rig.establish(C1, open_from(LOWER_ID, vec![]));
    rig.feed(bfd_down(false));
    assert!(rig.peer.held_down_by_bfd());
    rig.feed(Input::TransportDown("interface eth1 is down".into()));
    let out = rig.feed(Input::TransportUp);
    assert!(!out.contains(&Output::Connect), "{out:?}");
    let later = run_for(&mut rig, Duration::from_secs(600));
    assert!(!later.contains(&Output::Connect), "{later:?}");
    assert_eq!(rig.peer.state(), State::Idle);
    rig.feed(Input::BfdUp);
    let out = rig.feed(Input::Tick);
    assert!(out.contains(&Output::Connect), "{out:?}");
}
