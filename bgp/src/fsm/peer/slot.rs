//! The parts a peer is made of: connection slots (a session FSM, its connection and its timers)
//! and the loser of a collision while it lingers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::fsm::{Session, SessionConfig, Timer};

/// A connection, as the driver numbers them (unique within one peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// A connection a slot runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Conn {
    pub id: ConnId,
    /// We initiated it (RFC 4271 §6.8 keeps one connection by direction).
    pub outbound: bool,
}

/// A session and its connection, if it has one.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub session: Session,
    pub conn: Option<Conn>,
    /// When each running timer expires.
    pub timers: HashMap<Timer, Instant>,
}

impl Slot {
    pub fn new(config: SessionConfig) -> Self {
        Self {
            session: Session::new(config),
            conn: None,
            timers: HashMap::new(),
        }
    }

    /// Whether this slot runs on `id`.
    pub fn runs_on(&self, id: ConnId) -> bool {
        self.conn.is_some_and(|c| c.id == id)
    }
}

/// Which slot an input is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Which {
    /// The session that counts: its state is the peer's.
    Primary,
    /// The second connection of a collision, until §6.8 decides.
    Candidate,
}

/// How long the losing connection of a collision stays open (silent) at most, waiting for the
/// peer, which resolves the same collision the same way, to close it first.
pub const COLLISION_LINGER: Duration = Duration::from_secs(1);

/// The losing connection of a collision, until the peer closes it or `until` passes.
///
/// FRR 8.4 tears down the session it has just established when the connection it dropped in
/// the collision goes away afterwards (its stub connection is deleted after the peer transfer),
/// and likewise when we close that connection first: about one collision in twenty flapped.
/// So the loser is left for the peer to close, and until it is gone the winner's inputs are
/// held back: our KEEPALIVE, which establishes the session at the peer, waits for the peer to
/// have finished with the loser.
#[derive(Debug, Clone, Copy)]
pub(super) struct Loser {
    pub conn: ConnId,
    pub until: Instant,
    /// Whether the winner's inputs wait for the loser to go (not when it was already up).
    pub hold: bool,
}
