//! One peer's task: runs the FSM for its connection(s), timers, advertisement and the RIB feed.
//! Receiving (import, graceful-restart helper) is in `receive.rs`, sending in `send.rs`.

mod receive;
mod report;
mod send;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::conn::{Conn, ConnEvent};
use super::speaker::{PeerConfig, Shared};
use super::status::PeerState;
use crate::fsm::{
    GrOptions, Input, Negotiated, OpenOptions, Output, Session, SessionConfig, Timer,
};
use crate::wire::{
    encode, header_subcode, CodecContext, DecodeError, ErrorCode, Message, NotificationMsg,
    MAX_MESSAGE_LEN,
};

/// Commands the agent sends a peer task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerCommand {
    /// Ask the peer to send its routes again (ROUTE-REFRESH, RFC 2918).
    RequestRefresh,
}

/// Cease subcode 7, Connection Collision Resolution (RFC 4486).
const CEASE_COLLISION: u8 = 7;
/// Connect-retry doubles after each failed attempt, up to this many times...
const MAX_BACKOFF_DOUBLINGS: u32 = 5;
/// ...and to no more than this (unless connect_retry itself is longer).
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long one TCP connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the losing connection of a collision stays open (silent) before we close it, so
/// the peer, which resolves the same collision the same way, closes it first. FRR (8.4) closes
/// the session it keeps when the connection it is about to drop is already gone (it loses the
/// race in its peer transfer and tears both down), so an immediate close costs a flap.
const COLLISION_LINGER: Duration = Duration::from_secs(2);
/// How long a session closed for too many prefixes stays down before it is retried.
const MAX_PREFIX_BACKOFF: Duration = Duration::from_secs(30);

/// A session and its connection, if it has one.
#[derive(Debug)]
struct Slot {
    session: Session,
    conn: Option<Conn>,
    timers: HashMap<Timer, Instant>,
}

/// Which slot an input is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Primary,
    Candidate,
}

/// What woke the task up.
enum Wake {
    Stop,
    Inbound(TcpStream),
    Conn(u64, ConnEvent),
    Connected(std::io::Result<TcpStream>),
    Timer,
    Prefixes,
    Command(PeerCommand),
}

/// The task behind one configured peer.
pub(super) struct PeerTask {
    cfg: PeerConfig,
    shared: Arc<Shared>,
    inbound: mpsc::Receiver<TcpStream>,
    commands: mpsc::Receiver<PeerCommand>,
    prefixes: watch::Receiver<Vec<IpNet>>,
    stop: watch::Receiver<bool>,
    events_tx: mpsc::Sender<(u64, ConnEvent)>,
    events_rx: mpsc::Receiver<(u64, ConnEvent)>,
    primary: Slot,
    /// The second connection of a collision, until §6.8 decides (RFC 4271).
    candidate: Option<Slot>,
    connecting: Option<JoinHandle<std::io::Result<TcpStream>>>,
    restart_at: Option<Instant>,
    next_id: u64,
    rng: u64,
    advertised: Vec<IpNet>,
    /// What the primary session negotiated, kept past its fall to Idle.
    established: Option<Negotiated>,
    /// Graceful-restart helper: drop the peer's stale routes at this time unless it is back.
    gr_restart_deadline: Option<Instant>,
    /// Graceful-restart helper: drop stale routes the peer has not refreshed by this time.
    gr_stale_deadline: Option<Instant>,
    /// A longer wait before the next automatic start (after a max-prefix teardown).
    backoff: Option<Duration>,
    /// Until then, inbound connections are refused too.
    hold_down_until: Option<Instant>,
    /// Attempts that failed since the last Established session (connect-retry back-off).
    failures: u32,
    /// Prefixes the peer announced that the import policy refused (for the received count).
    refused: (HashSet<ipnet::Ipv4Net>, HashSet<ipnet::Ipv6Net>),
    /// UPDATEs of the current session repaired per RFC 7606 (only the first is logged at warn).
    recovered: u64,
}

impl PeerTask {
    /// A task for `cfg`; `index` seeds its connect-retry jitter.
    pub fn new(cfg: PeerConfig, index: u64, shared: Arc<Shared>, channels: PeerChannels) -> Self {
        let PeerChannels {
            inbound,
            commands,
            prefixes,
            stop,
        } = channels;
        let (events_tx, events_rx) = mpsc::channel(64);
        let addr_bits = match cfg.address {
            IpAddr::V4(a) => u64::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a) as u64,
        };
        let seed = addr_bits ^ (index.wrapping_add(1) << 32) ^ 0x9e37_79b9_7f4a_7c15;
        let primary = Slot::new(session_config(&cfg, &shared, shared.graceful_restart));
        Self {
            cfg,
            shared,
            inbound,
            commands,
            prefixes,
            stop,
            events_tx,
            events_rx,
            primary,
            candidate: None,
            connecting: None,
            restart_at: None,
            next_id: 0,
            rng: seed,
            advertised: Vec::new(),
            established: None,
            gr_restart_deadline: None,
            gr_stale_deadline: None,
            backoff: None,
            hold_down_until: None,
            failures: 0,
            refused: (HashSet::new(), HashSet::new()),
            recovered: 0,
        }
    }

    /// Run until the speaker stops.
    pub async fn run(mut self) {
        self.feed(Which::Primary, Input::ManualStart).await;
        loop {
            match self.wait().await {
                // RFC 4724: with graceful restart the speaker leaves without a NOTIFICATION,
                // so peers keep our routes (stale) while the kernel keeps forwarding, until we
                // are back or our restart time runs out: an upgrade withdraws nothing.
                Wake::Stop if self.shared.graceful_restart.is_some() => {
                    let slots = std::iter::once(&mut self.primary).chain(self.candidate.as_mut());
                    let conns: Vec<Conn> = slots.filter_map(|s| s.conn.take()).collect();
                    for conn in conns {
                        conn.close().await;
                    }
                    return;
                }
                Wake::Stop => {
                    if self.candidate.is_some() {
                        self.feed(Which::Candidate, Input::ManualStop).await;
                    }
                    self.feed(Which::Primary, Input::ManualStop).await;
                    return;
                }
                Wake::Inbound(stream) => self.on_inbound(stream).await,
                Wake::Conn(id, event) => self.on_conn_event(id, event).await,
                Wake::Connected(result) => self.on_connected(result).await,
                Wake::Timer => self.on_timers().await,
                Wake::Prefixes => self.readvertise().await,
                Wake::Command(PeerCommand::RequestRefresh) => self.request_refresh().await,
            }
        }
    }

    async fn wait(&mut self) -> Wake {
        let deadline = self.next_deadline();
        let connecting = &mut self.connecting;
        tokio::select! {
            _ = self.stop.changed() => Wake::Stop,
            Some(stream) = self.inbound.recv() => Wake::Inbound(stream),
            Some(cmd) = self.commands.recv() => Wake::Command(cmd),
            Some((id, ev)) = self.events_rx.recv() => Wake::Conn(id, ev),
            res = async {
                match connecting.as_mut() {
                    Some(h) => h.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
                    None => std::future::pending().await,
                }
            } => {
                self.connecting = None;
                Wake::Connected(res)
            }
            _ = sleep_until(deadline) => Wake::Timer,
            Ok(()) = self.prefixes.changed() => Wake::Prefixes,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let slots = std::iter::once(&self.primary).chain(self.candidate.as_ref());
        slots
            .flat_map(|s| s.timers.values().copied())
            .chain(self.restart_at)
            .chain(self.gr_restart_deadline)
            .chain(self.gr_stale_deadline)
            .min()
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
        self.gr_timers(now);
        if self.restart_at.is_some_and(|t| t <= now) {
            self.restart_at = None;
            // AutomaticStart after a session went down (RFC 4271 §8.1.1 Event 3).
            self.feed(Which::Primary, Input::ManualStart).await;
        }
        for which in [Which::Primary, Which::Candidate] {
            let expired: Vec<Timer> = match self.slot(which) {
                Some(s) => s
                    .timers
                    .iter()
                    .filter(|(_, t)| **t <= now)
                    .map(|(k, _)| *k)
                    .collect(),
                None => continue,
            };
            for timer in expired {
                if let Some(s) = self.slot_mut(which) {
                    s.timers.remove(&timer);
                }
                self.feed(which, Input::TimerExpired(timer)).await;
            }
        }
    }

    async fn on_inbound(&mut self, stream: TcpStream) {
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
                let mut slot =
                    Slot::new(session_config(&self.cfg, &self.shared, self.gr_options()));
                slot.conn = Some(conn);
                self.candidate = Some(slot);
                self.feed(Which::Candidate, Input::PassiveStart).await;
                self.feed(Which::Candidate, Input::TcpConnected).await;
            }
            // Established (or a collision already being resolved): refuse the newcomer.
            _ => refuse(conn, CodecContext::default()).await,
        }
    }

    async fn on_connected(&mut self, result: std::io::Result<TcpStream>) {
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
                    let mut slot =
                        Slot::new(session_config(&self.cfg, &self.shared, self.gr_options()));
                    slot.conn = Some(conn);
                    self.candidate = Some(slot);
                    self.feed(Which::Candidate, Input::PassiveStart).await;
                    self.feed(Which::Candidate, Input::TcpConnected).await;
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

    async fn on_conn_event(&mut self, id: u64, event: ConnEvent) {
        let which = if self.primary.conn.as_ref().is_some_and(|c| c.id == id) {
            Which::Primary
        } else if self
            .candidate
            .as_ref()
            .and_then(|s| s.conn.as_ref())
            .is_some_and(|c| c.id == id)
        {
            Which::Candidate
        } else {
            return; // a connection already closed
        };
        let input = match event {
            ConnEvent::Message { len, .. } if len > self.max_len(which) => {
                // Only Extended Message (RFC 8654) allows more than 4096 octets (§6.1: 1/2).
                let field = u16::try_from(len).unwrap_or(u16::MAX);
                Input::BadMessage(DecodeError::new(
                    ErrorCode::MessageHeader,
                    header_subcode::BAD_MESSAGE_LENGTH,
                    field.to_be_bytes().to_vec(),
                    "message longer than 4096 octets without Extended Message",
                ))
            }
            ConnEvent::Message { result, .. } => match result {
                Ok(message) => {
                    self.count(false, &message);
                    if let Message::Notification(n) = &message {
                        warn!(peer = %self.cfg.address, code = n.code, subcode = n.subcode,
                            "received NOTIFICATION");
                    }
                    Input::Message(message)
                }
                Err(e) => Input::BadMessage(e),
            },
            ConnEvent::BadFrame(e) => Input::BadMessage(e),
            ConnEvent::Closed(reason) => {
                debug!(peer = %self.cfg.address, %reason, "connection closed");
                Input::TcpFails
            }
        };
        // RFC 4271 §6.8: with two connections, the OPEN decides which one survives, before
        // it is answered (a KEEPALIVE on the losing connection would establish it at the peer).
        let which = match &input {
            Input::Message(Message::Open(open)) if self.candidate.is_some() => {
                match self.resolve_collision(which, open.router_id).await {
                    Some(w) => w,
                    None => return,
                }
            }
            _ => which,
        };
        self.feed(which, input).await;
    }

    /// Keep the connection initiated by the side with the higher BGP identifier; close the other
    /// with Cease/7. Returns where the OPEN that triggered this should go, if anywhere.
    async fn resolve_collision(&mut self, receiving: Which, remote_id: Ipv4Addr) -> Option<Which> {
        let candidate = self.candidate.take()?;
        let keep_outbound = u32::from(self.shared.router_id) > u32::from(remote_id);
        let primary_outbound = self.primary.conn.as_ref().is_some_and(|c| c.outbound);
        let primary_wins = self.primary.session.state() == PeerState::Established
            || primary_outbound == keep_outbound;
        let ctx = self.ctx(Which::Primary);
        if primary_wins {
            debug!(peer = %self.cfg.address, "collision: keeping the existing connection");
            if let Some(conn) = candidate.conn {
                linger_then_refuse(conn, CodecContext::default());
            }
            return (receiving == Which::Primary).then_some(Which::Primary);
        }
        debug!(peer = %self.cfg.address, "collision: keeping the connection the peer initiated");
        let old = std::mem::replace(&mut self.primary, candidate);
        if let Some(conn) = old.conn {
            linger_then_refuse(conn, ctx);
        }
        self.set_state();
        (receiving == Which::Candidate).then_some(Which::Primary)
    }

    /// Feed one input to a slot's FSM and carry out the outputs (and any inputs they cause).
    async fn feed(&mut self, which: Which, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let was = self.slot(which).map(|s| s.session.state());
            let outputs = match self.slot_mut(which) {
                Some(slot) => slot.session.handle(input),
                None => return,
            };
            for out in outputs {
                if let Some(follow_up) = self.apply(which, was, out).await {
                    queue.push_back(follow_up);
                }
            }
        }
        if which == Which::Candidate
            && self
                .slot(which)
                .is_some_and(|s| s.session.state() == PeerState::Idle)
        {
            self.candidate = None; // a failed candidate just disappears
        }
        self.set_state();
    }

    async fn apply(&mut self, which: Which, was: Option<PeerState>, out: Output) -> Option<Input> {
        let ctx = self.ctx(which);
        match out {
            Output::Connect => {
                let addr = SocketAddr::new(self.cfg.address, self.cfg.port);
                let local = self.cfg.local_address;
                let password = self.cfg.password.clone();
                if let Some(h) = self.connecting.take() {
                    h.abort();
                }
                self.connecting = Some(tokio::spawn(async move {
                    tokio::time::timeout(CONNECT_TIMEOUT, connect(addr, local, password))
                        .await
                        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
                }));
            }
            Output::Send(message) => {
                let conn = self.slot_mut(which)?.conn.as_mut()?;
                if conn.send(&encode(&message, ctx)).await.is_err() {
                    return Some(Input::TcpFails);
                }
                self.count(true, &message);
                if let Message::Notification(n) = &message {
                    warn!(peer = %self.cfg.address, code = n.code, subcode = n.subcode, "sent NOTIFICATION");
                }
            }
            Output::Disconnect => {
                if let Some(conn) = self.slot_mut(which)?.conn.take() {
                    conn.close().await;
                }
            }
            Output::StartTimer(timer, after) => {
                let after = if timer == Timer::ConnectRetry {
                    self.retry_delay(after)
                } else {
                    after
                };
                self.slot_mut(which)?
                    .timers
                    .insert(timer, Instant::now() + after);
            }
            Output::StopTimer(timer) => {
                self.slot_mut(which)?.timers.remove(&timer);
            }
            Output::Established(n) => {
                info!(peer = %self.cfg.address, remote_as = n.remote_as, hold = n.hold_time,
                    ipv4 = n.ipv4, ipv6 = n.ipv6, "session established");
                if let Ok(mut status) = self.shared.status.lock() {
                    if let Some(e) = status.get_mut(&self.cfg.address) {
                        e.since = Some(std::time::Instant::now());
                        e.status.established_transitions =
                            e.status.established_transitions.saturating_add(1);
                        e.status.remote_router_id = Some(n.remote_router_id);
                        e.status.families = [(n.ipv4, "ipv4"), (n.ipv6, "ipv6")]
                            .iter()
                            .filter(|(on, _)| *on)
                            .map(|(_, f)| f.to_string())
                            .collect();
                        e.status.session = Some(self.session_info(which, &n));
                    }
                }
                if which == Which::Primary {
                    // A connection of ours completing now would reach a peer that is
                    // Established: FRR takes that as our restart (graceful restart) and drops
                    // the session it has. No second connection is wanted any more.
                    if let Some(h) = self.connecting.take() {
                        h.abort();
                    }
                    self.failures = 0;
                    self.recovered = 0;
                    self.established = Some(n);
                    self.gr_reestablished(n);
                    // The Restart State bit belongs to the first session after our restart.
                    let mut opts = self.open_options();
                    if let Some(gr) = opts.graceful_restart.as_mut() {
                        gr.restarting = false;
                    }
                    self.primary.session.set_open_options(opts);
                }
                self.advertised.clear();
                return self.advertise_all(which, n).await;
            }
            Output::Update(update) => return self.learn(which, &update),
            Output::RouteRefresh(rr) => return self.on_route_refresh(which, rr).await,
            Output::Down(reason) => self.down(which, was, reason),
        }
        None
    }

    /// Largest message this slot's session accepts.
    fn max_len(&self, which: Which) -> usize {
        let extended = self
            .slot(which)
            .and_then(|s| s.session.negotiated())
            .is_some_and(|n| n.extended_message);
        if extended {
            crate::wire::MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    /// Our graceful-restart options for a new session: the Restart State bit only until the
    /// first session after our start is up.
    fn gr_options(&self) -> Option<GrOptions> {
        let mut gr = self.shared.graceful_restart?;
        if self.established.is_some() {
            gr.restarting = false;
        }
        Some(gr)
    }

    fn open_options(&self) -> OpenOptions {
        session_config(&self.cfg, &self.shared, self.gr_options()).open
    }

    fn ctx(&self, which: Which) -> CodecContext {
        let four_octet_as = self
            .slot(which)
            .and_then(|s| s.session.negotiated())
            .is_some_and(|n| n.four_octet_as);
        CodecContext { four_octet_as }
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

    fn new_id(&mut self) -> u64 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// The connect-retry wait after `self.failures` failed attempts: doubled each time (like
    /// BIRD's error wait time), so an absent peer is not hammered; jittered (RFC 4271 §10).
    fn retry_delay(&mut self, base: Duration) -> Duration {
        let doublings = self.failures.min(MAX_BACKOFF_DOUBLINGS);
        let cap = MAX_BACKOFF.max(base);
        self.jitter(base.saturating_mul(1 << doublings).min(cap))
    }

    /// 75-100% of `d` (RFC 4271 §10 jitter), from a per-peer xorshift.
    fn jitter(&mut self, d: Duration) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let fraction = 0.75 + 0.25 * ((self.rng % 1000) as f64 / 1000.0);
        d.mul_f64(fraction)
    }
}

impl Slot {
    fn new(config: SessionConfig) -> Self {
        Self {
            session: Session::new(config),
            conn: None,
            timers: HashMap::new(),
        }
    }
}

/// The channels a peer task listens on.
pub(super) struct PeerChannels {
    /// Inbound connections from this peer's address.
    pub inbound: mpsc::Receiver<TcpStream>,
    /// Commands from the agent.
    pub commands: mpsc::Receiver<PeerCommand>,
    /// The speaker's local prefixes.
    pub prefixes: watch::Receiver<Vec<IpNet>>,
    /// Becomes true when the speaker stops.
    pub stop: watch::Receiver<bool>,
}

fn session_config(cfg: &PeerConfig, shared: &Shared, gr: Option<GrOptions>) -> SessionConfig {
    SessionConfig {
        local_as: shared.local_as,
        remote_as: cfg.remote_as,
        router_id: shared.router_id,
        hold_time: cfg.hold_time,
        keepalive: cfg.keepalive,
        connect_retry: cfg.connect_retry,
        passive: cfg.passive,
        open: OpenOptions {
            ipv4: cfg.families.ipv4,
            ipv6: cfg.families.ipv6,
            graceful_restart: gr,
            hostname: shared.hostname.clone(),
            extended_message: true,
            extended_next_hop: cfg.address.is_ipv6() && cfg.ipv4_next_hop.is_none(),
        },
    }
}

/// Close a connection that lost a collision (or arrived when one is Established): Cease/7.
async fn refuse(mut conn: Conn, ctx: CodecContext) {
    let n = NotificationMsg {
        code: ErrorCode::Cease as u8,
        subcode: CEASE_COLLISION,
        data: vec![],
    };
    let _ = conn.send(&encode(&Message::Notification(n), ctx)).await;
    conn.close().await;
}

/// Close the loser of a collision with Cease/7 after [`COLLISION_LINGER`], unless the peer
/// closes it first. Nothing is read from it or sent on it meanwhile: its events go to an id the
/// peer task no longer knows, so it can never be established.
fn linger_then_refuse(conn: Conn, ctx: CodecContext) {
    tokio::spawn(async move {
        tokio::time::sleep(COLLISION_LINGER).await;
        refuse(conn, ctx).await;
    });
}

/// Connect to `addr`, from `local` when the peer is configured with a source address, signing
/// the segments with `password` (TCP MD5, RFC 2385) from the SYN on when there is one.
async fn connect(
    addr: SocketAddr,
    local: Option<IpAddr>,
    password: Option<super::Password>,
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
        super::md5::set_key(&socket, addr.ip(), password.expose())?;
    }
    socket.connect(addr).await
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
