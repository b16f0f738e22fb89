//! The per-peer machine's connections and RFC 4271 §6.8 collision resolution, driven event by
//! event with no runtime: an inbound connection or our own completing in every state, both
//! outcomes of the identifier comparison, and the loser left for the peer to close (at most
//! one second, then Cease/7) while the winner's inputs wait.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peer_machine;

use std::time::Duration;

use bgp::fsm::peer::{ConnId, Input, Output, COLLISION_LINGER};
use bgp::fsm::State;
use bgp::wire::Message;
use peer_machine::*;

const OURS: ConnId = ConnId(1);
const THEIRS: ConnId = ConnId(2);
const THIRD: ConnId = ConnId(3);

/// Our attempt connected, our OPEN sent on it: OpenSent on an outbound connection.
fn open_sent_outbound() -> Rig {
    let mut rig = Rig::new();
    assert!(rig.feed(Input::Start).contains(&Output::Connect));
    let out = rig.feed(Input::Connected(OURS));
    assert!(opened(&out, OURS), "{out:?}");
    assert_eq!(rig.peer.state(), State::OpenSent);
    rig
}

/// Both connections up, our OPEN on each: the collision waits for the peer's OPEN.
fn collided() -> Rig {
    let mut rig = open_sent_outbound();
    let out = rig.feed(Input::Inbound(THEIRS));
    assert!(
        opened(&out, THEIRS),
        "a candidate session answers the inbound one: {out:?}"
    );
    assert_eq!(
        rig.peer.state(),
        State::OpenSent,
        "the primary is unchanged"
    );
    rig
}

#[test]
fn inbound_in_idle_is_adopted_passively() {
    let mut rig = Rig::with(config(true, None), None);
    let out = rig.feed(Input::Inbound(THEIRS));
    assert!(opened(&out, THEIRS), "{out:?}");
    assert!(
        !out.contains(&Output::Connect),
        "a passive peer never connects"
    );
    assert_eq!(rig.peer.state(), State::OpenSent);
}

#[test]
fn inbound_in_connect_is_adopted_and_our_attempt_kept() {
    let mut rig = Rig::new();
    rig.feed(Input::Start);
    assert_eq!(rig.peer.state(), State::Connect);
    let out = rig.feed(Input::Inbound(THEIRS));
    assert!(opened(&out, THEIRS), "{out:?}");
    // Aborting our attempt could kill the connection the peer adopted.
    assert!(!out.contains(&Output::CancelConnect), "{out:?}");
    assert_eq!(rig.peer.state(), State::OpenSent);
    // When our attempt completes now, it becomes the candidate of a collision.
    let out = rig.feed(Input::Connected(OURS));
    assert!(opened(&out, OURS), "{out:?}");
}

#[test]
fn inbound_in_active_is_adopted() {
    let mut rig = Rig::new();
    rig.feed(Input::Start);
    rig.feed(Input::ConnectFailed);
    assert_eq!(rig.peer.state(), State::Active);
    let out = rig.feed(Input::Inbound(THEIRS));
    assert!(opened(&out, THEIRS), "{out:?}");
    assert_eq!(rig.peer.state(), State::OpenSent);
}

#[test]
fn inbound_in_open_sent_and_open_confirm_runs_a_candidate() {
    let rig = collided();
    assert_eq!(rig.peer.state(), State::OpenSent);
    let mut rig = open_sent_outbound();
    rig.feed(Input::Message(OURS, open_from(LOWER_ID, vec![])));
    assert_eq!(rig.peer.state(), State::OpenConfirm);
    let out = rig.feed(Input::Inbound(THEIRS));
    assert!(opened(&out, THEIRS), "{out:?}");
    assert_eq!(rig.peer.state(), State::OpenConfirm);
}

#[test]
fn inbound_when_established_or_already_colliding_is_refused_with_cease_7() {
    let mut rig = Rig::new();
    rig.establish(OURS, open_from(LOWER_ID, vec![]));
    let out = rig.feed(Input::Inbound(THEIRS));
    assert_eq!(out, vec![Output::Refuse(THEIRS)]);
    assert_eq!(rig.peer.state(), State::Established);

    let mut rig = collided();
    let out = rig.feed(Input::Inbound(THIRD));
    assert_eq!(out, vec![Output::Refuse(THIRD)]);
}

#[test]
fn our_connection_completing_late_is_a_candidate_or_closed() {
    // The peer's connection came first and is in OpenSent: ours becomes the candidate.
    let mut rig = Rig::new();
    rig.feed(Input::Start);
    rig.feed(Input::Inbound(THEIRS));
    let out = rig.feed(Input::Connected(OURS));
    assert!(opened(&out, OURS), "{out:?}");
    // A third connection of ours (an attempt restarted meanwhile) has no place: closed.
    let out = rig.feed(Input::Connected(THIRD));
    assert_eq!(out, vec![Output::Close(THIRD)]);
    // Once Established, a late attempt of ours is closed too.
    let mut rig = Rig::new();
    let out = rig.establish(OURS, open_from(LOWER_ID, vec![]));
    assert!(out.contains(&Output::CancelConnect), "{out:?}");
    assert_eq!(
        rig.feed(Input::Connected(THIRD)),
        vec![Output::Close(THIRD)]
    );
}

#[test]
fn higher_identifier_keeps_our_connection_and_confirms_once_the_peer_closed_the_loser() {
    let mut rig = collided();
    // The peer's OPEN on its own connection decides: we (10.0.0.20 > 10.0.0.5) keep ours.
    let out = rig.feed(Input::Message(THEIRS, open_from(LOWER_ID, vec![])));
    assert!(
        out.is_empty(),
        "the loser is left silent for the peer: {out:?}"
    );
    // The peer's OPEN on the winner waits while the loser lingers: no KEEPALIVE yet.
    let out = rig.feed(Input::Message(OURS, open_from(LOWER_ID, vec![])));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(rig.peer.state(), State::OpenSent);
    // The peer closes the loser: it is forgotten, and the winner answers the held OPEN.
    let out = rig.feed(Input::Closed(THEIRS));
    assert!(closes(&out, THEIRS), "{out:?}");
    assert!(keepalive_on(&out, OURS), "{out:?}");
    assert_eq!(rig.peer.state(), State::OpenConfirm);
    let out = rig.feed(Input::Message(OURS, Message::Keepalive));
    assert_eq!(established_on(&out), Some(OURS));
}

#[test]
fn lower_identifier_keeps_the_peers_connection_and_refuses_a_loser_left_open_after_1_s() {
    let mut rig = collided();
    // The peer (10.0.0.30) is higher: its connection wins, ours (the primary) loses.
    let out = rig.feed(Input::Message(OURS, open_from(HIGHER_ID, vec![])));
    assert!(
        out.is_empty(),
        "the OPEN on the loser is not answered: {out:?}"
    );
    assert_eq!(
        rig.peer.state(),
        State::OpenSent,
        "the winner's session is primary now"
    );
    let out = rig.feed(Input::Message(THEIRS, open_from(HIGHER_ID, vec![])));
    assert!(out.is_empty(), "held while the loser lingers: {out:?}");
    // The loser's own messages (here the peer's Cease/7) need no answer.
    let cease = bgp::wire::NotificationMsg {
        code: 6,
        subcode: 7,
        data: vec![],
    };
    assert!(rig
        .feed(Input::Message(OURS, Message::Notification(cease)))
        .is_empty());
    // The peer never closes it: at COLLISION_LINGER we do, with Cease/7, and go on.
    assert_eq!(rig.peer.next_deadline(), Some(rig.now + COLLISION_LINGER));
    let (waited, out) = rig.next();
    assert_eq!(waited, Duration::from_secs(1));
    assert_eq!(out.first(), Some(&Output::Refuse(OURS)), "{out:?}");
    assert!(keepalive_on(&out, THEIRS), "{out:?}");
    let out = rig.feed(Input::Message(THEIRS, Message::Keepalive));
    assert_eq!(established_on(&out), Some(THEIRS));
}

#[test]
fn an_open_on_the_winner_first_still_decides_and_is_held() {
    let mut rig = collided();
    // Our identifier is higher and the OPEN arrives on our (primary, outbound) connection.
    let out = rig.feed(Input::Message(OURS, open_from(LOWER_ID, vec![])));
    assert!(
        out.is_empty(),
        "decided and held, not answered yet: {out:?}"
    );
    let out = rig.feed(Input::BadFrame(
        THEIRS,
        bgp::wire::DecodeError::new(bgp::wire::ErrorCode::MessageHeader, 1, vec![], "marker"),
    ));
    assert!(
        closes(&out, THEIRS),
        "a loser whose reader stopped is gone: {out:?}"
    );
    assert!(keepalive_on(&out, OURS), "{out:?}");
}

#[test]
fn an_established_session_always_wins_and_is_not_held() {
    // Primary in OpenConfirm, a candidate arrives, then the primary reaches Established.
    let mut rig = open_sent_outbound();
    rig.feed(Input::Message(OURS, open_from(HIGHER_ID, vec![])));
    rig.feed(Input::Inbound(THEIRS));
    let out = rig.feed(Input::Message(OURS, Message::Keepalive));
    assert_eq!(established_on(&out), Some(OURS));
    // The candidate's OPEN: the peer is higher, yet the Established session stays.
    let out = rig.feed(Input::Message(THEIRS, open_from(HIGHER_ID, vec![])));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(rig.peer.state(), State::Established);
    // Nothing is held: an UPDATE from the peer goes straight to the session.
    let update = bgp::wire::UpdateMsg::default();
    let out = rig.feed(Input::Message(OURS, Message::Update(update.clone())));
    assert_eq!(out, vec![Output::Update(OURS, update)]);
    // The loser still gets its second to be closed by the peer, then Cease/7.
    let (waited, out) = rig.next();
    assert_eq!(waited, COLLISION_LINGER);
    assert_eq!(out, vec![Output::Refuse(THEIRS)]);
}

#[test]
fn a_second_loser_replaces_the_first_which_is_refused() {
    let mut rig = collided();
    rig.feed(Input::Message(THEIRS, open_from(LOWER_ID, vec![])));
    // While THEIRS lingers, the peer connects again and that collision is decided too.
    let out = rig.feed(Input::Inbound(THIRD));
    assert!(opened(&out, THIRD), "{out:?}");
    let out = rig.feed(Input::Message(THIRD, open_from(LOWER_ID, vec![])));
    assert_eq!(out, vec![Output::Refuse(THEIRS)]);
    // The new loser's end releases the winner.
    rig.feed(Input::Message(OURS, open_from(LOWER_ID, vec![])));
    let out = rig.feed(Input::Closed(THIRD));
    assert!(keepalive_on(&out, OURS), "{out:?}");
}

#[test]
fn a_failed_candidate_disappears_and_the_primary_goes_on() {
    let mut rig = collided();
    // A KEEPALIVE before any OPEN is an FSM error (RFC 6608 5/1) on the candidate alone.
    let out = rig.feed(Input::Message(THEIRS, Message::Keepalive));
    assert_eq!(notification_on(&out, THEIRS), Some((5, 1)), "{out:?}");
    assert!(closes(&out, THEIRS), "{out:?}");
    assert!(!touches_routes(&out), "{out:?}");
    assert!(
        !out.iter().any(|o| matches!(o, Output::Down(_))),
        "a candidate's end is not the peer's: {out:?}"
    );
    assert_eq!(rig.peer.state(), State::OpenSent);
    // Another inbound connection may be a candidate again.
    let out = rig.feed(Input::Inbound(THIRD));
    assert!(opened(&out, THIRD), "{out:?}");
}

#[test]
fn a_message_too_long_for_the_session_is_answered_per_connection() {
    let mut rig = open_sent_outbound();
    assert_eq!(rig.peer.max_message_len(OURS), Some(4096));
    assert_eq!(
        rig.peer.max_message_len(THEIRS),
        None,
        "no session runs on it"
    );
    let out = rig.feed(Input::Message(
        OURS,
        open_from(LOWER_ID, vec![bgp::wire::Capability::ExtendedMessage]),
    ));
    assert!(keepalive_on(&out, OURS));
    assert_eq!(rig.peer.max_message_len(OURS), Some(65535));
}

/// The peer closes the connection while our session is in OpenSent (FRR does this while it is
/// still loading its configuration): RFC 4271 §8.2.2 closes it and goes back to Active. Before
/// this was fixed the primary kept the dead connection and refused every later one for ever.
#[test]
fn a_connection_lost_in_open_sent_does_not_wedge_the_peer() {
    let mut rig = open_sent_outbound();
    rig.feed(Input::Closed(OURS));
    assert_eq!(rig.peer.state(), State::Active);
    let (_, out) = rig.next();
    assert!(out.contains(&Output::Connect), "{out:?}");
    let out = rig.feed(Input::Connected(THIRD));
    assert!(opened(&out, THIRD), "our new connection is used: {out:?}");
}

/// The primary's connection dies while a second one is negotiating: the second takes its place
/// and establishes, instead of losing the collision to a slot with no connection.
#[test]
fn a_candidate_replaces_a_primary_whose_connection_died() {
    let mut rig = collided();
    rig.feed(Input::Closed(OURS));
    assert_eq!(
        rig.peer.state(),
        State::OpenSent,
        "the candidate is primary now"
    );
    let out = rig.feed(Input::Message(THEIRS, open_from(LOWER_ID, vec![])));
    assert!(keepalive_on(&out, THEIRS), "{out:?}");
    let out = rig.feed(Input::Message(THEIRS, Message::Keepalive));
    assert_eq!(established_on(&out), Some(THEIRS), "{out:?}");
}

/// The candidate's connection dies before the OPEN decided anything: it disappears and the
/// primary carries on alone.
#[test]
fn a_candidate_whose_connection_died_disappears() {
    let mut rig = collided();
    rig.feed(Input::Closed(THEIRS));
    let out = rig.feed(Input::Message(OURS, open_from(LOWER_ID, vec![])));
    assert!(keepalive_on(&out, OURS), "{out:?}");
    let out = rig.feed(Input::Message(OURS, Message::Keepalive));
    assert_eq!(established_on(&out), Some(OURS), "{out:?}");
    let out = rig.feed(Input::Inbound(THIRD));
    assert!(
        refuses(&out, THIRD),
        "Established refuses newcomers: {out:?}"
    );
}
