//! The per-peer machine's clocks, with no runtime: connect-retry back-off and its jitter, the
//! maximum-prefix hold-down (RFC 4486), the graceful-restart helper's restart and stale-path
//! deadlines (RFC 4724 §4.2), and what leaving (shutdown, removal) does to sessions and routes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peer_machine;

use std::time::Duration;

use bgp::fsm::peer::{ConnId, Input, Output, Removal, MAX_PREFIX_HOLD_DOWN, STALE_PATH_TIME};
use bgp::fsm::{GrOptions, State};
use bgp::wire::Message;
use peer_machine::*;

const C1: ConnId = ConnId(1);
const C2: ConnId = ConnId(2);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn connect_retry_doubles_per_failure_up_to_60_s_with_jitter_and_resets_once_established() {
    let mut rig = Rig::new();
    let out = rig.feed(Input::Start);
    assert!(out.contains(&Output::Connect));
    // Each ConnectRetry timer is armed when the previous one expires, with the failures so far.
    let mut waits = Vec::new();
    for _ in 0..8 {
        rig.feed(Input::ConnectFailed);
        assert_eq!(rig.peer.state(), State::Active);
        let (wait, out) = rig.next();
        assert!(
            out.contains(&Output::Connect),
            "ConnectRetry expired: {out:?}"
        );
        waits.push(wait);
    }
    // After n failures: 3 s * 2^n (n <= 5), at most 60 s; jittered to 75-100%.
    let expected = [3, 6, 12, 24, 48, 60, 60, 60];
    for (wait, base) in waits.iter().zip(expected) {
        assert!(
            jittered(*wait, secs(base)),
            "{wait:?} is not 75-100% of {base} s"
        );
    }
    // Established resets the count: the next attempt after a drop waits ~3 s again.
    rig.feed(Input::Connected(C1));
    rig.feed(Input::Message(C1, open_from(LOWER_ID, vec![])));
    let out = rig.feed(Input::Message(C1, Message::Keepalive));
    assert_eq!(established_on(&out), Some(C1));
    let out = rig.feed(Input::Closed(C1));
    assert!(out.contains(&Output::DropRoutes), "{out:?}");
    let (wait, out) = rig.next();
    assert!(jittered(wait, RETRY), "{wait:?}");
    assert!(out.contains(&Output::Connect), "AutomaticStart: {out:?}");
}

#[test]
fn peers_jitter_differently() {
    let wait = |index: u64| {
        let key = "192.0.2.1".parse().unwrap();
        let mut peer = bgp::fsm::peer::Peer::new(key, config(false, None), None, index);
        let now = std::time::Instant::now();
        peer.process(now, Input::Start);
        peer.next_deadline().unwrap() - now
    };
    let waits: std::collections::HashSet<Duration> = (0..8).map(wait).collect();
    assert!(waits.len() > 1, "eight peers retry in step: {waits:?}");
}

#[test]
fn too_many_prefixes_close_with_cease_1_and_hold_down_30_s_inbound_too() {
    let mut rig = Rig::with(config(false, None), Some(2));
    rig.establish(C1, open_from(LOWER_ID, vec![]));
    assert!(
        rig.feed(imported(C1, 2, (1, 1))).is_empty(),
        "at the limit is fine"
    );
    let out = rig.feed(imported(C1, 3, (1, 1)));
    let cease = sent_on(&out, C1);
    match cease.as_slice() {
        [Message::Notification(n)] => {
            assert_eq!((n.code, n.subcode), (6, 1));
            // RFC 4486 §4: AFI 1, SAFI 1, the limit 2.
            assert_eq!(n.data, vec![0, 1, 1, 0, 0, 0, 2]);
        }
        other => panic!("expected Cease/1, sent {other:?}"),
    }
    assert!(closes(&out, C1));
    assert!(out.contains(&Output::DropRoutes), "{out:?}");
    assert_eq!(rig.peer.state(), State::Idle);
    // No jitter on the hold-down, and inbound connections wait it out too.
    assert_eq!(
        rig.peer.next_deadline(),
        Some(rig.now + MAX_PREFIX_HOLD_DOWN)
    );
    rig.now += secs(29);
    assert_eq!(rig.feed(Input::Inbound(C2)), vec![Output::Close(C2)]);
    assert_eq!(rig.peer.state(), State::Idle);
    let (wait, out) = rig.next();
    assert_eq!(wait, secs(1));
    assert!(out.contains(&Output::Connect), "{out:?}");
    // After the hold-down an inbound connection is adopted again.
    let out = rig.feed(Input::Inbound(C2));
    assert!(opened(&out, C2), "{out:?}");
}

fn imported(conn: ConnId, held: usize, family: (u16, u8)) -> Input {
    Input::Imported { conn, held, family }
}

#[test]
fn the_max_prefix_cease_names_the_family_that_crossed_the_limit() {
    // RFC 4486 §4: an IPv6 UPDATE crossing the limit is reported as AFI 2, SAFI 1.
    let mut rig = Rig::with(config(false, None), Some(2));
    rig.establish(C1, open_from(LOWER_ID, vec![]));
    rig.feed(imported(C1, 2, (1, 1)));
    let out = rig.feed(imported(C1, 3, (2, 1)));
    match sent_on(&out, C1).as_slice() {
        [Message::Notification(n)] => {
            assert_eq!((n.code, n.subcode), (6, 1));
            assert_eq!(n.data, vec![0, 2, 1, 0, 0, 0, 2]);
        }
        other => panic!("expected Cease/1, sent {other:?}"),
    }
}

#[test]
fn attempts_the_peer_never_answers_back_off_like_refused_ones() {
    // A firewall dropping our SYNs: no ConnectFailed ever comes, only ConnectRetry expiring
    // with the attempt in flight. Each such expiry is a failure: 3 s, 6 s, 12 s, ... 60 s.
    let mut rig = Rig::new();
    assert!(rig.feed(Input::Start).contains(&Output::Connect));
    let mut waits = Vec::new();
    for _ in 0..8 {
        let (wait, out) = rig.next();
        assert!(out.contains(&Output::Connect), "a new attempt: {out:?}");
        assert_eq!(rig.peer.state(), State::Connect);
        waits.push(wait);
    }
    let expected = [3, 6, 12, 24, 48, 60, 60, 60];
    for (wait, base) in waits.iter().zip(expected) {
        assert!(
            jittered(*wait, secs(base)),
            "{wait:?} is not 75-100% of {base} s (waits: {waits:?})"
        );
    }
    // An attempt that fails outright after one that timed out is one failure, not two: the
    // expiry that follows in Active does not count again.
    let mut rig = Rig::new();
    rig.feed(Input::Start);
    rig.next(); // timed out: 1 failure
    rig.feed(Input::ConnectFailed); // refused: 2
    rig.next(); // the retry armed after the first failure (6 s) expires in Active: still 2
    let (wait, _) = rig.next();
    assert!(jittered(wait, secs(12)), "{wait:?}");
}

#[test]
fn graceful_restart_keeps_routes_until_the_restart_time_runs_out() {
    let mut rig = Rig::with(config(false, Some(GrOptions::default())), None);
    rig.establish(C1, open_from(LOWER_ID, vec![gr_cap(120, true)]));
    // The connection drops without a NOTIFICATION: routes kept, stale.
    let out = rig.feed(Input::Closed(C1));
    let routes: Vec<&Output> = out
        .iter()
        .filter(|o| {
            matches!(
                o,
                Output::MarkStale | Output::SweepStale(_) | Output::DropRoutes
            )
        })
        .collect();
    // IPv4 is listed in its capability; IPv6 is not, so any IPv6 routes go at once.
    assert_eq!(
        routes,
        vec![&Output::MarkStale, &Output::SweepStale(Some(2))],
        "{out:?}"
    );
    let down = out.iter().position(|o| matches!(o, Output::Down(_)));
    let stale = out.iter().position(|o| o == &Output::MarkStale);
    assert!(
        down < stale,
        "the status says down before routes move: {out:?}"
    );
    // Reconnection attempts do not end the restart time...
    rig.now += secs(119);
    let out = rig.feed(Input::Tick);
    assert!(!touches_routes(&out), "{out:?}");
    // ...which ends 120 s after the drop.
    rig.now += secs(1);
    let out = rig.feed(Input::Tick);
    assert!(out.contains(&Output::DropRoutes), "{out:?}");
}

#[test]
fn a_peer_back_in_time_keeps_its_preserved_routes_until_end_of_rib_or_the_stale_path_time() {
    let mut rig = Rig::with(config(false, Some(GrOptions::default())), None);
    rig.establish(C1, open_from(LOWER_ID, vec![gr_cap(120, true)]));
    rig.feed(Input::Closed(C1));
    rig.now += secs(10);
    // It comes back (inbound) with IPv4 still preserved (Forwarding State set).
    // (Hold time 0: no keepalives needed while the test moves the clock by minutes.)
    rig.feed(Input::Inbound(C2));
    let open = without_hold_time(open_from(LOWER_ID, vec![gr_cap(120, true)]));
    rig.feed(Input::Message(C2, open));
    let out = rig.feed(Input::Message(C2, Message::Keepalive));
    assert_eq!(established_on(&out), Some(C2));
    // IPv6 (not negotiated) is swept; IPv4 waits for End-of-RIB (the driver's sweep).
    assert!(out.contains(&Output::SweepStale(Some(2))), "{out:?}");
    assert!(!out.contains(&Output::SweepStale(Some(1))), "{out:?}");
    assert!(!out.contains(&Output::DropRoutes), "{out:?}");
    // The restart deadline is gone; at the stale-path time what is still stale goes.
    rig.now += secs(120);
    assert!(!touches_routes(&rig.feed(Input::Tick)));
    rig.now += STALE_PATH_TIME - secs(120);
    let out = rig.feed(Input::Tick);
    assert!(out.contains(&Output::SweepStale(None)), "{out:?}");
}

#[test]
fn a_peer_back_without_forwarding_state_loses_its_stale_routes_at_once() {
    let mut rig = Rig::with(config(false, Some(GrOptions::default())), None);
    rig.establish(C1, open_from(LOWER_ID, vec![gr_cap(120, true)]));
    rig.feed(Input::Closed(C1));
    rig.feed(Input::Inbound(C2));
    rig.feed(Input::Message(
        C2,
        open_from(LOWER_ID, vec![gr_cap(120, false)]),
    ));
    let out = rig.feed(Input::Message(C2, Message::Keepalive));
    assert!(out.contains(&Output::SweepStale(Some(1))), "{out:?}");
}

#[test]
fn routes_go_at_once_after_a_notification_or_without_the_peers_capability() {
    // A NOTIFICATION either way ends graceful restart (RFC 4724 §4.2).
    let mut rig = Rig::with(config(false, Some(GrOptions::default())), None);
    rig.establish(C1, open_from(LOWER_ID, vec![gr_cap(120, true)]));
    let cease = bgp::wire::NotificationMsg {
        code: 6,
        subcode: 2,
        data: vec![],
    };
    let out = rig.feed(Input::Message(C1, Message::Notification(cease)));
    assert!(out.contains(&Output::DropRoutes), "{out:?}");
    assert!(!out.contains(&Output::MarkStale), "{out:?}");
    // A helper-only peer (FRR's default: no family listed) has nothing to keep.
    let mut rig = Rig::with(config(false, Some(GrOptions::default())), None);
    let helper_only = bgp::wire::Capability::GracefulRestart(bgp::wire::GracefulRestartCap {
        flags: 0,
        restart_time: 120,
        families: vec![],
    });
    rig.establish(C1, open_from(LOWER_ID, vec![helper_only]));
    let out = rig.feed(Input::Closed(C1));
    assert!(out.contains(&Output::DropRoutes), "{out:?}");
    // Nor does a peer when we have graceful restart off.
    let mut rig = Rig::new();
    rig.establish(C1, open_from(LOWER_ID, vec![gr_cap(120, true)]));
    let out = rig.feed(Input::Closed(C1));
    assert!(out.contains(&Output::DropRoutes), "{out:?}");
}

#[test]
fn the_restart_state_bit_goes_out_only_until_the_first_session_is_up() {
    let restarting = GrOptions {
        restarting: true,
        forwarding: true,
        ..GrOptions::default()
    };
    let restart_bit = |m: &Message| match m {
        Message::Open(o) => o
            .capabilities
            .iter()
            .any(|c| matches!(c, bgp::wire::Capability::GracefulRestart(g) if g.restarting())),
        _ => false,
    };
    let mut rig = Rig::with(config(false, Some(restarting)), None);
    rig.feed(Input::Start);
    let out = rig.feed(Input::Connected(C1));
    assert!(sent_on(&out, C1).iter().any(restart_bit), "{out:?}");
    rig.feed(Input::Message(C1, open_from(LOWER_ID, vec![])));
    rig.feed(Input::Message(C1, Message::Keepalive));
    rig.feed(Input::Closed(C1));
    let out = rig.feed(Input::Inbound(C2));
    assert!(opened(&out, C2));
    assert!(!sent_on(&out, C2).iter().any(restart_bit), "{out:?}");
}

#[test]
fn shutdown_sends_cease_2_or_with_graceful_restart_nothing() {
    let mut rig = Rig::new();
    rig.establish(C1, open_from(LOWER_ID, vec![]));
    let out = rig.feed(Input::Shutdown(None));
    assert_eq!(notification_on(&out, C1), Some((6, 2)), "{out:?}");
    assert!(closes(&out, C1));
    assert_eq!(rig.peer.next_deadline(), None, "no restart is scheduled");
    assert!(
        rig.feed(Input::Inbound(C2)).is_empty(),
        "a stopped peer takes no input"
    );

    let mut rig = Rig::with(config(false, Some(GrOptions::default())), None);
    rig.establish(C1, open_from(LOWER_ID, vec![gr_cap(120, true)]));
    let out = rig.feed(Input::Shutdown(Some("maintenance".into())));
    // RFC 4724: peers keep our routes while we restart; we keep theirs in the kernel.
    assert_eq!(out, vec![Output::Close(C1)]);
}

#[test]
fn a_shutdown_with_a_reason_sends_it_as_the_shutdown_communication() {
    // RFC 9003: Cease/2 with a length octet and the UTF-8 message.
    let mut rig = Rig::new();
    rig.establish(C1, open_from(LOWER_ID, vec![]));
    let out = rig.feed(Input::Shutdown(Some("rack 3 maintenance".into())));
    match sent_on(&out, C1).as_slice() {
        [Message::Notification(n)] => {
            assert_eq!((n.code, n.subcode), (6, 2));
            assert_eq!(n.data.first(), Some(&18));
            assert_eq!(&n.data[1..], b"rack 3 maintenance");
        }
        other => panic!("expected Cease/2, sent {other:?}"),
    }
    assert!(closes(&out, C1));
}

#[test]
fn removal_sends_cease_3_or_6_and_drops_every_route_stale_ones_too() {
    for (why, subcode) in [(Removal::Deconfigured, 3), (Removal::Reconfigured, 6)] {
        let mut rig = Rig::with(config(false, Some(GrOptions::default())), None);
        rig.establish(C1, open_from(LOWER_ID, vec![gr_cap(120, true)]));
        let out = rig.feed(Input::Remove(why));
        assert_eq!(notification_on(&out, C1), Some((6, subcode)), "{out:?}");
        assert!(closes(&out, C1));
        assert!(out.contains(&Output::DropRoutes), "{out:?}");
        assert!(!out.contains(&Output::MarkStale), "{out:?}");
        assert_eq!(rig.peer.next_deadline(), None);
    }
    // A peer down and restarting (its routes stale) is removed: the stale routes go too.
    let mut rig = Rig::with(config(false, Some(GrOptions::default())), None);
    rig.establish(C1, open_from(LOWER_ID, vec![gr_cap(120, true)]));
    assert!(rig.feed(Input::Closed(C1)).contains(&Output::MarkStale));
    let out = rig.feed(Input::Remove(Removal::Deconfigured));
    assert_eq!(out.last(), Some(&Output::DropRoutes), "{out:?}");
    assert_eq!(rig.peer.next_deadline(), None, "no restart deadline either");
}
