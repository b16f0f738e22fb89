//! One peer's task: runs the FSM for its connection(s), timers, advertisement and the RIB feed.
//! Connections and collisions are in `connections.rs`, receiving (import, graceful-restart
//! helper) in `receive.rs`, sending in `send.rs`, timers and back-off in `timers.rs`.

mod connections;
mod receive;
mod report;
mod send;
mod timers;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
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
    encode, header_subcode, CodecContext, DecodeError, ErrorCode, Message, MAX_MESSAGE_LEN,
};
use connections::connect;
use timers::sleep_until;

/// Commands the agent sends a peer task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerCommand {
    /// Ask the peer to send its routes again (ROUTE-REFRESH, RFC 2918).
    RequestRefresh,
}

/// How long one TCP connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
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
    /// The connection that lost a collision, until the peer closes it.
    loser: Option<connections::Loser>,
    /// What the winner received while the loser lingered (see [`connections::Loser`]).
    held: VecDeque<Input>,
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
            loser: None,
            held: VecDeque::new(),
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
            // The loser of a collision, or a connection already closed.
            self.on_loser_event(id, &event).await;
            return;
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
        if which == Which::Primary && self.holding() {
            self.held.push_back(input);
            return;
        }
        self.feed(which, input).await;
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
