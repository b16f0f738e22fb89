//! One configured peer's decisions above its per-connection sessions ([`super::Session`],
//! RFC 4271 §8, §6.8):
//!
//! - both connection slots, and collision resolution when both are in use (`connections.rs`):
//!   the connection initiated by the higher BGP identifier stays, the loser is left for the peer
//!   to close (at most [`COLLISION_LINGER`], then Cease/7) while the winner's inputs wait;
//! - what becomes of the peer's routes when its session drops, and the graceful-restart helper's
//!   restart and stale-path deadlines (`restart.rs`, RFC 4724 §4.2);
//! - the maximum-prefix limit and its hold-down, and the connect-retry back-off (`retry.rs`).
//!
//! [`Peer::process`] takes the time and one [`Input`] and returns the [`Output`]s to carry out;
//! [`Peer::next_deadline`] says when to come back with [`Input::Tick`]. Nothing here reads a
//! clock, touches a socket or spawns a task: `crate::driver` turns socket events and timer
//! wake-ups into inputs, and outputs into I/O.

mod connections;
mod event;
mod feed;
mod restart;
mod retry;
mod slot;
mod transport;

pub use event::{Input, Output, Removal};
pub use restart::STALE_PATH_TIME;
pub use retry::MAX_PREFIX_HOLD_DOWN;
pub use slot::{ConnId, COLLISION_LINGER};

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use tracing::warn;

use super::{Input as SessionInput, Negotiated, SessionConfig, State, Timer};
use crate::wire::{
    cease_subcode, ErrorCode, NotificationMsg, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN,
};
use crate::PeerKey;
use slot::{Loser, Slot, Which};

/// One configured peer's protocol state: its sessions, connections and deadlines.
#[derive(Debug, Clone)]
pub struct Peer {
    key: PeerKey,
    /// What each new session is configured with (the Restart State bit as configured).
    config: SessionConfig,
    /// Close the session (Cease/1) when the peer holds more accepted prefixes than this.
    max_prefixes: Option<u32>,
    /// The session whose state is the peer's.
    primary: Slot,
    /// The second connection of a collision, until §6.8 decides.
    candidate: Option<Slot>,
    /// The connection that lost a collision, until the peer closes it.
    loser: Option<Loser>,
    /// What the winner received while the loser lingered.
    held: VecDeque<SessionInput>,
    /// What the primary session negotiated, kept past its fall to Idle.
    established: Option<Negotiated>,
    /// AutomaticStart (Event 3) after the session went down.
    restart_at: Option<Instant>,
    helper: restart::Helper,
    retry: retry::Retry,
    /// The peer was shut down or removed: it takes no more input.
    stopped: bool,
    /// [`Input::Start`] came.
    started: bool,
    /// Whether the peer can be reached at all (an interface peer's link and neighbour).
    transport: transport::Transport,
}

impl Peer {
    /// A peer in Idle, waiting for [`Input::Start`]. `index` (its position among the speaker's
    /// peers) and its key seed its connect-retry jitter, so peers do not retry in step.
    pub fn new(key: PeerKey, config: SessionConfig, max_prefixes: Option<u32>, index: u64) -> Self {
        let seed = jitter_seed(&key, index);
        Self {
            key,
            primary: Slot::new(config.clone()),
            config,
            max_prefixes,
            candidate: None,
            loser: None,
            held: VecDeque::new(),
            established: None,
            restart_at: None,
            helper: restart::Helper::default(),
            retry: retry::Retry::new(seed),
            stopped: false,
            started: false,
            transport: transport::Transport::default(),
        }
    }

    /// Process one input at time `now`.
    pub fn process(&mut self, now: Instant, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        match input {
            Input::Start => {
                self.started = true;
                if self.transport.up {
                    self.feed(Which::Primary, SessionInput::ManualStart, now, &mut out);
                }
            }
            Input::TransportDown(reason) => self.transport_down(reason, now, &mut out),
            Input::TransportUp => self.transport_up(now, &mut out),
            Input::Shutdown(message) => self.shutdown(message, now, &mut out),
            Input::Remove(why) => self.remove(why, now, &mut out),
            Input::Inbound(id) => self.on_inbound(id, now, &mut out),
            Input::Connected(id) => self.on_connected(id, now, &mut out),
            Input::ConnectFailed => self.on_connect_failed(now, &mut out),
            Input::Message(id, m) => self.on_conn(id, SessionInput::Message(m), now, &mut out),
            Input::BadMessage(id, e) => {
                self.on_conn(id, SessionInput::BadMessage(e), now, &mut out)
            }
            Input::BadFrame(id, e) => self.on_end(id, SessionInput::BadMessage(e), now, &mut out),
            Input::Closed(id) => self.on_end(id, SessionInput::TcpFails, now, &mut out),
            Input::SendFailed(id) => {
                if let Some(which) = self.slot_of(id) {
                    self.feed(which, SessionInput::TcpFails, now, &mut out);
                }
            }
            Input::Imported { conn, held, family } => {
                self.check_max_prefixes(conn, held, family, now, &mut out);
            }
            Input::Tick => self.tick(now, &mut out),
        }
        out
    }

    /// When to feed [`Input::Tick`] next: the earliest timer or deadline (none once the peer
    /// was shut down or removed).
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        let slots = std::iter::once(&self.primary).chain(self.candidate.as_ref());
        slots
            .flat_map(|s| s.timers.values().copied())
            .chain(self.restart_at)
            .chain(self.helper.deadlines())
            .chain(self.loser.map(|l| l.until))
            .min()
    }

    /// The peer's key.
    pub fn key(&self) -> &PeerKey {
        &self.key
    }

    /// The peer's state: its primary session's.
    pub fn state(&self) -> State {
        self.primary.session.state()
    }

    /// What the session on `conn` negotiated, once its OPEN exchange is done.
    pub fn negotiated(&self, conn: ConnId) -> Option<Negotiated> {
        self.slot(self.slot_of(conn)?)?.session.negotiated()
    }

    /// The Established session's connection and what it negotiated.
    pub fn established(&self) -> Option<(ConnId, Negotiated)> {
        if self.state() != State::Established {
            return None;
        }
        Some((self.primary.conn?.id, self.primary.session.negotiated()?))
    }

    /// The longest message a session accepts on `conn` (Extended Message, RFC 8654, raises it);
    /// `None` for a connection no session runs on (a collision's loser, or one closed).
    pub fn max_message_len(&self, conn: ConnId) -> Option<usize> {
        self.slot_of(conn)?;
        let extended = self.negotiated(conn).is_some_and(|n| n.extended_message);
        Some(if extended {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        })
    }

    /// The speaker stops: close every session with Cease/2 (carrying `message` as its Shutdown
    /// Communication, RFC 9003); or, with graceful restart, close the connections without a
    /// NOTIFICATION, so that peers keep our routes (stale) while the kernel keeps forwarding,
    /// until we are back or our restart time runs out (RFC 4724).
    fn shutdown(&mut self, message: Option<String>, now: Instant, out: &mut Vec<Output>) {
        self.stopped = true;
        if self.config.open.graceful_restart.is_some() {
            let slots = std::iter::once(&mut self.primary).chain(self.candidate.as_mut());
            out.extend(
                slots
                    .filter_map(|s| s.conn.take())
                    .map(|c| Output::Close(c.id)),
            );
            return;
        }
        let stop = || match &message {
            Some(m) => SessionInput::Stop(NotificationMsg::administrative_shutdown(m)),
            None => SessionInput::ManualStop,
        };
        if self.candidate.is_some() {
            self.feed(Which::Candidate, stop(), now, out);
        }
        self.feed(Which::Primary, stop(), now, out);
    }

    /// The peer leaves the configuration: Cease/3 or /6 on its sessions, and its routes go,
    /// stale ones included.
    fn remove(&mut self, why: Removal, now: Instant, out: &mut Vec<Output>) {
        self.stopped = true;
        let cease = NotificationMsg {
            code: ErrorCode::Cease as u8,
            subcode: why.subcode(),
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
        if let Some(loser) = self.loser.take() {
            out.push(Output::Close(loser.conn));
        }
        self.held.clear();
        self.helper.forget();
        out.push(Output::DropRoutes);
    }

    /// RFC 4486: more accepted prefixes than allowed close the session with Cease/1 naming the
    /// family whose UPDATE crossed the limit, and the peer is held down (inbound connections
    /// too) for [`MAX_PREFIX_HOLD_DOWN`].
    fn check_max_prefixes(
        &mut self,
        id: ConnId,
        held: usize,
        (afi, safi): (u16, u8),
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let (Some(max), Some(which)) = (self.max_prefixes, self.slot_of(id)) else {
            return;
        };
        if held > max as usize {
            warn!(peer = %self.key, held, max, afi, safi,
                "maximum prefixes exceeded: closing the session");
            self.retry.hold_down();
            // RFC 4486 §4: data = AFI (2), SAFI (1), the limit (4).
            let mut data = afi.to_be_bytes().to_vec();
            data.push(safi);
            data.extend_from_slice(&max.to_be_bytes());
            let cease = NotificationMsg {
                code: ErrorCode::Cease as u8,
                subcode: cease_subcode::MAX_PREFIXES,
                data,
            };
            self.feed(which, SessionInput::Stop(cease), now, out);
        }
    }

    /// Everything due by `now`: graceful-restart deadlines, the lingering loser, the automatic
    /// restart, then the sessions' timers in the order they expired.
    fn tick(&mut self, now: Instant, out: &mut Vec<Output>) {
        out.extend(self.helper.expire(&self.key, now));
        if self.loser.is_some_and(|l| l.until <= now) {
            self.release_loser(true, now, out);
        }
        if self.transport.up && self.restart_at.is_some_and(|t| t <= now) {
            self.restart_at = None;
            // Event 3: AutomaticStart.
            self.feed(Which::Primary, SessionInput::ManualStart, now, out);
        }
        for which in [Which::Primary, Which::Candidate] {
            let mut expired: Vec<(Instant, u8, Timer)> = match self.slot(which) {
                Some(s) => s
                    .timers
                    .iter()
                    .filter(|(_, at)| **at <= now)
                    .map(|(timer, at)| (*at, *timer as u8, *timer))
                    .collect(),
                None => continue,
            };
            expired.sort_unstable_by_key(|(at, rank, _)| (*at, *rank));
            for (_, _, timer) in expired {
                if let Some(s) = self.slot_mut(which) {
                    s.timers.remove(&timer);
                }
                if which == Which::Primary && timer == Timer::ConnectRetry && self.attempting() {
                    // Event 9 with our attempt still unanswered: the peer's side dropped the
                    // SYN silently (a firewall, a wrong TCP MD5 key). That attempt failed as
                    // surely as a refused one, so the next wait doubles too.
                    self.retry.failed();
                }
                self.feed(which, SessionInput::TimerExpired(timer), now, out);
            }
        }
    }

    /// Our graceful-restart options for a new session: the Restart State bit only until the
    /// first session after our start is up.
    fn session_config(&self) -> SessionConfig {
        let mut config = self.config.clone();
        if let Some(gr) = config.open.graceful_restart.as_mut() {
            if self.established.is_some() {
                gr.restarting = false;
            }
        }
        config
    }

    /// Whether our connection attempt is in flight: Connect, with no connection yet (a failed
    /// attempt moves the session to Active, RFC 4271 §8.2.2 Event 18).
    fn attempting(&self) -> bool {
        self.primary.session.state() == State::Connect && self.primary.conn.is_none()
    }

    fn slot_of(&self, id: ConnId) -> Option<Which> {
        if self.primary.runs_on(id) {
            Some(Which::Primary)
        } else if self.candidate.as_ref().is_some_and(|s| s.runs_on(id)) {
            Some(Which::Candidate)
        } else {
            None
        }
    }

    fn slot(&self, which: Which) -> Option<&Slot> {
        match which {
            Which::Primary => Some(&self.primary),
            Which::Candidate => self.candidate.as_ref(),
        }
    }

    fn slot_mut(&mut self, which: Which) -> Option<&mut Slot> {
        match which {
            Which::Primary => Some(&mut self.primary),
            Which::Candidate => self.candidate.as_mut(),
        }
    }
}

/// Bits of the key and the index, so that peers' jitter differs.
fn jitter_seed(key: &PeerKey, index: u64) -> u64 {
    let bits = match key {
        PeerKey::Address(IpAddr::V4(a)) => u64::from(u32::from(*a)),
        PeerKey::Address(IpAddr::V6(a)) => u128::from(*a) as u64,
        // FNV-1a of the name.
        PeerKey::Interface(name) => name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }),
    };
    bits ^ (index.wrapping_add(1) << 32) ^ 0x9e37_79b9_7f4a_7c15
}
