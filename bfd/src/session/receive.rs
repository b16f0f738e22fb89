//! Reception of a Control packet (RFC 5880 §6.8.6), step by step in the RFC's order. The
//! packet-only checks already ran in [`crate::packet::decode`], the session selection in the
//! driver.

use std::time::Instant;

use super::machine::Remote;
use super::{Outputs, Session};
use crate::packet::{ControlPacket, Diag, State};

impl Session {
    pub(super) fn receive(&mut self, p: &ControlPacket, now: Instant) -> Outputs {
        // The driver selects by Your Discriminator; one that is not ours was not meant for us.
        if p.your_discriminator != 0 && p.your_discriminator != self.local_discr {
            return Outputs::default();
        }
        // "Set bfd.RemoteDiscr to the value of My Discriminator", RemoteSessionState,
        // RemoteDemandMode, RemoteMinRxInterval (and what §6.8.4 needs for detection).
        self.remote = Remote {
            discr: p.my_discriminator,
            state: p.state,
            diag: p.diag,
            demand: p.demand,
            min_rx_us: p.required_min_rx_us,
            desired_min_tx_us: p.desired_min_tx_us,
            detect_mult: p.detect_mult,
            control_plane_independent: p.control_plane_independent,
        };
        // "If a Poll Sequence is being transmitted by the local system and the Final (F) bit in
        // the received packet is set, the Poll Sequence MUST be terminated."
        if self.polling && p.final_ {
            self.poll_done(now);
        }
        // "Update the transmit interval" (§6.8.2) and "the Detection Time" (§6.8.4): the packet
        // counts as received for detection.
        self.last_rx = Some(now);
        self.reschedule(now);
        // "If bfd.SessionState is AdminDown: Discard the packet."
        if self.state == State::AdminDown {
            return Outputs::default();
        }
        let change = match (self.state, p.state) {
            // "If received state is AdminDown: If bfd.SessionState is not Down: Set
            // bfd.LocalDiag to 3, Set bfd.SessionState to Down."
            (State::Down, State::AdminDown) => None,
            (_, State::AdminDown) => {
                self.set_state(State::Down, Diag::NeighborSignaledSessionDown, now)
            }
            (State::Down, State::Down) => self.set_state(State::Init, self.diag, now),
            (State::Down, State::Init) | (State::Init, State::Init | State::Up) => {
                self.set_state(State::Up, Diag::None, now)
            }
            (State::Up, State::Down) => {
                self.set_state(State::Down, Diag::NeighborSignaledSessionDown, now)
            }
            _ => None,
        };
        // Demand mode on the remote side (§6.6) is honoured through `tx_interval_us`; a state
        // change may have switched it on or off.
        self.reschedule(now);
        // "If the Poll (P) bit is set, send a BFD Control packet to the remote system with the
        // Poll (P) bit clear, and the Final (F) bit set" — combined with the packet a state
        // change sends at once.
        if change.is_some() || p.poll {
            return self.send_now(change, p.poll, now);
        }
        Outputs::default()
    }
}
