//! Runtime-free helpers for the session tests: a clock we move by hand and the remote's
//! packets built from FRR's defaults.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bfd::packet::{ControlPacket, Diag, State};
use bfd::session::{Input, Jitter, Outputs, Params, Session};

/// Our discriminator.
pub const OURS: u32 = 0x0a0b_0c0d;
/// The remote's.
pub const THEIRS: u32 = 0xe357_7294;

/// Milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A session and the time we feed it.
pub struct Lab {
    pub s: Session,
    pub t0: Instant,
    pub now: Instant,
}

impl Lab {
    /// A new session at 300 ms x 3 with no jitter, after its first packet went out.
    pub fn new() -> Lab {
        Lab::with(Params::default(), Jitter::none())
    }

    /// A new session with `params` and `jitter`, after its first packet went out.
    pub fn with(params: Params, jitter: Jitter) -> Lab {
        let t0 = Instant::now();
        let mut lab = Lab {
            s: Session::new(OURS, params, jitter, t0),
            t0,
            now: t0,
        };
        let first = lab.input(Input::Timer);
        assert!(first.send.is_some(), "the first packet goes out at once");
        lab
    }

    /// Feed `input` at the current time.
    pub fn input(&mut self, input: Input) -> Outputs {
        self.s.handle(input, self.now)
    }

    /// Move the clock on by `d`.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Move the clock on by `d` and receive `p`.
    pub fn recv_after(&mut self, d: Duration, p: ControlPacket) -> Outputs {
        self.advance(d);
        self.input(Input::Received(p))
    }

    /// Receive `p` now.
    pub fn recv(&mut self, p: ControlPacket) -> Outputs {
        self.input(Input::Received(p))
    }

    /// Deliver timer inputs at each deadline until `until` (from now); every packet sent, with
    /// the time it was sent.
    pub fn run_until(&mut self, until: Duration) -> Vec<(Duration, ControlPacket)> {
        let end = self.now + until;
        let mut sent = vec![];
        while let Some(d) = self.s.deadline() {
            if d > end {
                break;
            }
            self.now = self.now.max(d);
            if let Some(p) = self.input(Input::Timer).send {
                sent.push((self.now - self.t0, p));
            }
        }
        self.now = end;
        sent
    }

    /// Like [`Lab::run_until`], while the remote sends `p` every `every` (first after `every`).
    pub fn converse(
        &mut self,
        until: Duration,
        every: Duration,
        p: ControlPacket,
    ) -> Vec<(Duration, ControlPacket)> {
        let end = self.now + until;
        let mut next_rx = self.now + every;
        let mut sent = vec![];
        loop {
            let deadline = self.s.deadline().filter(|d| *d < next_rx);
            match deadline {
                Some(d) if d <= end => {
                    self.now = self.now.max(d);
                    if let Some(p) = self.input(Input::Timer).send {
                        sent.push((self.now - self.t0, p));
                    }
                }
                _ if next_rx <= end => {
                    self.now = next_rx;
                    next_rx += every;
                    if let Some(p) = self.input(Input::Received(p)).send {
                        sent.push((self.now - self.t0, p));
                    }
                }
                _ => break,
            }
        }
        self.now = end;
        sent
    }

    /// Bring the session Up the way FRR does: its Down, then its Up; answer our poll.
    pub fn up(&mut self) {
        self.recv(remote(State::Down, 0));
        let out = self.recv(remote(State::Up, OURS));
        assert_eq!(self.s.state(), State::Up, "{out:?}");
        self.recv(ControlPacket {
            final_: true,
            ..remote(State::Up, OURS)
        });
        assert!(!self.s.status().polling);
    }
}

/// A packet from the remote at 300 ms x 3 in `state`, addressed to `your`.
pub fn remote(state: State, your: u32) -> ControlPacket {
    ControlPacket {
        diag: Diag::None,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: THEIRS,
        your_discriminator: your,
        desired_min_tx_us: 300_000,
        required_min_rx_us: 300_000,
        required_min_echo_rx_us: 0,
    }
}

/// Params from milliseconds.
pub fn params(tx: u64, rx: u64, mult: u8) -> Params {
    Params::from_millis(tx, rx, mult).unwrap()
}

/// The gaps between consecutive send times.
pub fn gaps(sent: &[(Duration, ControlPacket)]) -> Vec<Duration> {
    sent.windows(2).map(|w| w[1].0 - w[0].0).collect()
}
