//! The session FSM driven event by event, with no runtime (RFC 4271 §8).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::time::Duration;

use bgp::fsm::{Input, OpenOptions, Output, Session, SessionConfig, State, Timer};
use bgp::wire::{Capability, DecodeError, ErrorCode, Message, NotificationMsg, OpenMsg, UpdateMsg};

fn config(passive: bool) -> SessionConfig {
    SessionConfig {
        local_as: 65101,
        remote_as: 65001.into(),
        router_id: Ipv4Addr::new(10, 0, 1, 2),
        hold_time: 9,
        keepalive: None,
        connect_retry: Duration::from_secs(3),
        passive,
        open: OpenOptions::default(),
    }
}

fn peer_open(hold: u16) -> Message {
    Message::Open(OpenMsg {
        version: 4,
        my_as: 65001,
        hold_time: hold,
        router_id: Ipv4Addr::new(10, 0, 1, 1),
        capabilities: vec![Capability::FourOctetAs(65001), Capability::RouteRefresh],
    })
}

fn sent(out: &[Output]) -> Vec<Message> {
    out.iter()
        .filter_map(|o| {
            if let Output::Send(m) = o {
                Some(m.clone())
            } else {
                None
            }
        })
        .collect()
}

fn notification_sent(out: &[Output]) -> Option<(u8, u8)> {
    sent(out).into_iter().find_map(|m| match m {
        Message::Notification(n) => Some((n.code, n.subcode)),
        _ => None,
    })
}

fn established() -> Session {
    let mut s = Session::new(config(false));
    s.handle(Input::ManualStart);
    s.handle(Input::TcpConnected);
    s.handle(Input::Message(peer_open(90)));
    let out = s.handle(Input::Message(Message::Keepalive));
    assert!(out.iter().any(|o| matches!(o, Output::Established(_))));
    assert_eq!(s.state(), State::Established);
    s
}

#[test]
fn manual_start_connects_and_arms_connect_retry() {
    let mut s = Session::new(config(false));
    let out = s.handle(Input::ManualStart);
    assert_eq!(s.state(), State::Connect);
    assert!(out.contains(&Output::Connect));
    assert!(out.contains(&Output::StartTimer(
        Timer::ConnectRetry,
        Duration::from_secs(3)
    )));
}

#[test]
fn passive_start_waits_in_active_without_connecting() {
    let mut s = Session::new(config(true));
    let out = s.handle(Input::ManualStart);
    assert_eq!(s.state(), State::Active);
    assert!(!out.contains(&Output::Connect));
    let out = s.handle(Input::TimerExpired(Timer::ConnectRetry));
    assert!(
        !out.contains(&Output::Connect),
        "passive peers never connect"
    );
    s.handle(Input::TcpConnected);
    assert_eq!(s.state(), State::OpenSent);
}

#[test]
fn idle_ignores_everything_but_start() {
    let mut s = Session::new(config(false));
    for input in [
        Input::TcpFails,
        Input::Message(Message::Keepalive),
        Input::TimerExpired(Timer::Hold),
        Input::ManualStop,
    ] {
        assert!(s.handle(input).is_empty());
        assert_eq!(s.state(), State::Idle);
    }
}

#[test]
fn failed_connect_goes_active_and_retries_on_timer() {
    let mut s = Session::new(config(false));
    s.handle(Input::ManualStart);
    s.handle(Input::TcpFails);
    assert_eq!(s.state(), State::Active);
    let out = s.handle(Input::TimerExpired(Timer::ConnectRetry));
    assert_eq!(s.state(), State::Connect);
    assert!(out.contains(&Output::Connect));
}

#[test]
fn connected_sends_open_with_large_hold_timer() {
    let mut s = Session::new(config(false));
    s.handle(Input::ManualStart);
    let out = s.handle(Input::TcpConnected);
    assert_eq!(s.state(), State::OpenSent);
    let open = sent(&out);
    assert!(matches!(&open[..], [Message::Open(o)] if o.my_as == 65101 && o.hold_time == 9));
    assert!(out.contains(&Output::StartTimer(Timer::Hold, Duration::from_secs(240))));
    assert!(out.contains(&Output::StopTimer(Timer::ConnectRetry)));
}

#[test]
fn open_then_keepalive_establishes_with_negotiated_timers() {
    let mut s = Session::new(config(false));
    s.handle(Input::ManualStart);
    s.handle(Input::TcpConnected);
    let out = s.handle(Input::Message(peer_open(30)));
    assert_eq!(s.state(), State::OpenConfirm);
    assert_eq!(sent(&out), vec![Message::Keepalive]);
    assert!(out.contains(&Output::StartTimer(Timer::Hold, Duration::from_secs(9))));
    assert!(out.contains(&Output::StartTimer(
        Timer::Keepalive,
        Duration::from_secs(3)
    )));
    let out = s.handle(Input::Message(Message::Keepalive));
    let n = out
        .iter()
        .find_map(|o| {
            if let Output::Established(n) = o {
                Some(*n)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(n.hold_time, 9);
    assert!(n.four_octet_as);
    assert_eq!(n.remote_router_id, Ipv4Addr::new(10, 0, 1, 1));
}

#[test]
fn hold_time_zero_means_no_timers() {
    let mut s = Session::new(config(false));
    s.handle(Input::ManualStart);
    s.handle(Input::TcpConnected);
    let out = s.handle(Input::Message(peer_open(0)));
    assert!(out.contains(&Output::StopTimer(Timer::Hold)));
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::StartTimer(Timer::Keepalive | Timer::Hold, _))));
    s.handle(Input::Message(Message::Keepalive));
    let out = s.handle(Input::Message(Message::Keepalive));
    assert!(out.is_empty());
}

#[test]
fn wrong_peer_as_is_refused_with_2_2() {
    let mut s = Session::new(config(false));
    s.handle(Input::ManualStart);
    s.handle(Input::TcpConnected);
    let mut open = peer_open(9);
    if let Message::Open(o) = &mut open {
        o.my_as = 65009;
        o.capabilities = vec![];
    }
    let out = s.handle(Input::Message(open));
    assert_eq!(notification_sent(&out), Some((2, 2)));
    assert!(out.contains(&Output::Disconnect));
    assert_eq!(s.state(), State::Idle);
    assert!(out.iter().any(|o| matches!(o, Output::Down(_))));
}

#[test]
fn updates_in_established_are_passed_up_and_restart_hold() {
    let mut s = established();
    let update = UpdateMsg {
        nlri: vec!["10.244.2.0/24".parse().unwrap()],
        ..Default::default()
    };
    let out = s.handle(Input::Message(Message::Update(update.clone())));
    assert!(out.contains(&Output::Update(update)));
    assert!(out.contains(&Output::StartTimer(Timer::Hold, Duration::from_secs(9))));
}

#[test]
fn keepalive_timer_sends_keepalive_and_rearms() {
    let mut s = established();
    let out = s.handle(Input::TimerExpired(Timer::Keepalive));
    assert_eq!(sent(&out), vec![Message::Keepalive]);
    assert!(out.contains(&Output::StartTimer(
        Timer::Keepalive,
        Duration::from_secs(3)
    )));
    assert_eq!(s.state(), State::Established);
}

#[test]
fn a_configured_keepalive_shorter_than_a_third_is_used() {
    let mut s = Session::new(SessionConfig {
        keepalive: Some(1),
        ..config(false)
    });
    s.handle(Input::ManualStart);
    s.handle(Input::TcpConnected);
    let out = s.handle(Input::Message(peer_open(90)));
    assert!(out.contains(&Output::StartTimer(
        Timer::Keepalive,
        Duration::from_secs(1)
    )));
}

#[test]
fn stop_with_a_notification_sends_it() {
    let mut s = established();
    let n = NotificationMsg {
        code: 6,
        subcode: 1,
        data: vec![0, 1, 1, 0, 0, 0, 5],
    };
    let out = s.handle(Input::Stop(n.clone()));
    assert_eq!(sent(&out), vec![Message::Notification(n)]);
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn hold_timer_expiry_sends_4_0_and_goes_idle() {
    let mut s = established();
    let out = s.handle(Input::TimerExpired(Timer::Hold));
    assert_eq!(notification_sent(&out), Some((4, 0)));
    assert_eq!(s.state(), State::Idle);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Down(r) if r.contains("hold timer"))));
}

#[test]
fn hold_timer_expiry_in_open_sent_too() {
    let mut s = Session::new(config(false));
    s.handle(Input::ManualStart);
    s.handle(Input::TcpConnected);
    let out = s.handle(Input::TimerExpired(Timer::Hold));
    assert_eq!(notification_sent(&out), Some((4, 0)));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn a_codec_error_is_answered_with_its_notification() {
    let mut s = established();
    let err = DecodeError::new(
        ErrorCode::UpdateMessage,
        11,
        vec![1, 2],
        "malformed AS_PATH",
    );
    let out = s.handle(Input::BadMessage(err));
    assert_eq!(notification_sent(&out), Some((3, 11)));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn unexpected_messages_are_fsm_errors_with_rfc_6608_subcodes() {
    // UPDATE in OpenSent: 5/1.
    let mut s = Session::new(config(false));
    s.handle(Input::ManualStart);
    s.handle(Input::TcpConnected);
    let out = s.handle(Input::Message(Message::Update(UpdateMsg::default())));
    assert_eq!(notification_sent(&out), Some((5, 1)));
    // UPDATE in OpenConfirm: 5/2.
    let mut s = Session::new(config(false));
    s.handle(Input::ManualStart);
    s.handle(Input::TcpConnected);
    s.handle(Input::Message(peer_open(9)));
    let out = s.handle(Input::Message(Message::Update(UpdateMsg::default())));
    assert_eq!(notification_sent(&out), Some((5, 2)));
    // OPEN in Established: 5/3.
    let mut s = established();
    let out = s.handle(Input::Message(peer_open(9)));
    assert_eq!(notification_sent(&out), Some((5, 3)));
}

#[test]
fn received_notification_closes_without_answering() {
    let mut s = established();
    let n = NotificationMsg {
        code: 6,
        subcode: 2,
        data: vec![],
    };
    let out = s.handle(Input::Message(Message::Notification(n)));
    assert_eq!(notification_sent(&out), None);
    assert!(out.contains(&Output::Disconnect));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn manual_stop_sends_cease_administrative_shutdown() {
    let mut s = established();
    let out = s.handle(Input::ManualStop);
    assert_eq!(notification_sent(&out), Some((6, 2)));
    assert_eq!(s.state(), State::Idle);
    assert!(s.negotiated().is_none());
}

#[test]
fn connection_loss_in_open_sent_returns_to_active() {
    let mut s = Session::new(config(false));
    s.handle(Input::ManualStart);
    s.handle(Input::TcpConnected);
    let out = s.handle(Input::TcpFails);
    assert_eq!(s.state(), State::Active);
    assert!(out.contains(&Output::StartTimer(
        Timer::ConnectRetry,
        Duration::from_secs(3)
    )));
}

#[test]
fn connection_loss_when_established_is_down() {
    let mut s = established();
    let out = s.handle(Input::TcpFails);
    assert_eq!(s.state(), State::Idle);
    assert!(out.iter().any(|o| matches!(o, Output::Down(_))));
    assert!(out.contains(&Output::StopTimer(Timer::Keepalive)));
}

#[test]
fn message_while_connecting_is_an_error_without_notification() {
    let mut s = Session::new(config(false));
    s.handle(Input::ManualStart);
    let out = s.handle(Input::Message(Message::Keepalive));
    assert_eq!(notification_sent(&out), None);
    assert_eq!(s.state(), State::Idle);
}
