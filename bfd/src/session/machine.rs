//! The session: RFC 5880 §6.8.1 state variables, timers and administrative control.
//! Reception (§6.8.6) is in `receive.rs`.

use std::time::{Duration, Instant};

use super::{Input, Jitter, Outputs, Params, StateChange, Status};
use crate::packet::{ControlPacket, Diag, State};

/// §6.8.3: Desired Min TX while the session is not Up.
pub(super) const SLOW_TX_US: u32 = 1_000_000;

/// What we put in our packets: `bfd.DesiredMinTxInterval`, `bfd.RequiredMinRxInterval`,
/// `bfd.DetectMult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Advertised {
    pub tx_us: u32,
    pub rx_us: u32,
    pub mult: u8,
}

/// What the remote last told us.
#[derive(Debug, Clone, Copy)]
pub(super) struct Remote {
    /// `bfd.RemoteDiscr`.
    pub discr: u32,
    /// `bfd.RemoteSessionState`.
    pub state: State,
    pub diag: Diag,
    /// `bfd.RemoteDemandMode`.
    pub demand: bool,
    /// `bfd.RemoteMinRxInterval`.
    pub min_rx_us: u32,
    /// The last Desired Min TX Interval received.
    pub desired_min_tx_us: u32,
    /// The last Detect Mult received (0 before any).
    pub detect_mult: u8,
    pub control_plane_independent: bool,
}

impl Remote {
    /// §6.8.1 initial values: discriminator 0, Down, RemoteMinRxInterval 1 µs.
    const UNKNOWN: Remote = Remote {
        discr: 0,
        state: State::Down,
        diag: Diag::None,
        demand: false,
        min_rx_us: 1,
        desired_min_tx_us: 0,
        detect_mult: 0,
        control_plane_independent: false,
    };
}

/// One BFD session's state machine.
#[derive(Debug, Clone)]
pub struct Session {
    pub(super) local_discr: u32,
    /// `bfd.SessionState`.
    pub(super) state: State,
    /// `bfd.LocalDiag`.
    pub(super) diag: Diag,
    /// What the operator configured (the Up values).
    pub(super) params: Params,
    pub(super) advertised: Advertised,
    /// Desired Min TX our transmit timer uses: the previous value while a Poll Sequence for an
    /// increase runs (§6.8.3).
    pub(super) tx_in_use_us: u32,
    /// Required Min RX our detection uses: the previous value while a Poll Sequence for a
    /// decrease runs (§6.8.3).
    pub(super) rx_in_use_us: u32,
    /// A Poll Sequence of ours is running.
    pub(super) polling: bool,
    /// Parameters changed during the running Poll Sequence: poll again once it ends.
    pub(super) repoll: bool,
    pub(super) control_plane_independent: bool,
    pub(super) remote: Remote,
    /// When the last packet counted for detection arrived (`None`: not heard since the last
    /// detection expiry).
    pub(super) last_rx: Option<Instant>,
    pub(super) last_tx: Option<Instant>,
    pub(super) next_tx: Option<Instant>,
    /// The un-jittered periodic interval `next_tx` was computed with.
    pub(super) scheduled_interval_us: Option<u32>,
    pub(super) jitter: Jitter,
}

impl Session {
    /// A session in Down with discriminator `local_discriminator` (non-zero, unique on this
    /// system: the driver's business), sending its first packet at `now`.
    pub fn new(local_discriminator: u32, params: Params, jitter: Jitter, now: Instant) -> Self {
        let advertised = Advertised {
            tx_us: params.tx_us().max(SLOW_TX_US),
            rx_us: params.rx_us(),
            mult: params.detect_mult(),
        };
        Session {
            local_discr: local_discriminator,
            state: State::Down,
            diag: Diag::None,
            params,
            advertised,
            tx_in_use_us: advertised.tx_us,
            rx_in_use_us: advertised.rx_us,
            polling: false,
            repoll: false,
            control_plane_independent: false,
            remote: Remote::UNKNOWN,
            last_rx: None,
            last_tx: None,
            next_tx: Some(now),
            scheduled_interval_us: Some(advertised.tx_us),
            jitter,
        }
    }

    /// `bfd.SessionState`.
    pub fn state(&self) -> State {
        self.state
    }

    /// The configured parameters.
    pub fn params(&self) -> Params {
        self.params
    }

    /// When [`Input::Timer`] is due next.
    pub fn deadline(&self) -> Option<Instant> {
        match (self.next_tx, self.detection_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Everything an operator may want to see.
    pub fn status(&self) -> Status {
        Status {
            state: self.state,
            local_diag: self.diag,
            remote_state: self.remote.state,
            remote_diag: self.remote.diag,
            local_discriminator: self.local_discr,
            remote_discriminator: self.remote.discr,
            tx_interval: self.tx_interval_us().map(micros),
            rx_interval: self.last_rx.map(|_| micros(self.agreed_rx_us())),
            detection_time: self.detection_time(),
            remote_detect_mult: self.remote.detect_mult,
            remote_min_rx: micros(self.remote.min_rx_us),
            polling: self.polling,
            control_plane_independent: self.control_plane_independent,
            remote_control_plane_independent: self.remote.control_plane_independent,
        }
    }

    /// Process one input at time `now`.
    pub fn handle(&mut self, input: Input, now: Instant) -> Outputs {
        let mut out = match input {
            Input::Received(packet) => self.receive(&packet, now),
            Input::Timer => self.timer(now),
            Input::SetParams(params) => {
                self.params = params;
                self.readvertise(true, now);
                Outputs::default()
            }
            Input::SetControlPlaneIndependent(on) => {
                self.control_plane_independent = on;
                Outputs::default()
            }
            Input::AdminDown(diag) if self.state != State::AdminDown => {
                let change = self.set_state(State::AdminDown, diag, now);
                self.send_now(change, false, now)
            }
            Input::AdminUp if self.state == State::AdminDown => {
                let change = self.set_state(State::Down, Diag::None, now);
                self.send_now(change, false, now)
            }
            Input::AdminDown(_) | Input::AdminUp => Outputs::default(),
        };
        out.deadline = self.deadline();
        out
    }

    /// §6.8.4 detection, then §6.8.7 periodic transmission.
    fn timer(&mut self, now: Instant) -> Outputs {
        let mut change = None;
        if self.detection_deadline().is_some_and(|d| d <= now) {
            // bfd.RemoteDiscr MUST be zeroed after a Detection Time without packets (§6.8.1).
            let heard = self.remote;
            self.last_rx = None;
            self.remote = Remote {
                min_rx_us: self.remote.min_rx_us,
                ..Remote::UNKNOWN
            };
            if matches!(self.state, State::Init | State::Up) {
                change = self.set_state(State::Down, Diag::ControlDetectionTimeExpired, now);
                // What the remote last said, not what was forgotten just now.
                if let Some(c) = change.as_mut() {
                    c.remote_diag = heard.diag;
                    c.remote_control_plane_independent = heard.control_plane_independent;
                }
            }
            self.reschedule(now);
        }
        if change.is_some() {
            return self.send_now(change, false, now);
        }
        if self.next_tx.is_some_and(|t| t <= now) {
            return self.send_now(None, false, now);
        }
        Outputs::default()
    }

    /// Moves to `to` with `diag`; the change to report, if the state changed.
    pub(super) fn set_state(&mut self, to: State, diag: Diag, now: Instant) -> Option<StateChange> {
        let from = self.state;
        if from == to {
            return None;
        }
        self.state = to;
        self.diag = diag;
        if to != State::Up && self.polling {
            // Leaving Up ends any Poll Sequence; what we advertise applies at once, and the
            // slow rate below unpolled: the packet announcing the new state tells the remote.
            self.polling = false;
            self.repoll = false;
            self.tx_in_use_us = self.advertised.tx_us;
            self.rx_in_use_us = self.advertised.rx_us;
        }
        self.readvertise(to == State::Up, now);
        Some(StateChange {
            from,
            to,
            diag,
            remote_diag: self.remote.diag,
            remote_control_plane_independent: self.remote.control_plane_independent,
            // Only the fall the remote's AdminDown caused, not a later change of ours.
            remote_admin_down: to == State::Down
                && diag == Diag::NeighborSignaledSessionDown
                && self.remote.state == State::AdminDown,
        })
    }

    /// Brings what we advertise in line with the state and the configuration (§6.8.3),
    /// starting a Poll Sequence (§6.5) if `poll` and the remote is known.
    pub(super) fn readvertise(&mut self, poll: bool, now: Instant) {
        let wanted = Advertised {
            tx_us: if self.state == State::Up {
                self.params.tx_us()
            } else {
                self.params.tx_us().max(SLOW_TX_US)
            },
            rx_us: self.params.rx_us(),
            mult: self.params.detect_mult(),
        };
        if wanted == self.advertised {
            return;
        }
        if self.polling {
            // The Final we wait for may answer a packet with the old values: poll again after.
            self.repoll = true;
            return;
        }
        let old = self.advertised;
        self.advertised = wanted;
        let up = self.state == State::Up;
        // While Up, a slower TX waits for the Final (the remote's detection time still assumes
        // the old rate), and so does a faster RX for our detection time.
        let poll = poll && self.remote.discr != 0;
        if !(up && poll && wanted.tx_us > old.tx_us) {
            self.tx_in_use_us = wanted.tx_us;
        }
        if !(up && poll && wanted.rx_us < old.rx_us) {
            self.rx_in_use_us = wanted.rx_us;
        }
        self.polling = poll;
        self.reschedule(now);
    }

    /// The Final of our Poll Sequence arrived (§6.5): the new values take full effect.
    pub(super) fn poll_done(&mut self, now: Instant) {
        self.polling = false;
        self.tx_in_use_us = self.advertised.tx_us;
        self.rx_in_use_us = self.advertised.rx_us;
        if std::mem::take(&mut self.repoll) {
            self.readvertise(true, now);
        }
        self.reschedule(now);
    }

    /// §6.8.7: the periodic transmit interval before jitter, `None` when we must not send
    /// periodically (the remote wants no packets, or Demand mode is active on its side).
    pub(super) fn tx_interval_us(&self) -> Option<u32> {
        let remote_demand = self.remote.demand
            && self.state == State::Up
            && self.remote.state == State::Up
            && !self.polling;
        if self.remote.min_rx_us == 0 || remote_demand {
            return None;
        }
        Some(self.tx_in_use_us.max(self.remote.min_rx_us))
    }

    /// The interval the remote sends at as far as detection goes (§6.8.4).
    fn agreed_rx_us(&self) -> u32 {
        self.rx_in_use_us.max(self.remote.desired_min_tx_us)
    }

    /// §6.8.4: the remote's Detect Mult times the agreed interval.
    fn detection_time(&self) -> Option<Duration> {
        self.last_rx?;
        let us = u64::from(self.remote.detect_mult) * u64::from(self.agreed_rx_us());
        Some(Duration::from_micros(us))
    }

    fn detection_deadline(&self) -> Option<Instant> {
        self.last_rx?.checked_add(self.detection_time()?)
    }

    /// Recomputes the next periodic transmission if the interval changed, counting from the
    /// last one sent.
    pub(super) fn reschedule(&mut self, now: Instant) {
        let interval = self.tx_interval_us();
        if interval == self.scheduled_interval_us && (interval.is_none() || self.next_tx.is_some())
        {
            return;
        }
        self.schedule_from(self.last_tx.unwrap_or(now), now);
    }

    fn schedule_from(&mut self, from: Instant, now: Instant) {
        let interval = self.tx_interval_us();
        self.scheduled_interval_us = interval;
        self.next_tx = interval.and_then(|i| {
            let wait = Duration::from_micros(self.jitter.apply(i, self.advertised.mult));
            from.checked_add(wait).map(|t| t.max(now))
        });
    }

    /// Sends a packet now (a state change, or a Final if `final_`); a state change or a
    /// periodic send restarts the transmit interval, a lone Final does not (§6.8.7).
    pub(super) fn send_now(
        &mut self,
        change: Option<StateChange>,
        final_: bool,
        now: Instant,
    ) -> Outputs {
        let periodic_due = self.next_tx.is_some_and(|t| t <= now);
        if change.is_some() || periodic_due || !final_ {
            self.last_tx = Some(now);
            self.schedule_from(now, now);
        }
        Outputs {
            send: Some(self.packet(final_)),
            change,
            deadline: None,
        }
    }

    /// Our Control packet as §6.8.7 fills it in.
    pub(super) fn packet(&self, final_: bool) -> ControlPacket {
        ControlPacket {
            diag: self.diag,
            state: self.state,
            // "A BFD Control packet MUST NOT have both the Poll (P) and Final (F) bits set."
            poll: self.polling && !final_,
            final_,
            control_plane_independent: self.control_plane_independent,
            demand: false,
            detect_mult: self.advertised.mult,
            my_discriminator: self.local_discr,
            your_discriminator: self.remote.discr,
            desired_min_tx_us: self.advertised.tx_us,
            required_min_rx_us: self.advertised.rx_us,
            required_min_echo_rx_us: 0,
        }
    }
}

fn micros(us: u32) -> Duration {
    Duration::from_micros(u64::from(us))
}
