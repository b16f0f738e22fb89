//! The connections of one peer: inbound ones, our own attempts, and RFC 4271 §6.8 collision
//! resolution when both exist, with the loser closed by Cease/7 (RFC 4486).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;
use tracing::debug;

use super::{session_config, PeerTask, Slot, Which};
use crate::driver::conn::{Conn, ConnEvent};
use crate::driver::status::PeerState;
use crate::fsm::Input;
use crate::wire::{encode, CodecContext, ErrorCode, Message, NotificationMsg};

/// Cease subcode 7, Connection Collision Resolution (RFC 4486).
const CEASE_COLLISION: u8 = 7;
/// How long the losing connection of a collision stays open (silent) at most, waiting for the
/// peer, which resolves the same collision the same way, to close it first.
const COLLISION_LINGER: Duration = Duration::from_secs(1);

/// The losing connection of a collision, until the peer closes it or [`COLLISION_LINGER`] ends.
///
/// FRR 8.4 tears down the session it has just established when the connection it dropped in
/// the collision goes away afterwards (its stub connection is deleted after the peer transfer),
/// and likewise when we close that connection first: about one collision in twenty flapped.
/// So the loser is left for the peer to close, and until it is gone the winner's messages are
/// held back: our KEEPALIVE, which establishes the session at the peer, waits for the peer to
/// have finished with the loser.
#[derive(Debug)]
pub(super) struct Loser {
    conn: Conn,
    until: Instant,
    ctx: CodecContext,
    /// Whether the winner's inputs wait for the loser to go (not when it was already up).
    hold: bool,
}
impl PeerTask {
    pub(super) async fn on_inbound(&mut self, stream: TcpStream) {
        let state = self.primary.session.state();
        let id = self.new_id();
        let conn = match Conn::start(stream, id, false, self.events_tx.clone()) {
            Ok(c) => c,
            Err(e) => {
                return debug!(peer = %self.cfg.address, error = %e, "inbound connection unusable")
            }
        };
        let held_down = self.hold_down_until.is_some_and(|t| Instant::now() < t);
        match state {
            // After a max-prefix teardown the peer waits out the back-off, inbound or not.
            PeerState::Idle if held_down => {
                debug!(peer = %self.cfg.address, "inbound connection refused during back-off");
                conn.close().await;
            }
            PeerState::Idle | PeerState::Connect | PeerState::Active
                if self.primary.conn.is_none() =>
            {
                // Our own attempt, if one is in flight, is kept: aborting it would kill the
                // connection the peer may have adopted, and both sides could do that forever.
                self.restart_at = None;
                if state == PeerState::Idle {
                    self.feed(Which::Primary, Input::PassiveStart).await;
                }
                self.primary.conn = Some(conn);
                self.feed(Which::Primary, Input::TcpConnected).await;
            }
            PeerState::OpenSent | PeerState::OpenConfirm if self.candidate.is_none() => {
                self.start_candidate(conn).await;
            }
            // Established (or a collision already being resolved): refuse the newcomer.
            _ => refuse(conn, CodecContext::default()).await,
        }
    }

    pub(super) async fn on_connected(&mut self, result: std::io::Result<TcpStream>) {
        match result {
            Ok(stream)
                if self.primary.conn.is_none()
                    && self.primary.session.state() == PeerState::Connect =>
            {
                let id = self.new_id();
                match Conn::start(stream, id, true, self.events_tx.clone()) {
                    Ok(conn) => {
                        self.primary.conn = Some(conn);
                        self.feed(Which::Primary, Input::TcpConnected).await;
                    }
                    Err(_) => self.feed(Which::Primary, Input::TcpFails).await,
                }
            }
            // An inbound connection got there first: both live until the OPEN decides (§6.8).
            Ok(stream)
                if self.candidate.is_none()
                    && matches!(
                        self.primary.session.state(),
                        PeerState::OpenSent | PeerState::OpenConfirm
                    ) =>
            {
                let id = self.new_id();
                if let Ok(conn) = Conn::start(stream, id, true, self.events_tx.clone()) {
                    self.start_candidate(conn).await;
                }
            }
            Ok(_) => {}
            Err(e) => {
                debug!(peer = %self.cfg.address, error = %e, "connect failed");
                self.failures = self.failures.saturating_add(1);
                if self.primary.conn.is_none() {
                    self.feed(Which::Primary, Input::TcpFails).await;
                }
            }
        }
    }

    /// Run a second FSM on `conn` until the OPEN decides the collision (§6.8).
    async fn start_candidate(&mut self, conn: Conn) {
        let mut slot = Slot::new(session_config(&self.cfg, &self.shared, self.gr_options()));
        slot.conn = Some(conn);
        self.candidate = Some(slot);
        self.feed(Which::Candidate, Input::PassiveStart).await;
        self.feed(Which::Candidate, Input::TcpConnected).await;
    }

    /// Keep the connection initiated by the side with the higher BGP identifier; close the other
    /// with Cease/7. Returns where the OPEN that triggered this should go, if anywhere.
    pub(super) async fn resolve_collision(
        &mut self,
        receiving: Which,
        remote_id: Ipv4Addr,
    ) -> Option<Which> {
        let candidate = self.candidate.take()?;
        let keep_outbound = u32::from(self.shared.router_id) > u32::from(remote_id);
        let primary_outbound = self.primary.conn.as_ref().is_some_and(|c| c.outbound);
        let primary_wins = self.primary.session.state() == PeerState::Established
            || primary_outbound == keep_outbound;
        let ctx = self.ctx(Which::Primary);
        let hold = self.primary.session.state() != PeerState::Established;
        let (loser, ctx) = if primary_wins {
            debug!(peer = %self.cfg.address, "collision: keeping the existing connection");
            (candidate.conn, CodecContext::default())
        } else {
            debug!(peer = %self.cfg.address, "collision: keeping the connection the peer initiated");
            let old = std::mem::replace(&mut self.primary, candidate);
            self.set_state();
            (old.conn, ctx)
        };
        if let Some(conn) = loser {
            let until = Instant::now() + COLLISION_LINGER;
            if let Some(old) = self.loser.replace(Loser {
                conn,
                until,
                ctx,
                hold,
            }) {
                refuse(old.conn, old.ctx).await;
            }
        }
        let trigger_on_winner = (receiving == Which::Primary) == primary_wins;
        trigger_on_winner.then_some(Which::Primary)
    }

    /// An event of a connection no slot has: if it is the end of the lingering loser, the
    /// winner is released. (Its OPEN or the peer's Cease/7 need no answer.)
    pub(super) async fn on_loser_event(&mut self, id: u64, event: &ConnEvent) {
        let ended = matches!(event, ConnEvent::Closed(_) | ConnEvent::BadFrame(_));
        if ended && self.loser.as_ref().is_some_and(|l| l.conn.id == id) {
            self.release_loser(false).await;
        }
    }

    /// Whether the winner's inputs are held until the loser is gone.
    pub(super) fn holding(&self) -> bool {
        self.loser.as_ref().is_some_and(|l| l.hold)
    }

    /// When the lingering loser is closed by us, if it still lingers.
    pub(super) fn loser_deadline(&self) -> Option<Instant> {
        self.loser.as_ref().map(|l| l.until)
    }

    /// End the lingering: close the loser with Cease/7 if `close` (the peer did not), then
    /// hand the winner what it received meanwhile, in order.
    pub(super) async fn release_loser(&mut self, close: bool) {
        let Some(loser) = self.loser.take() else {
            return;
        };
        if close {
            debug!(peer = %self.cfg.address, "collision: the peer left the losing connection open");
            refuse(loser.conn, loser.ctx).await;
        }
        while let Some(input) = self.held.pop_front() {
            self.feed(Which::Primary, input).await;
        }
    }
}

/// Close a connection that lost a collision (or arrived when one is Established): Cease/7.
pub(super) async fn refuse(mut conn: Conn, ctx: CodecContext) {
    let n = NotificationMsg {
        code: ErrorCode::Cease as u8,
        subcode: CEASE_COLLISION,
        data: vec![],
    };
    let _ = conn.send(&encode(&Message::Notification(n), ctx)).await;
    conn.close().await;
}

/// Connect to `addr`, from `local` when the peer is configured with a source address, signing
/// the segments with `password` (TCP MD5, RFC 2385) from the SYN on when there is one.
pub(super) async fn connect(
    addr: SocketAddr,
    local: Option<IpAddr>,
    password: Option<crate::driver::Password>,
) -> std::io::Result<TcpStream> {
    let socket = if addr.is_ipv6() {
        tokio::net::TcpSocket::new_v6()?
    } else {
        tokio::net::TcpSocket::new_v4()?
    };
    if let Some(local) = local {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    if let Some(password) = &password {
        crate::driver::md5::set_key(&socket, addr.ip(), password.expose())?;
    }
    socket.connect(addr).await
}
