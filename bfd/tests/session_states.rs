//! The session state machine with no runtime: every transition of RFC 5880 §6.2 / §6.8.6,
//! detection (§6.8.4), administrative control (§6.8.16) and discriminator handling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kit;

use bfd::packet::{ControlPacket, Diag, State};
use bfd::session::{Input, StateChange};
use kit::{ms, remote, Lab, OURS, THEIRS};

fn change(from: State, to: State, diag: Diag) -> StateChange {
    StateChange {
        from,
        to,
        diag,
        remote_diag: Diag::None,
        remote_control_plane_independent: false,
        remote_admin_down: false,
    }
}

#[test]
fn a_new_session_sends_down_at_once_then_every_second() {
    let t0 = std::time::Instant::now();
    let mut s =
        bfd::session::Session::new(OURS, Default::default(), bfd::session::Jitter::none(), t0);
    assert_eq!(s.deadline(), Some(t0));
    let out = s.handle(Input::Timer, t0);
    let p = out.send.unwrap();
    assert_eq!(
        (p.state, p.diag, p.your_discriminator),
        (State::Down, Diag::None, 0)
    );
    assert_eq!(p.my_discriminator, OURS);
    // §6.8.3: at least 1 s Desired Min TX while not Up; our RX and multiplier as configured.
    assert_eq!(
        (p.desired_min_tx_us, p.required_min_rx_us, p.detect_mult),
        (1_000_000, 300_000, 3)
    );
    assert!(!p.poll && !p.final_ && !p.control_plane_independent && !p.demand);
    assert_eq!(out.deadline, Some(t0 + ms(1000)));
    assert_eq!(out.change, None);
}

#[test]
fn down_hears_down_goes_init_and_says_so_at_once() {
    let mut lab = Lab::new();
    let out = lab.recv_after(ms(10), remote(State::Down, 0));
    assert_eq!(
        out.change,
        Some(change(State::Down, State::Init, Diag::None))
    );
    let p = out.send.unwrap();
    assert_eq!((p.state, p.your_discriminator), (State::Init, THEIRS));
    assert_eq!(lab.s.status().remote_discriminator, THEIRS);
}

#[test]
fn down_hears_init_goes_up_and_polls_for_the_fast_rate() {
    let mut lab = Lab::new();
    let out = lab.recv_after(ms(10), remote(State::Init, OURS));
    assert_eq!(out.change, Some(change(State::Down, State::Up, Diag::None)));
    let p = out.send.unwrap();
    // FRR does the same: the first Up packet polls for the configured 300 ms (§6.8.3, §6.5).
    assert_eq!(
        (p.state, p.poll, p.desired_min_tx_us),
        (State::Up, true, 300_000)
    );
}

#[test]
fn init_goes_up_on_init_or_up_and_stays_on_down() {
    for (heard, to) in [
        (State::Init, State::Up),
        (State::Up, State::Up),
        (State::Down, State::Init),
    ] {
        let mut lab = Lab::new();
        lab.recv(remote(State::Down, 0));
        assert_eq!(lab.s.state(), State::Init);
        let out = lab.recv_after(ms(5), remote(heard, OURS));
        assert_eq!(lab.s.state(), to, "Init hearing {heard}");
        assert_eq!(out.change.is_some(), to == State::Up);
    }
}

#[test]
fn down_ignores_up_and_admin_down() {
    for heard in [State::Up, State::AdminDown] {
        let mut lab = Lab::new();
        let out = lab.recv(remote(heard, OURS));
        assert_eq!(
            (lab.s.state(), out.change, out.send),
            (State::Down, None, None),
            "{heard}"
        );
    }
}

#[test]
fn up_hears_down_neighbor_signaled_a_path_failure() {
    let mut lab = Lab::new();
    lab.up();
    let out = lab.recv_after(
        ms(100),
        ControlPacket {
            diag: Diag::ControlDetectionTimeExpired,
            ..remote(State::Down, 0)
        },
    );
    let c = out.change.unwrap();
    assert_eq!(
        (c.from, c.to, c.diag),
        (State::Up, State::Down, Diag::NeighborSignaledSessionDown)
    );
    assert_eq!(c.remote_diag, Diag::ControlDetectionTimeExpired);
    assert!(c.is_path_failure());
    let p = out.send.unwrap();
    assert_eq!(
        (p.state, p.diag, p.desired_min_tx_us),
        (State::Down, Diag::NeighborSignaledSessionDown, 1_000_000)
    );
}

#[test]
fn remote_admin_down_takes_us_down_but_is_not_a_failure() {
    for from_init in [false, true] {
        let mut lab = Lab::new();
        if from_init {
            lab.recv(remote(State::Down, 0));
        } else {
            lab.up();
        }
        let from = lab.s.state();
        let out = lab.recv_after(
            ms(50),
            ControlPacket {
                diag: Diag::AdministrativelyDown,
                ..remote(State::AdminDown, OURS)
            },
        );
        let c = out.change.unwrap();
        // RFC 5880 §6.8.6: diag 3 locally; RFC 5882 §3.2: clients SHOULD NOT act on it.
        assert_eq!(
            (c.from, c.to, c.diag),
            (from, State::Down, Diag::NeighborSignaledSessionDown)
        );
        assert!(c.remote_admin_down && !c.is_path_failure());
        assert_eq!(c.remote_diag, Diag::AdministrativelyDown);
        // While the remote stays AdminDown we stay Down, and come back when it returns.
        for _ in 0..3 {
            assert_eq!(
                lab.recv_after(ms(1000), remote(State::AdminDown, OURS))
                    .change,
                None
            );
        }
        assert_eq!(
            lab.recv_after(ms(1000), remote(State::Down, OURS))
                .change
                .unwrap()
                .to,
            State::Init
        );
        assert_eq!(
            lab.recv_after(ms(10), remote(State::Up, OURS))
                .change
                .unwrap()
                .to,
            State::Up
        );
    }
}

#[test]
fn detection_expiry_takes_up_down_with_diag_1_exactly_at_the_deadline() {
    let mut lab = Lab::new();
    lab.up();
    let last_rx = lab.now;
    // Remote 300 ms x 3, ours 300 ms: 900 ms. Our own packets go out meanwhile.
    let sent = lab.run_until(ms(899));
    assert!(sent.iter().all(|(_, p)| p.state == State::Up));
    assert_eq!(lab.s.state(), State::Up);
    assert_eq!(lab.s.status().detection_time, Some(ms(900)));
    lab.now = last_rx + ms(900);
    let out = lab.input(Input::Timer);
    let c = out.change.unwrap();
    assert_eq!(
        (c.from, c.to, c.diag),
        (State::Up, State::Down, Diag::ControlDetectionTimeExpired)
    );
    assert!(c.is_path_failure());
    let p = out.send.unwrap();
    // The remote's discriminator is forgotten (§6.8.1) and the slow rate is back.
    assert_eq!(
        (p.state, p.your_discriminator, p.desired_min_tx_us),
        (State::Down, 0, 1_000_000)
    );
    assert_eq!(lab.s.status().detection_time, None);
}

#[test]
fn detection_uses_the_remote_multiplier_and_the_agreed_interval() {
    let mut lab = Lab::with(kit::params(300, 300, 3), bfd::session::Jitter::none());
    lab.up();
    // Remote: multiplier 5, sends every 500 ms: 5 x max(300, 500).
    lab.recv(ControlPacket {
        detect_mult: 5,
        desired_min_tx_us: 500_000,
        ..remote(State::Up, OURS)
    });
    assert_eq!(lab.s.status().detection_time, Some(ms(2500)));
    assert_eq!(lab.s.status().rx_interval, Some(ms(500)));
    // Remote would send every 100 ms but we asked for 300: 2 x max(300, 100).
    lab.recv(ControlPacket {
        detect_mult: 2,
        desired_min_tx_us: 100_000,
        ..remote(State::Up, OURS)
    });
    assert_eq!(lab.s.status().detection_time, Some(ms(600)));
    let at = lab.now;
    lab.run_until(ms(599));
    assert_eq!(lab.s.state(), State::Up);
    lab.now = at + ms(600);
    assert_eq!(
        lab.input(Input::Timer).change.unwrap().diag,
        Diag::ControlDetectionTimeExpired
    );
}

#[test]
fn init_also_expires_and_down_only_forgets_the_discriminator() {
    let mut lab = Lab::new();
    lab.recv(remote(State::Down, 0));
    lab.now += ms(900);
    let c = lab.input(Input::Timer).change.unwrap();
    assert_eq!(
        (c.from, c.to, c.diag),
        (State::Init, State::Down, Diag::ControlDetectionTimeExpired)
    );

    let mut lab = Lab::new();
    lab.recv(remote(State::AdminDown, 0));
    assert_eq!(lab.s.status().remote_discriminator, THEIRS);
    lab.now += ms(900);
    let out = lab.input(Input::Timer);
    assert_eq!((out.change, lab.s.state()), (None, State::Down));
    assert_eq!(lab.s.status().remote_discriminator, 0);
}

#[test]
fn a_packet_for_another_discriminator_changes_nothing() {
    let mut lab = Lab::new();
    lab.up();
    let before = lab.s.status();
    let out = lab.recv_after(
        ms(100),
        ControlPacket {
            poll: true,
            ..remote(State::Down, OURS + 1)
        },
    );
    assert_eq!((out.change, out.send), (None, None));
    assert_eq!(lab.s.status(), before);
    // Nor does it count for detection: 900 ms after the last good packet we are Down.
    lab.run_until(ms(800));
    assert_eq!(lab.s.state(), State::Down);
}

#[test]
fn a_poll_is_answered_at_once_with_a_final_whatever_the_state() {
    for state in [State::Down, State::Init, State::Up] {
        let mut lab = Lab::new();
        match state {
            State::Init => drop(lab.recv(remote(State::Down, 0))),
            State::Up => lab.up(),
            _ => {}
        }
        // Something that changes no state: the remote AdminDown while we are Down, Down while
        // we are Init, Up while we are Up.
        let heard = match state {
            State::Down => State::AdminDown,
            State::Init => State::Down,
            _ => State::Up,
        };
        let mut twin = Lab {
            s: lab.s.clone(),
            ..lab
        };
        let out = lab.recv_after(
            ms(1),
            ControlPacket {
                poll: true,
                ..remote(heard, OURS)
            },
        );
        let p = out.send.unwrap();
        assert!(p.final_ && !p.poll, "{state}");
        // The Final is extra: the next periodic packet goes out when it would have without it.
        assert_eq!(twin.recv_after(ms(1), remote(heard, OURS)).send, None);
        assert_eq!(
            lab.run_until(ms(1000))[0].0,
            twin.run_until(ms(1000))[0].0,
            "{state}"
        );
    }
}

#[test]
fn admin_down_sends_admin_down_ignores_the_remote_and_comes_back_down() {
    let mut lab = Lab::new();
    lab.up();
    let out = lab.input(Input::AdminDown(Diag::AdministrativelyDown));
    let c = out.change.unwrap();
    assert_eq!(
        (c.from, c.to, c.diag),
        (State::Up, State::AdminDown, Diag::AdministrativelyDown)
    );
    assert!(!c.is_path_failure());
    let p = out.send.unwrap();
    assert_eq!(
        (p.state, p.diag, p.desired_min_tx_us),
        (State::AdminDown, Diag::AdministrativelyDown, 1_000_000)
    );
    // Packets are discarded: no state change, no Final.
    let out = lab.recv_after(
        ms(10),
        ControlPacket {
            poll: true,
            ..remote(State::Down, 0)
        },
    );
    assert_eq!((out.change, out.send), (None, None));
    // AdminDown keeps going out at the slow rate.
    let sent = lab.run_until(ms(3000));
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|(_, p)| p.state == State::AdminDown));
    assert_eq!(kit::gaps(&sent), vec![ms(1000), ms(1000)]);
    assert_eq!(
        lab.input(Input::AdminDown(Diag::PathDown)),
        bfd::session::Outputs {
            deadline: lab.s.deadline(),
            ..Default::default()
        }
    );
    let out = lab.input(Input::AdminUp);
    assert_eq!(
        out.change,
        Some(change(State::AdminDown, State::Down, Diag::None))
    );
    assert_eq!(out.send.unwrap().state, State::Down);
}

#[test]
fn a_remote_that_resets_its_session_is_not_a_path_failure_one_that_lost_us_is() {
    // The remote's Down with diag 0 (a new or restarted session) or 3 (it says we signalled
    // Down, which we never did while Up): its packets arrive, the path works.
    for (diag, failure) in [
        (Diag::None, false),
        (Diag::NeighborSignaledSessionDown, false),
        (Diag::AdministrativelyDown, false),
        (Diag::ControlDetectionTimeExpired, true),
        (Diag::PathDown, true),
        (Diag::ForwardingPlaneReset, true),
        (Diag::Other(9), true),
    ] {
        let mut lab = Lab::new();
        lab.up();
        let out = lab.recv_after(
            ms(100),
            ControlPacket {
                diag,
                ..remote(State::Down, 0)
            },
        );
        let c = out.change.unwrap();
        assert_eq!((c.from, c.to), (State::Up, State::Down));
        assert_eq!(c.is_path_failure(), failure, "remote diag {diag}");
    }
}

#[test]
fn a_detection_expiry_reports_what_the_remote_last_said_its_diag_and_c_bit() {
    let mut lab = Lab::new();
    lab.up();
    lab.recv_after(
        ms(100),
        ControlPacket {
            control_plane_independent: true,
            diag: Diag::PathDown,
            ..remote(State::Up, OURS)
        },
    );
    lab.advance(ms(900));
    let c = lab.input(Input::Timer).change.unwrap();
    assert_eq!(c.diag, Diag::ControlDetectionTimeExpired);
    assert_eq!(c.remote_diag, Diag::PathDown);
    assert!(c.remote_control_plane_independent);
    // Forgotten afterwards (§6.8.1), as the status shows.
    assert!(!lab.s.status().remote_control_plane_independent);
}

#[test]
fn the_c_bit_is_the_drivers_to_set_and_the_remotes_is_shown() {
    let mut lab = Lab::new();
    lab.input(Input::SetControlPlaneIndependent(true));
    assert!(lab.run_until(ms(1000))[0].1.control_plane_independent);
    lab.recv(ControlPacket {
        control_plane_independent: true,
        ..remote(State::Down, 0)
    });
    let st = lab.s.status();
    assert!(st.control_plane_independent && st.remote_control_plane_independent);
    lab.input(Input::SetControlPlaneIndependent(false));
    assert!(!lab.run_until(ms(1000))[0].1.control_plane_independent);
}

#[test]
fn only_the_fall_the_remote_admin_down_caused_is_flagged() {
    // Found by the session fuzz target: AdminDown then AdminUp of ours while the remote was
    // AdminDown reported the AdminUp (AdminDown -> Down) as the remote's doing.
    let mut lab = Lab::new();
    lab.up();
    assert!(
        lab.recv(remote(State::AdminDown, OURS))
            .change
            .unwrap()
            .remote_admin_down
    );
    let down = lab
        .input(Input::AdminDown(Diag::AdministrativelyDown))
        .change
        .unwrap();
    assert!(!down.remote_admin_down);
    let up = lab.input(Input::AdminUp).change.unwrap();
    assert_eq!(
        (up.to, up.diag, up.remote_admin_down),
        (State::Down, Diag::None, false)
    );
}
