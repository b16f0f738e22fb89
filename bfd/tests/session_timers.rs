//! Timer negotiation (RFC 5880 §6.8.2-§6.8.4), the Poll Sequence for parameter changes (§6.5,
//! §6.8.3), jitter (§6.8.7) and what stops periodic transmission, with no runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kit;

use bfd::packet::{ControlPacket, Diag, State};
use bfd::session::{Input, Jitter};
use kit::{gaps, ms, params, remote, Lab, OURS};

#[test]
fn the_fast_rate_starts_when_up_and_the_poll_ends_with_the_final() {
    let mut lab = Lab::new();
    let slow = ControlPacket {
        desired_min_tx_us: 1_000_000,
        ..remote(State::Down, 0)
    };
    lab.recv(slow);
    // Init: still the slow rate.
    let sent = lab.converse(ms(2500), ms(1000), slow);
    assert_eq!(gaps(&sent), vec![ms(1000)]);
    assert_eq!(lab.s.state(), State::Init);
    let out = lab.recv(remote(State::Up, OURS));
    assert!(out.send.unwrap().poll);
    // A faster TX applies at once, the poll repeats on periodic packets until answered.
    let sent = lab.run_until(ms(650));
    assert_eq!(sent.len(), 2);
    assert!(sent
        .iter()
        .all(|(_, p)| p.poll && p.desired_min_tx_us == 300_000));
    assert!(lab.s.status().polling);
    lab.recv(ControlPacket {
        final_: true,
        ..remote(State::Up, OURS)
    });
    assert!(!lab.s.status().polling);
    let sent = lab.run_until(ms(600));
    assert!(sent.iter().all(|(_, p)| !p.poll));
    assert_eq!(lab.s.status().tx_interval, Some(ms(300)));
}

#[test]
fn we_send_no_faster_than_the_remote_wants_to_receive() {
    let mut lab = Lab::new();
    lab.up();
    lab.recv(ControlPacket {
        required_min_rx_us: 500_000,
        ..remote(State::Up, OURS)
    });
    assert_eq!(lab.s.status().tx_interval, Some(ms(500)));
    let sent = lab.converse(
        ms(2000),
        ms(300),
        ControlPacket {
            required_min_rx_us: 500_000,
            ..remote(State::Up, OURS)
        },
    );
    assert!(
        gaps(&sent).iter().all(|g| *g == ms(500)),
        "{:?}",
        gaps(&sent)
    );
}

#[test]
fn a_slower_tx_waits_for_the_final_before_taking_effect() {
    let mut lab = Lab::new();
    lab.up();
    lab.input(Input::SetParams(params(1000, 300, 3)));
    let sent = lab.converse(ms(1000), ms(300), remote(State::Up, OURS));
    // Advertised at once, with P; used only once the remote has acknowledged it.
    assert!(sent
        .iter()
        .all(|(_, p)| p.poll && p.desired_min_tx_us == 1_000_000));
    assert!(
        gaps(&sent).iter().all(|g| *g == ms(300)),
        "{:?}",
        gaps(&sent)
    );
    lab.recv(ControlPacket {
        final_: true,
        ..remote(State::Up, OURS)
    });
    let sent = lab.converse(ms(3000), ms(300), remote(State::Up, OURS));
    assert!(sent.iter().all(|(_, p)| !p.poll));
    assert!(
        gaps(&sent).iter().all(|g| *g == ms(1000)),
        "{:?}",
        gaps(&sent)
    );
}

#[test]
fn a_faster_rx_shortens_detection_only_after_the_final() {
    let mut lab = Lab::new();
    lab.up();
    lab.recv(ControlPacket {
        desired_min_tx_us: 100_000,
        ..remote(State::Up, OURS)
    });
    assert_eq!(lab.s.status().detection_time, Some(ms(900)));
    lab.input(Input::SetParams(params(300, 100, 3)));
    let out = lab.run_until(ms(300));
    assert_eq!(out[0].1.required_min_rx_us, 100_000);
    // The remote may still send every 300 ms until it answered: keep 3 x 300.
    assert_eq!(lab.s.status().detection_time, Some(ms(900)));
    lab.recv(ControlPacket {
        final_: true,
        desired_min_tx_us: 100_000,
        ..remote(State::Up, OURS)
    });
    assert_eq!(lab.s.status().detection_time, Some(ms(300)));
}

#[test]
fn a_slower_rx_lengthens_detection_at_once() {
    let mut lab = Lab::new();
    lab.up();
    lab.input(Input::SetParams(params(300, 1000, 3)));
    assert_eq!(lab.s.status().detection_time, Some(ms(3000)));
    assert!(lab.s.status().polling);
}

#[test]
fn a_change_during_a_poll_waits_for_it_then_polls_again() {
    let mut lab = Lab::new();
    lab.up();
    lab.input(Input::SetParams(params(200, 300, 3)));
    lab.input(Input::SetParams(params(200, 300, 5)));
    let sent = lab.converse(ms(350), ms(100), remote(State::Up, OURS));
    // The first poll's values are on the wire (at the remote's 300 ms), the second change waits.
    assert_eq!(
        (sent[0].1.desired_min_tx_us, sent[0].1.detect_mult),
        (200_000, 3)
    );
    lab.recv(ControlPacket {
        final_: true,
        ..remote(State::Up, OURS)
    });
    // That Final may answer a packet without the multiplier: a second poll carries it.
    let sent = lab.converse(ms(350), ms(100), remote(State::Up, OURS));
    assert!(sent[0].1.poll && sent[0].1.detect_mult == 5);
    lab.recv(ControlPacket {
        final_: true,
        ..remote(State::Up, OURS)
    });
    assert!(!lab.s.status().polling);
    assert!(
        !lab.converse(ms(350), ms(100), remote(State::Up, OURS))[0]
            .1
            .poll
    );
}

#[test]
fn going_down_ends_the_poll_and_slows_down_at_once() {
    let mut lab = Lab::new();
    lab.up();
    lab.input(Input::SetParams(params(100, 100, 3)));
    assert!(lab.s.status().polling);
    let out = lab.recv(remote(State::Down, 0));
    let p = out.send.unwrap();
    assert_eq!(
        (p.state, p.poll, p.desired_min_tx_us, p.required_min_rx_us),
        (State::Down, false, 1_000_000, 100_000)
    );
    assert!(!lab.s.status().polling);
    assert_eq!(gaps(&lab.run_until(ms(3000))), vec![ms(1000), ms(1000)]);
}

#[test]
fn changes_before_the_remote_is_known_apply_without_a_poll() {
    let mut lab = Lab::new();
    lab.input(Input::SetParams(params(50, 50, 2)));
    let sent = lab.run_until(ms(1000));
    let p = sent[0].1;
    assert!(!p.poll);
    // Not Up: still 1 s (§6.8.3), but the new RX and multiplier are advertised.
    assert_eq!(
        (p.desired_min_tx_us, p.required_min_rx_us, p.detect_mult),
        (1_000_000, 50_000, 2)
    );
}

#[test]
fn jitter_takes_up_to_a_quarter_off_and_more_with_a_multiplier_of_1() {
    for (mult, low, high) in [(3, 225, 300), (1, 225, 270)] {
        let mut lab = Lab::with(params(300, 300, mult), Jitter::from_seed(7));
        lab.up();
        let sent = lab.converse(ms(60_000), ms(250), remote(State::Up, OURS));
        let g = gaps(&sent);
        assert!(g.len() > 150);
        assert!(
            g.iter().all(|g| *g >= ms(low) && *g <= ms(high)),
            "mult {mult}: {g:?}"
        );
        // It is jitter, not a constant.
        assert!(g.iter().any(|x| *x != g[0]));
    }
    // Without randomness, a multiplier of 1 still gets the 10 % it must have.
    let mut lab = Lab::with(params(300, 300, 1), Jitter::none());
    lab.up();
    let sent = lab.converse(ms(3000), ms(250), remote(State::Up, OURS));
    assert!(gaps(&sent).iter().all(|g| *g == ms(270)));
}

#[test]
fn no_periodic_packets_when_the_remote_wants_none_or_runs_demand_mode() {
    let mut lab = Lab::new();
    lab.up();
    let quiet = ControlPacket {
        required_min_rx_us: 0,
        ..remote(State::Up, OURS)
    };
    lab.recv(quiet);
    assert_eq!(lab.s.status().tx_interval, None);
    assert!(lab.converse(ms(3000), ms(300), quiet).is_empty());
    // Demand mode on the remote side (§6.6): silence while both are Up, but a Poll is
    // answered, and periodic packets resume when it leaves Demand mode.
    let demand = ControlPacket {
        demand: true,
        ..remote(State::Up, OURS)
    };
    lab.recv(demand);
    assert!(lab.converse(ms(3000), ms(300), demand).is_empty());
    let out = lab.recv(ControlPacket {
        demand: true,
        poll: true,
        ..remote(State::Up, OURS)
    });
    assert!(out.send.unwrap().final_);
    // Periodic packets resume at once (the last one is long past), then every 300 ms.
    let out = lab.recv(remote(State::Up, OURS));
    assert_eq!(out.send, None);
    let sent = lab.converse(ms(1000), ms(300), remote(State::Up, OURS));
    assert_eq!(sent[0].0, lab.now - lab.t0 - ms(1000));
    assert_eq!(gaps(&sent), vec![ms(300), ms(300), ms(300)]);
}

#[test]
fn the_diag_is_kept_through_init_and_cleared_when_up() {
    let mut lab = Lab::new();
    lab.up();
    lab.run_until(ms(1000));
    assert_eq!(lab.s.status().local_diag, Diag::ControlDetectionTimeExpired);
    let out = lab.recv(remote(State::Down, 0));
    assert_eq!(out.send.unwrap().diag, Diag::ControlDetectionTimeExpired);
    let out = lab.recv(remote(State::Up, OURS));
    assert_eq!(out.send.unwrap().diag, Diag::None);
}

#[test]
fn going_down_during_a_poll_for_a_slower_tx_uses_the_new_rate_at_once() {
    let mut lab = Lab::new();
    lab.up();
    lab.input(Input::SetParams(params(2000, 300, 3)));
    // Up and polling: still sending every 300 ms until the Final.
    assert_eq!(lab.s.status().tx_interval, Some(ms(300)));
    let out = lab.recv(remote(State::Down, 0));
    assert_eq!(out.send.unwrap().desired_min_tx_us, 2_000_000);
    // Down: the 2 s we advertise, not the 300 ms the poll had kept.
    assert_eq!(lab.s.status().tx_interval, Some(ms(2000)));
}
