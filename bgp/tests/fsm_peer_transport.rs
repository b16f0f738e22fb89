//! The per-peer machine when its transport comes and goes (an interface peer's link and
//! neighbour; later BFD), with no runtime: no attempt while it is down, a start at once when it
//! is back, the session down for the transport's reason, graceful restart as for any lost
//! connection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peer_machine;

use std::time::Duration;

use bgp::fsm::peer::{ConnId, Input, Output};
use bgp::fsm::{GrOptions, State};
use bgp::wire::Message;
use peer_machine::*;

const C1: ConnId = ConnId(1);
const C2: ConnId = ConnId(2);

fn down_reason(out: &[Output]) -> Option<&str> {
    out.iter().find_map(|o| match o {
        Output::Down(r) => Some(r.as_str()),
        _ => None,
    })
}

#[test]
fn a_peer_without_transport_waits_without_attempts_and_starts_at_once_when_it_comes() {
    let mut rig = Rig::new();
    assert!(rig
        .feed(Input::TransportDown("interface eth1 does not exist".into()))
        .is_empty());
    let out = rig.feed(Input::Start);
    assert!(!out.contains(&Output::Connect), "{out:?}");
    assert_eq!(rig.peer.state(), State::Idle);
    assert_eq!(rig.peer.next_deadline(), None, "no timer while waiting");
    rig.now += Duration::from_secs(600);
    assert!(rig.feed(Input::Tick).is_empty());
    // The neighbour is known: connect now, not after a back-off.
    let out = rig.feed(Input::TransportUp);
    assert!(out.contains(&Output::Connect), "{out:?}");
    assert_eq!(rig.peer.state(), State::Connect);
    // A repeated "up" changes nothing.
    assert!(rig.feed(Input::TransportUp).is_empty());
}

#[test]
fn losing_the_transport_takes_the_session_down_for_that_reason_and_stops_retrying() {
    let mut rig = Rig::new();
    rig.establish(C1, open_from(LOWER_ID, vec![]));
    let out = rig.feed(Input::TransportDown("interface eth1 is down".into()));
    assert!(closes(&out, C1), "{out:?}");
    assert_eq!(down_reason(&out), Some("interface eth1 is down"));
    assert!(
        out.contains(&Output::DropRoutes),
        "no graceful restart: {out:?}"
    );
    assert!(notification_on(&out, C1).is_none(), "nobody to tell");
    assert_eq!(rig.peer.state(), State::Idle);
    assert_eq!(rig.peer.next_deadline(), None, "no automatic start");
    // Back: a new session at once.
    let out = rig.feed(Input::TransportUp);
    assert!(out.contains(&Output::Connect), "{out:?}");
    rig.feed(Input::Connected(C2));
    rig.feed(Input::Message(C2, open_from(LOWER_ID, vec![])));
    let out = rig.feed(Input::Message(C2, Message::Keepalive));
    assert_eq!(established_on(&out), Some(C2));
}

#[test]
fn with_graceful_restart_the_routes_of_a_lost_link_are_kept_stale() {
    let mut rig = Rig::with(config(false, Some(GrOptions::default())), None);
    rig.establish(C1, open_from(LOWER_ID, vec![gr_cap(120, true)]));
    let out = rig.feed(Input::TransportDown(
        "the neighbour on eth1 is now fe80::b".into(),
    ));
    assert!(out.contains(&Output::MarkStale), "{out:?}");
    assert!(!out.contains(&Output::DropRoutes), "{out:?}");
    // The restart deadline still runs while the transport is down.
    assert!(rig.peer.next_deadline().is_some());
}

#[test]
fn an_attempt_in_flight_is_abandoned_and_a_negotiating_one_closed() {
    let mut rig = Rig::new();
    rig.feed(Input::Start);
    let out = rig.feed(Input::TransportDown("gone".into()));
    assert!(out.contains(&Output::CancelConnect), "{out:?}");
    assert_eq!(rig.peer.state(), State::Idle);
    rig.feed(Input::TransportUp);
    rig.feed(Input::Connected(C1));
    assert_eq!(rig.peer.state(), State::OpenSent);
    let out = rig.feed(Input::TransportDown("gone again".into()));
    assert!(closes(&out, C1), "{out:?}");
    assert_eq!(down_reason(&out), Some("gone again"));
    assert_eq!(rig.peer.state(), State::Idle);
}
