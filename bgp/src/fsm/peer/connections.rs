//! A peer's connections: inbound ones, our own attempts, and RFC 4271 §6.8 collision
//! resolution when both exist, with the loser closed by Cease/7 (RFC 4486) if the peer does not
//! close it first.

use std::net::Ipv4Addr;
use std::time::Instant;

use tracing::debug;

use super::slot::{Conn, ConnId, Loser, Slot, Which, COLLISION_LINGER};
use super::{Output, Peer};
use crate::fsm::{Input as SessionInput, State};
use crate::wire::Message;

impl Peer {
    /// Event 17 for a connection the driver accepted from the peer.
    pub(super) fn on_inbound(&mut self, id: ConnId, now: Instant, out: &mut Vec<Output>) {
        let conn = Conn {
            id,
            outbound: false,
        };
        let state = self.primary.session.state();
        match state {
            // BFD fell and is not back: the path is not trusted, whoever connects.
            _ if self.bfd.held => {
                debug!(peer = %self.key, "inbound connection refused: BFD is down");
                out.push(Output::Close(id));
            }
            // After a max-prefix teardown the peer waits out the hold-down, inbound or not.
            State::Idle if self.retry.held_down(now) => {
                debug!(peer = %self.key, "inbound connection refused during back-off");
                out.push(Output::Close(id));
            }
            State::Idle | State::Connect | State::Active if self.primary.conn.is_none() => {
                // Our own attempt, if one is in flight, is kept: aborting it would kill the
                // connection the peer may have adopted, and both sides could do that forever.
                self.restart_at = None;
                if state == State::Idle {
                    self.feed(Which::Primary, SessionInput::PassiveStart, now, out);
                }
                self.primary.conn = Some(conn);
                self.feed(Which::Primary, SessionInput::TcpConnected, now, out);
            }
            State::OpenSent | State::OpenConfirm if self.candidate.is_none() => {
                self.start_candidate(conn, now, out);
            }
            // Established (or a collision already being resolved): refuse the newcomer.
            _ => out.push(Output::Refuse(id)),
        }
    }

    /// Event 16: our own connection attempt succeeded.
    pub(super) fn on_connected(&mut self, id: ConnId, now: Instant, out: &mut Vec<Output>) {
        let conn = Conn { id, outbound: true };
        let state = self.primary.session.state();
        if self.bfd.held {
            out.push(Output::Close(id));
        } else if self.primary.conn.is_none() && state == State::Connect {
            self.primary.conn = Some(conn);
            self.feed(Which::Primary, SessionInput::TcpConnected, now, out);
        } else if self.candidate.is_none() && matches!(state, State::OpenSent | State::OpenConfirm)
        {
            // An inbound connection got there first: both live until the OPEN decides (§6.8).
            self.start_candidate(conn, now, out);
        } else {
            out.push(Output::Close(id));
        }
    }

    /// Event 18 for our own attempt.
    pub(super) fn on_connect_failed(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.retry.failed();
        if self.primary.conn.is_none() {
            self.feed(Which::Primary, SessionInput::TcpFails, now, out);
        }
    }

    /// An event on a connection: to its slot, unless it is the collision's OPEN (which decides
    /// first) or the winner's inputs are held while the loser lingers. Messages on a connection
    /// no slot has (the loser's OPEN, the peer's Cease/7 on it) need no answer.
    pub(super) fn on_conn(
        &mut self,
        id: ConnId,
        input: SessionInput,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(which) = self.slot_of(id) else {
            return;
        };
        // RFC 4271 §6.8: with two connections, the OPEN decides which one survives, before it
        // is answered (a KEEPALIVE on the losing connection would establish it at the peer).
        let which = match &input {
            SessionInput::Message(Message::Open(open)) if self.candidate.is_some() => {
                match self.resolve_collision(which, open.router_id, now, out) {
                    Some(w) => w,
                    None => return,
                }
            }
            _ => which,
        };
        if which == Which::Primary && self.holding() {
            self.held.push_back(input);
            return;
        }
        self.feed(which, input, now, out);
    }

    /// A connection ended (closed, or its reader stopped): the lingering loser's end releases
    /// the winner; any other is its slot's event.
    pub(super) fn on_end(
        &mut self,
        id: ConnId,
        input: SessionInput,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        if self.loser.is_some_and(|l| l.conn == id) {
            self.release_loser(false, now, out);
        } else {
            self.on_conn(id, input, now, out);
        }
    }

    /// Run a second session on `conn` until the OPEN decides the collision (§6.8).
    fn start_candidate(&mut self, conn: Conn, now: Instant, out: &mut Vec<Output>) {
        let mut slot = Slot::new(self.session_config());
        slot.conn = Some(conn);
        self.candidate = Some(slot);
        self.feed(Which::Candidate, SessionInput::PassiveStart, now, out);
        self.feed(Which::Candidate, SessionInput::TcpConnected, now, out);
    }

    /// Keep the connection initiated by the side with the higher BGP identifier (an
    /// Established session always stays); the other lingers as the loser. Returns where the
    /// OPEN that triggered this goes, if anywhere.
    fn resolve_collision(
        &mut self,
        receiving: Which,
        remote_id: Ipv4Addr,
        now: Instant,
        out: &mut Vec<Output>,
    ) -> Option<Which> {
        let candidate = self.candidate.take()?;
        let keep_outbound = u32::from(self.config.router_id) > u32::from(remote_id);
        let primary_outbound = self.primary.conn.is_some_and(|c| c.outbound);
        let established = self.primary.session.state() == State::Established;
        let primary_wins = established || primary_outbound == keep_outbound;
        let loser = if primary_wins {
            debug!(peer = %self.key, "collision: keeping the existing connection");
            candidate.conn
        } else {
            debug!(peer = %self.key, "collision: keeping the connection the peer initiated");
            std::mem::replace(&mut self.primary, candidate).conn
        };
        if let Some(conn) = loser {
            let lingering = Loser {
                conn: conn.id,
                until: now + COLLISION_LINGER,
                hold: !established,
            };
            if let Some(old) = self.loser.replace(lingering) {
                out.push(Output::Refuse(old.conn));
            }
        }
        let trigger_on_winner = (receiving == Which::Primary) == primary_wins;
        trigger_on_winner.then_some(Which::Primary)
    }

    /// Whether the winner's inputs are held until the loser is gone.
    fn holding(&self) -> bool {
        self.loser.is_some_and(|l| l.hold)
    }

    /// End the lingering: close the loser, with Cease/7 if `refuse` (the peer did not), then
    /// hand the winner what it received meanwhile, in order.
    pub(super) fn release_loser(&mut self, refuse: bool, now: Instant, out: &mut Vec<Output>) {
        let Some(loser) = self.loser.take() else {
            return;
        };
        if refuse {
            debug!(peer = %self.key, "collision: the peer left the losing connection open");
            out.push(Output::Refuse(loser.conn));
        } else {
            out.push(Output::Close(loser.conn));
        }
        while let Some(input) = self.held.pop_front() {
            self.feed(Which::Primary, input, now, out);
        }
    }
}
