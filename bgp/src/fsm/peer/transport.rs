//! Whether the peer can be reached at all: an interface peer has no one to connect to while its
//! interface is down or missing, or before its neighbour's link-local address is known; when the
//! neighbour changes its address, the old sessions are dead. (A BFD session going down is the
//! same kind of event.) While the transport is down the peer makes no connection attempts and
//! schedules no automatic start; when it comes back the peer starts at once, without back-off.

use std::time::Instant;

use super::slot::Which;
use super::{Output, Peer};
use crate::fsm::{Input as SessionInput, State, Timer};

/// The transport's state as the peer last heard it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Transport {
    /// The peer can be reached.
    pub up: bool,
    /// Why not, when it cannot: the reason its session is shown down.
    pub reason: String,
}

impl Default for Transport {
    fn default() -> Self {
        Transport {
            up: true,
            reason: String::new(),
        }
    }
}

impl Peer {
    /// The transport went away: every connection fails (RFC 4271 Event 18, so graceful restart
    /// keeps the routes of a peer that announced it, as for any lost connection) and the
    /// session goes to Idle, down for `reason`, with no restart scheduled.
    pub(super) fn transport_down(&mut self, reason: String, now: Instant, out: &mut Vec<Output>) {
        let was_up = self.transport.up;
        self.transport = Transport { up: false, reason };
        if !was_up || !self.started {
            return;
        }
        out.push(Output::CancelConnect);
        if let Some(loser) = self.loser.take() {
            out.push(Output::Close(loser.conn));
        }
        self.held.clear();
        if self.candidate.is_some() {
            self.feed(Which::Candidate, SessionInput::TcpFails, now, out);
        }
        if let Some(conn) = self.candidate.take().and_then(|s| s.conn) {
            out.push(Output::Close(conn.id));
        }
        if self.primary.conn.is_some() {
            self.feed(Which::Primary, SessionInput::TcpFails, now, out);
        }
        if let Some(conn) = self.primary.conn.take() {
            out.push(Output::Close(conn.id));
        }
        if self.state() != State::Idle {
            self.feed(Which::Primary, SessionInput::ManualStop, now, out);
        }
        self.restart_at = None;
    }

    /// The transport is back: start now (if the peer was started), with the back-off reset.
    pub(super) fn transport_up(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.transport.up {
            return;
        }
        self.transport = Transport::default();
        self.retry.succeeded();
        if !self.started || self.retry.held_down(now) {
            return;
        }
        match self.state() {
            State::Idle => {
                self.restart_at = None;
                self.feed(Which::Primary, SessionInput::ManualStart, now, out);
            }
            State::Connect | State::Active if self.primary.conn.is_none() => {
                self.primary.timers.remove(&Timer::ConnectRetry);
                self.feed(
                    Which::Primary,
                    SessionInput::TimerExpired(Timer::ConnectRetry),
                    now,
                    out,
                );
            }
            _ => {}
        }
    }
}
