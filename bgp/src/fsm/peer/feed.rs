//! Running a slot's session: one event in, its outputs turned into the peer's (timers become
//! deadlines, Established and a fall to Idle take the peer-wide decisions).

use std::time::Instant;

use tracing::debug;

use super::slot::{Slot, Which};
use super::{Output, Peer};
use crate::fsm::{Input as SessionInput, Negotiated, Output as SessionOutput, State, Timer};

impl Peer {
    /// Feed one event to a slot's session and turn its outputs into the peer's.
    pub(super) fn feed(
        &mut self,
        which: Which,
        input: SessionInput,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(slot) = self.slot_mut(which) else {
            return;
        };
        let was = slot.session.state();
        for o in slot.session.handle(input) {
            self.apply(which, was, o, now, out);
        }
        let failed = |s: &Slot| s.session.state() == State::Idle || s.conn.is_none();
        if which == Which::Candidate && self.candidate.as_ref().is_some_and(failed) {
            // A failed candidate just disappears.
            if let Some(conn) = self.candidate.take().and_then(|s| s.conn) {
                out.push(Output::Close(conn.id));
            }
        }
        if which == Which::Primary && self.primary.conn.is_none() && self.state() != State::Idle {
            // The primary lost its connection before Established (back in Active): a second
            // connection still negotiating takes its place rather than losing a collision to
            // a slot with no connection.
            if let Some(candidate) = self.candidate.take() {
                debug!(peer = %self.key, "the second connection replaces the one that failed");
                self.primary = candidate;
            }
        }
    }

    fn apply(
        &mut self,
        which: Which,
        was: State,
        output: SessionOutput,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let conn = self.slot(which).and_then(|s| s.conn).map(|c| c.id);
        match output {
            SessionOutput::Connect => out.push(Output::Connect),
            SessionOutput::Send(message) => out.extend(conn.map(|c| Output::Send(c, message))),
            SessionOutput::Disconnect => {
                if let Some(c) = self.slot_mut(which).and_then(|s| s.conn.take()) {
                    out.push(Output::Close(c.id));
                }
            }
            SessionOutput::StartTimer(timer, after) => {
                let after = if timer == Timer::ConnectRetry {
                    self.retry.delay(after)
                } else {
                    after
                };
                if let Some(s) = self.slot_mut(which) {
                    s.timers.insert(timer, now + after);
                }
            }
            SessionOutput::StopTimer(timer) => {
                if let Some(s) = self.slot_mut(which) {
                    s.timers.remove(&timer);
                }
            }
            SessionOutput::Established(n) => self.on_established(which, n, now, out),
            SessionOutput::Update(u) => out.extend(conn.map(|c| Output::Update(c, u))),
            SessionOutput::RouteRefresh(rr) => {
                out.extend(conn.map(|c| Output::RouteRefresh(c, rr)));
            }
            SessionOutput::Down(reason) if which == Which::Primary => {
                self.down(was, reason, now, out);
            }
            // A candidate's failure is its own: its connection is closed, nothing else moves.
            SessionOutput::Down(_) => {}
        }
    }

    fn on_established(&mut self, which: Which, n: Negotiated, now: Instant, out: &mut Vec<Output>) {
        if which == Which::Primary {
            // A connection of ours completing now would reach a peer that is Established: FRR
            // takes that as our restart (graceful restart) and drops the session it has.
            out.push(Output::CancelConnect);
            self.retry.succeeded();
            self.established = Some(n);
            out.extend(self.helper.reestablished(&self.key, n, now));
            // The Restart State bit belongs to the first session after our restart.
            let open = self.session_config().open;
            self.primary.session.set_open_options(open);
        }
        if let Some(conn) = self.slot(which).and_then(|s| s.conn) {
            out.push(Output::Established(conn.id, n));
        }
    }

    /// The primary session fell to Idle (from `was`): report it, decide the fate of the peer's
    /// routes, and schedule the next automatic start unless the peer is stopping.
    fn down(&mut self, was: State, reason: String, now: Instant, out: &mut Vec<Output>) {
        // A session taken down with its transport is down for the transport's reason.
        let reason = if self.transport.up {
            reason
        } else {
            self.transport.reason.clone()
        };
        // The status says Idle before any route change goes out, so whoever sees the change
        // sees the session down too.
        out.push(Output::Down(reason.clone()));
        if was == State::Established {
            let negotiated = self.established.take();
            let notified = self.primary.session.ended_with_notification();
            out.extend(
                self.helper
                    .session_lost(&self.key, negotiated, notified, &reason, now),
            );
        } else {
            debug!(peer = %self.key, %reason, "session attempt failed");
            self.retry.failed();
        }
        if self.stopped || !self.transport.up {
            return;
        }
        let (delay, held_down) = self.retry.next_start(now, self.config.connect_retry);
        if held_down {
            // A second connection in progress must not outlive the hold-down either.
            if let Some(conn) = self.candidate.take().and_then(|s| s.conn) {
                out.push(Output::Close(conn.id));
            }
        }
        self.restart_at = Some(now + delay);
    }
}
