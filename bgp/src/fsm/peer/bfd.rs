//! BFD as an input of the peer (RFC 5882 §3, RFC 9384): a BFD session that fell from Up takes
//! the BGP session down at once with NOTIFICATION Cease/10 (BFD Down), and holds it down until
//! BFD is Up again (as FRR's `neighbor X bfd strict` does once BFD has been Up).
//!
//! Only the fall of a session that was Up counts, and only a path failure (the driver leaves
//! out a remote AdminDown, RFC 5882 §3.2): a peer that never runs BFD keeps its BGP session.

use std::time::Instant;

use tracing::{info, warn};

use super::slot::Which;
use super::{Output, Peer};
use crate::fsm::{Input as SessionInput, State};
use crate::wire::{cease_subcode, ErrorCode, NotificationMsg};

/// Why the peer's session fell, in its Down reason.
const BFD_DOWN: &str = "BFD down";

/// The peer's view of its BFD session.
#[derive(Debug, Clone, Default)]
pub(super) struct Gate {
    /// BFD fell from Up and has not been Up since, or a start waits for it: no session may
    /// start or be accepted.
    pub held: bool,
    /// A start waiting for BFD goes ahead anyway at this time.
    pub until: Option<Instant>,
    /// Prefixed to the reason of the fall this input causes.
    pub note: Option<&'static str>,
}

impl Peer {
    /// The BFD session fell from Up (a path failure). `remote_independent`: the remote's last
    /// C bit (RFC 5880 §4.1): its BFD does not share fate with its control plane.
    pub(super) fn on_bfd_down(
        &mut self,
        remote_independent: bool,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        self.bfd.held = true;
        self.bfd.until = None;
        self.bfd.note = Some(BFD_DOWN);
        match self.state() {
            State::OpenSent | State::OpenConfirm | State::Established => {
                let cease = NotificationMsg {
                    code: ErrorCode::Cease as u8,
                    subcode: cease_subcode::BFD_DOWN,
                    data: vec![],
                };
                if self.candidate.is_some() {
                    self.feed(
                        Which::Candidate,
                        SessionInput::Stop(cease.clone()),
                        now,
                        out,
                    );
                }
                self.feed(Which::Primary, SessionInput::Stop(cease), now, out);
            }
            State::Connect | State::Active => {
                // No session to notify: abandon the attempts until BFD is back.
                out.push(Output::CancelConnect);
                if self.candidate.is_some() {
                    self.feed(Which::Candidate, SessionInput::ManualStop, now, out);
                }
                self.feed(Which::Primary, SessionInput::ManualStop, now, out);
            }
            State::Idle => {
                // RFC 5882 §4.3: with the C bit set the remote's BFD survives its control
                // plane, so this is a forwarding failure and the stale routes kept for its
                // restart must go; with it clear, the fall may be the restart itself.
                if self.helper.waiting() && remote_independent {
                    warn!(peer = %self.key, "BFD down during the peer's graceful restart, its C bit set: stale routes dropped");
                    self.helper.forget();
                    out.push(Output::DropRoutes);
                }
            }
        }
        self.bfd.note = None;
        warn!(peer = %self.key, "BFD down: the BGP session stays down until BFD is up again");
    }

    /// The BFD session is Up: a session held down by BFD may start at once (unless a
    /// maximum-prefix hold-down runs).
    pub(super) fn on_bfd_up(&mut self, now: Instant) {
        self.bfd.until = None;
        if !std::mem::take(&mut self.bfd.held) {
            return;
        }
        info!(peer = %self.key, "BFD up: the BGP session may start");
        self.release(now);
    }

    /// Hold the first start until BFD is Up, or until `until`.
    pub fn wait_for_bfd(&mut self, until: Instant) {
        self.bfd.held = true;
        self.bfd.until = Some(until);
    }

    /// The wait for BFD ran out: start anyway (the peer may not run BFD).
    pub(super) fn bfd_wait_over(&mut self, now: Instant) {
        if self.bfd.until.is_some_and(|t| t <= now) {
            self.bfd.until = None;
            self.bfd.held = false;
            warn!(peer = %self.key, "BFD is not up: starting the BGP session without it");
            self.release(now);
        }
    }

    fn release(&mut self, now: Instant) {
        if self.state() == State::Idle && !self.retry.held_down(now) {
            self.restart_at = Some(now);
        }
    }
}
