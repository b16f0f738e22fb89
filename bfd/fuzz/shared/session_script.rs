//! The session machine driven by an arbitrary byte string: shared by the `session` fuzz target
//! and the ordinary test that replays its corpus (`bfd/tests/session_corpus.rs`).
//!
//! The first four bytes pick the parameters and the jitter. Then each byte is one step: its top
//! three bits move the clock (0, 1 ms, 10 ms, 100 ms, 300 ms, 1 s, to the next deadline, 5 s),
//! its low bits pick the input; packets take their bytes from the rest of the script and go
//! through the real decoder, as the driver's would. The machine must never panic, and the
//! invariants below hold after every step.

use std::time::{Duration, Instant};

use bfd::packet::{decode, encode, ControlPacket, Diag, State};
use bfd::session::{Input, Jitter, Params, Session};

/// Our discriminator.
const OURS: u32 = 0x0a0b_0c0d;

/// Run one script.
pub fn run(data: &[u8]) {
    let (head, mut rest) = data.split_at(data.len().min(4));
    let byte = |i: usize| head.get(i).copied().unwrap_or(0);
    let initial = params(byte(0), byte(1), byte(2));
    let jitter = if byte(3) & 1 == 0 {
        Jitter::none()
    } else {
        Jitter::from_seed(u64::from(byte(3)))
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut s = Session::new(OURS, initial, jitter, now);
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        now = match op >> 5 {
            0 => now,
            1 => now + Duration::from_millis(1),
            2 => now + Duration::from_millis(10),
            3 => now + Duration::from_millis(100),
            4 => now + Duration::from_millis(300),
            5 => now + Duration::from_secs(1),
            6 => s.deadline().map_or(now, |d| d.max(now)),
            _ => now + Duration::from_secs(5),
        };
        let mut take = |n: usize| {
            let (bytes, tail) = rest.split_at(rest.len().min(n));
            rest = tail;
            bytes
        };
        let input = match op & 0x07 {
            0 | 1 => Input::Timer,
            2 => match decode(take(24)) {
                Ok(p) => Input::Received(p),
                Err(_) => continue,
            },
            3 | 4 => match plausible(take(4)) {
                Some(p) => Input::Received(p),
                None => continue,
            },
            5 => {
                let b = take(3);
                let at = |i: usize| b.get(i).copied().unwrap_or(0);
                Input::SetParams(params(at(0), at(1), at(2)))
            }
            6 => Input::SetControlPlaneIndependent(op & 0x08 != 0),
            _ if op & 0x08 != 0 => Input::AdminUp,
            _ => Input::AdminDown(Diag::from_bits(op >> 3)),
        };
        step(&mut s, input, now);
    }
}

/// Parameters from three bytes: intervals 10 ms .. 2.56 s, multiplier 1 ..= 255.
fn params(tx: u8, rx: u8, mult: u8) -> Params {
    let ms = |b: u8| 10 + 10 * u64::from(b);
    Params::from_millis(ms(tx), ms(rx), mult.max(1)).unwrap_or_default()
}

/// A packet the remote could send: state, flags, Your Discriminator ours or 0 or another, and
/// intervals; through the codec so it is exactly what decode lets through.
fn plausible(b: &[u8]) -> Option<ControlPacket> {
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let your = match at(1) & 0x03 {
        0 => 0,
        1 | 2 => OURS,
        _ => OURS ^ 0x100,
    };
    let interval = |x: u8| u32::from(x & 0x0f) * 50_000;
    let p = ControlPacket {
        diag: Diag::from_bits(at(3)),
        state: State::from_bits(at(0) >> 6),
        poll: at(0) & 0x20 != 0,
        final_: at(0) & 0x10 != 0,
        control_plane_independent: at(0) & 0x08 != 0,
        demand: at(0) & 0x02 != 0,
        detect_mult: (at(1) >> 2).max(1),
        my_discriminator: 0xe357_7294,
        your_discriminator: your,
        desired_min_tx_us: interval(at(2)),
        required_min_rx_us: interval(at(2) >> 4),
        required_min_echo_rx_us: 0,
    };
    decode(&encode(&p)).ok()
}

/// One input, then the invariants.
fn step(s: &mut Session, input: Input, now: Instant) {
    let before = s.status();
    let out = s.handle(input, now);
    let after = s.status();
    assert_eq!(out.deadline, s.deadline());
    if let Some(p) = out.send {
        // Everything we send passes the remote's reception checks.
        assert_eq!(decode(&encode(&p)), Ok(p));
        assert!(!(p.poll && p.final_));
        assert_eq!(
            (p.my_discriminator, p.state, p.diag),
            (OURS, after.state, after.local_diag)
        );
        assert_eq!(p.required_min_echo_rx_us, 0);
        if p.state != State::Up {
            assert!(
                p.desired_min_tx_us >= 1_000_000,
                "fast TX while {}",
                p.state
            );
        }
        // Outside a Poll Sequence we send at what we advertise (§6.8.7).
        if let (false, Some(i)) = (after.polling, after.tx_interval) {
            let advertised = Duration::from_micros(u64::from(p.desired_min_tx_us));
            assert_eq!(i, advertised.max(after.remote_min_rx));
        }
    }
    if before.state == State::AdminDown {
        if let Input::Received(_) = input {
            assert_eq!(
                (out.send, out.change),
                (None, None),
                "AdminDown must discard"
            );
        }
    }
    match out.change {
        Some(c) => {
            assert_ne!(c.from, c.to);
            assert_eq!((c.from, c.to), (before.state, after.state));
            assert!(out.send.is_some(), "a state change is sent at once");
            if c.to == State::Up {
                assert!(matches!(c.from, State::Down | State::Init));
                assert_eq!(c.diag, Diag::None);
            }
            if c.to == State::Init {
                assert_eq!(c.from, State::Down);
            }
            if c.diag == Diag::ControlDetectionTimeExpired && c.to == State::Down {
                assert_eq!(input, Input::Timer);
                assert!(matches!(c.from, State::Init | State::Up));
            }
            if c.remote_admin_down && c.to == State::Down {
                assert_eq!(c.diag, Diag::NeighborSignaledSessionDown);
            }
        }
        None => assert_eq!(before.state, after.state),
    }
    if matches!(after.state, State::Init | State::Up) {
        assert_ne!(after.remote_discriminator, 0);
        assert!(after.detection_time.is_some());
    }
}
