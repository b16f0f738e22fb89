//! One peer's task: the thin driver of its [`Peer`] machine. It turns socket events, timer
//! wake-ups and commands into the machine's inputs and carries out its outputs: connections
//! here, the RIB feed in `receive.rs`, advertisement in `send.rs`, the status in `report.rs`.
//! Every protocol decision (collisions, graceful-restart deadlines, hold-down, back-off) is the
//! machine's.

mod follow;
mod import;
mod receive;
mod reconfigure;
mod reflect;
mod report;
mod send;

pub use reconfigure::{ImportApplied, PeerUpdate};

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::adj_out::{AdjRibOut, OurRoutes};
use super::config::{Announced, PeerConfig};
use super::conn::{dial, Conn, ConnEvent};
use super::link::{Hint, LinkHandle};
use super::shared::Shared;
use crate::fsm::peer::{ConnId, Input, Output, Peer, Removal};
use crate::fsm::{OpenOptions, SessionConfig, State};
use crate::rib::PeerId;
use crate::wire::{
    cease_subcode, encode, header_subcode, CodecContext, DecodeError, ErrorCode, Message,
    NotificationMsg,
};

/// Commands for a peer task.
#[derive(Debug)]
pub(super) enum PeerCommand {
    /// Ask the peer to send its routes again (ROUTE-REFRESH, RFC 2918).
    RequestRefresh,
    /// Close the sessions with Cease/3 or /6, withdraw the peer's routes and end the task.
    Remove(Removal),
    /// Take a configuration whose session part is unchanged: apply its import and export to the
    /// running session, and say what that took.
    Reconfigure(Box<PeerConfig>, tokio::sync::oneshot::Sender<PeerUpdate>),
    /// The peer's BFD session changed (RFC 5882): fed to the machine as is.
    Bfd(BfdSignal),
}

/// What the agent's BFD tells a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BfdSignal {
    /// The BFD session fell from Up for a path failure: [`Input::BfdDown`].
    Down {
        /// The remote's last C bit (RFC 5880 §4.1).
        remote_control_plane_independent: bool,
    },
    /// The BFD session is Up: [`Input::BfdUp`].
    Up,
}

/// How long one TCP connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The channels a peer task listens on.
#[derive(Debug)]
pub(super) struct PeerChannels {
    /// Inbound connections from this peer.
    pub inbound: mpsc::Receiver<TcpStream>,
    /// Commands from the speaker's handle.
    pub commands: mpsc::Receiver<PeerCommand>,
    /// The speaker's local prefixes.
    pub prefixes: watch::Receiver<Vec<IpNet>>,
    /// The prefixes announced through the agent's API.
    pub announced: watch::Receiver<Arc<BTreeMap<IpNet, Announced>>>,
    /// Becomes true when the speaker stops.
    pub stop: watch::Receiver<bool>,
    /// The head of the RIB's reflection log, for a peer that is sent reflected routes.
    pub reflected: Option<watch::Receiver<u64>>,
}

/// What woke the task up.
enum Wake {
    Stop,
    Link,
    Inbound(TcpStream),
    Conn(ConnId, ConnEvent),
    Connected(std::io::Result<TcpStream>),
    Timer,
    Prefixes,
    Reflected,
    Command(PeerCommand),
}

/// The task behind one configured peer.
pub(super) struct PeerTask {
    cfg: PeerConfig,
    /// The speaker's number for the peer: its key in the RIB.
    id: PeerId,
    /// Where its sessions run to: the configured address, or an interface peer's neighbour
    /// (none while it has none).
    remote: Option<IpAddr>,
    /// The interface the sessions run over, when known: a link-local address's zone, and the
    /// interface of link-local next hops.
    ifindex: Option<u32>,
    /// An interface peer's neighbour discovery.
    link: Option<LinkHandle>,
    shared: Arc<Shared>,
    machine: Peer,
    channels: PeerChannels,
    conns: HashMap<ConnId, Conn>,
    events_tx: mpsc::Sender<(ConnId, ConnEvent)>,
    events_rx: mpsc::Receiver<(ConnId, ConnEvent)>,
    connecting: Option<JoinHandle<std::io::Result<TcpStream>>>,
    next_id: u64,
    /// What the Established session was sent (Adj-RIB-Out).
    advertised: AdjRibOut,
    /// Our routes `advertised` was last computed from (announcements can then be sent as a
    /// delta).
    sent_from: OurRoutes,
    /// Prefixes the peer announced that the import policy refused (for the received count).
    refused: (HashSet<ipnet::Ipv4Net>, HashSet<ipnet::Ipv6Net>),
    /// UPDATEs of the current session repaired per RFC 7606 (only the first is logged at warn).
    recovered: u64,
    /// What this peer was sent of the reflected routes, when it is sent any.
    reflect_out: Option<reflect::ReflectOut>,
    /// UPDATEs of the current session with routes ignored for their next hop (likewise).
    ignored_logged: u64,
}

impl PeerTask {
    /// A task for `cfg`; `index` seeds its connect-retry jitter.
    pub fn new(cfg: PeerConfig, index: u64, shared: Arc<Shared>, channels: PeerChannels) -> Self {
        let (events_tx, events_rx) = mpsc::channel(64);
        let session = session_config(&cfg, &shared);
        let machine = Peer::new(cfg.peer.clone(), session, cfg.max_prefixes, index);
        let link = cfg.peer.interface().map(LinkHandle::spawn);
        Self {
            id: PeerId(index),
            remote: cfg.peer.address(),
            ifindex: None,
            link,
            cfg,
            shared,
            machine,
            channels,
            conns: HashMap::new(),
            events_tx,
            events_rx,
            connecting: None,
            next_id: 0,
            advertised: AdjRibOut::new(),
            sent_from: OurRoutes::default(),
            refused: (HashSet::new(), HashSet::new()),
            recovered: 0,
            reflect_out: None,
            ignored_logged: 0,
        }
        .with_reflection()
    }

    /// Run until the speaker stops or the peer is removed.
    pub async fn run(mut self) {
        if let Some(wait) = self.cfg.wait_for_bfd {
            self.machine.wait_for_bfd(Instant::now().into_std() + wait);
        }
        if let Some(link) = &mut self.link {
            // An interface peer waits for its neighbour.
            let view = link.view.borrow_and_update().clone();
            self.show_link(&view);
            let why = view.waiting.unwrap_or_default();
            self.process(Input::TransportDown(why)).await;
        }
        self.process(Input::Start).await;
        loop {
            match self.wait().await {
                Wake::Stop => {
                    let message = self.shared.shutdown_communication();
                    return self.process(Input::Shutdown(message)).await;
                }
                Wake::Link => self.on_link().await,
                Wake::Command(PeerCommand::Remove(why)) => {
                    info!(peer = %self.cfg.peer, ?why, "peer removed from the configuration");
                    return self.process(Input::Remove(why)).await;
                }
                Wake::Command(PeerCommand::RequestRefresh) => {
                    self.request_refresh().await;
                }
                Wake::Command(PeerCommand::Bfd(signal)) => {
                    let input = match signal {
                        BfdSignal::Down {
                            remote_control_plane_independent,
                        } => Input::BfdDown {
                            remote_control_plane_independent,
                        },
                        BfdSignal::Up => Input::BfdUp,
                    };
                    self.process(input).await;
                    self.set_state();
                }
                Wake::Command(PeerCommand::Reconfigure(config, done)) => {
                    let update = self.reconfigure(*config).await;
                    let _ = done.send(update);
                }
                Wake::Inbound(stream) => self.on_inbound(stream).await,
                Wake::Conn(id, event) => self.on_conn_event(id, event).await,
                Wake::Connected(result) => self.on_connected(result).await,
                Wake::Timer => self.process(Input::Tick).await,
                Wake::Prefixes => {
                    self.readvertise(false).await;
                }
                Wake::Reflected => self.reflect_changes().await,
            }
        }
    }

    async fn wait(&mut self) -> Wake {
        let deadline = self.machine.next_deadline().map(Instant::from_std);
        let connecting = &mut self.connecting;
        let ch = &mut self.channels;
        let link = self.link.as_mut().map(|l| &mut l.view);
        tokio::select! {
            _ = ch.stop.changed() => Wake::Stop,
            Some(Ok(())) = async {
                match link {
                    Some(view) => Some(view.changed().await),
                    None => std::future::pending().await,
                }
            } => Wake::Link,
            Some(stream) = ch.inbound.recv() => Wake::Inbound(stream),
            Some(cmd) = ch.commands.recv() => Wake::Command(cmd),
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
            Ok(()) = ch.prefixes.changed() => Wake::Prefixes,
            Ok(()) = ch.announced.changed() => Wake::Prefixes,
            Ok(()) = async {
                match ch.reflected.as_mut() {
                    Some(r) => r.changed().await,
                    None => std::future::pending().await,
                }
            } => Wake::Reflected,
        }
    }

    /// Feed one input to the machine and carry out its outputs, then any inputs they cause
    /// (a failed write, an imported UPDATE).
    async fn process(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let state = self.machine.state();
            let outputs = self.machine.process(Instant::now().into_std(), input);
            let changed = !outputs.is_empty() || state != self.machine.state();
            let mut stale_moved = false;
            for output in outputs {
                stale_moved |= matches!(
                    output,
                    Output::Established(..)
                        | Output::MarkStale
                        | Output::SweepStale(_)
                        | Output::DropRoutes
                );
                if let Some(follow_up) = self.apply(output).await {
                    queue.push_back(follow_up);
                }
            }
            if stale_moved {
                self.publish_stale();
            }
            if changed {
                self.set_state();
            }
            let now = self.machine.state();
            if (state == State::Established) != (now == State::Established) {
                if let Some(link) = &self.link {
                    link.hint(Hint::Established(now == State::Established));
                }
            }
        }
    }

    async fn apply(&mut self, output: Output) -> Option<Input> {
        match output {
            Output::Connect => self.connect(),
            Output::CancelConnect => {
                if let Some(h) = self.connecting.take() {
                    h.abort();
                }
            }
            Output::Send(id, message) => return self.send(id, message).await,
            Output::Close(id) => {
                if let Some(conn) = self.conns.remove(&id) {
                    conn.close().await;
                }
            }
            Output::Refuse(id) => {
                if let Some(conn) = self.conns.remove(&id) {
                    refuse(conn).await;
                }
            }
            Output::Established(id, n) => return self.on_established(id, n).await,
            Output::Update(id, update) => return self.learn(id, &update),
            Output::RouteRefresh(id, rr) => return self.on_route_refresh(id, rr).await,
            Output::Down(reason) => self.down(reason),
            Output::MarkStale => {
                let id = self.id;
                self.with_rib(|rib| {
                    rib.mark_stale(id, None);
                    Vec::new()
                });
            }
            Output::SweepStale(family) => {
                let id = self.id;
                self.with_rib(|rib| rib.sweep_stale(id, family));
            }
            Output::DropRoutes => {
                let id = self.id;
                self.with_rib(|rib| rib.peer_down(id));
            }
        }
        None
    }

    async fn on_inbound(&mut self, stream: TcpStream) {
        if !self.accepts(&stream) {
            return;
        }
        if let Some(ttl) = self.ttl() {
            // Before anything is sent on it: our OPEN leaves with the peer's TTL, and with
            // GTSM the kernel drops the peer's segments that came from too far.
            let from = stream.peer_addr().map(|a| a.ip());
            if let Err(e) = from.and_then(|from| super::ttl::apply(&stream, from, ttl)) {
                warn!(peer = %self.cfg.peer, error = %e, "cannot set the TTL: connection refused");
                return;
            }
        }
        let id = self.new_id();
        match Conn::start(stream, id, false, self.events_tx.clone()) {
            Ok(conn) => {
                self.conns.insert(id, conn);
                self.process(Input::Inbound(id)).await;
            }
            Err(e) => debug!(peer = %self.cfg.peer, error = %e, "inbound connection unusable"),
        }
    }

    async fn on_connected(&mut self, result: std::io::Result<TcpStream>) {
        let started = result.and_then(|stream| {
            let id = self.new_id();
            Conn::start(stream, id, true, self.events_tx.clone())
        });
        match started {
            Ok(conn) => {
                let id = conn.id;
                self.conns.insert(id, conn);
                self.process(Input::Connected(id)).await;
            }
            Err(e) => {
                debug!(peer = %self.cfg.peer, error = %e, "connect failed");
                self.process(Input::ConnectFailed).await;
            }
        }
    }

    async fn on_conn_event(&mut self, id: ConnId, event: ConnEvent) {
        let input = match event {
            ConnEvent::Message { len, result } => {
                // `None`: the loser of a collision, or a connection already closed.
                let max = self.machine.max_message_len(id);
                match result {
                    // Only Extended Message (RFC 8654) allows more than 4096 octets (§6.1: 1/2).
                    _ if max.is_some_and(|max| len > max) => Input::BadMessage(id, too_long(len)),
                    Ok(message) => {
                        if max.is_some() {
                            self.count(false, &message);
                            if let Message::Notification(n) = &message {
                                match n.shutdown_communication() {
                                    // RFC 9003 §4: the operator sees why (or that the
                                    // message was invalid).
                                    Some(c) => warn!(peer = %self.cfg.peer, code = n.code,
                                        subcode = n.subcode, communication = %c,
                                        "received NOTIFICATION with a shutdown communication"),
                                    None => warn!(peer = %self.cfg.peer, code = n.code,
                                        subcode = n.subcode, "received NOTIFICATION"),
                                }
                            }
                        }
                        Input::Message(id, message)
                    }
                    Err(e) => Input::BadMessage(id, e),
                }
            }
            ConnEvent::BadFrame(e) => Input::BadFrame(id, e),
            ConnEvent::Closed(reason) => {
                debug!(peer = %self.cfg.peer, %reason, "connection closed");
                Input::Closed(id)
            }
        };
        self.process(input).await;
    }

    /// Start our connection attempt, abandoning one still in flight.
    fn connect(&mut self) {
        let Some(remote) = self.remote else {
            return;
        };
        let addr = match (remote, self.ifindex) {
            (IpAddr::V6(a), Some(zone)) if a.is_unicast_link_local() => {
                SocketAddr::V6(SocketAddrV6::new(a, self.cfg.port, 0, zone))
            }
            (a, _) => SocketAddr::new(a, self.cfg.port),
        };
        let local = self.cfg.local_address;
        let password = self.cfg.password.clone();
        let ttl = self.ttl();
        if let Some(h) = self.connecting.take() {
            h.abort();
        }
        self.connecting = Some(tokio::spawn(async move {
            tokio::time::timeout(CONNECT_TIMEOUT, dial(addr, local, password, ttl))
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
        }));
    }

    /// Write one message on a connection; [`Input::SendFailed`] if that fails.
    async fn send(&mut self, id: ConnId, message: Message) -> Option<Input> {
        let ctx = CodecContext {
            four_octet_as: self.machine.negotiated(id).is_some_and(|n| n.four_octet_as),
        };
        let conn = self.conns.get_mut(&id)?;
        if conn.send(&encode(&message, ctx)).await.is_err() {
            return Some(Input::SendFailed(id));
        }
        self.count(true, &message);
        if let Message::Notification(n) = &message {
            warn!(peer = %self.cfg.peer, code = n.code, subcode = n.subcode, "sent NOTIFICATION");
        }
        None
    }

    /// Our routes as they stand.
    fn our_routes(&self) -> OurRoutes {
        OurRoutes {
            local: self.channels.prefixes.borrow().clone(),
            announced: self.channels.announced.borrow().clone(),
        }
    }

    /// The TTL of this peer's connections: single-hop eBGP, `ebgp_multihop`, or GTSM.
    fn ttl(&self) -> Option<super::ttl::Ttl> {
        // Known before the OPEN: `external` is eBGP and `internal` iBGP by definition.
        let ebgp = match self.cfg.remote_as {
            crate::fsm::RemoteAs::Number(n) => n != self.shared.local_as,
            crate::fsm::RemoteAs::External => true,
            crate::fsm::RemoteAs::Internal => false,
        };
        super::ttl::for_peer(ebgp, self.cfg.ebgp_multihop, self.cfg.ttl_security)
    }

    fn new_id(&mut self) -> ConnId {
        self.next_id = self.next_id.wrapping_add(1);
        ConnId(self.next_id)
    }
}

/// Close a connection that lost a collision (or arrived when one is Established): Cease/7.
async fn refuse(mut conn: Conn) {
    let n = NotificationMsg {
        code: ErrorCode::Cease as u8,
        subcode: cease_subcode::CONNECTION_COLLISION_RESOLUTION,
        data: vec![],
    };
    let _ = conn
        .send(&encode(&Message::Notification(n), CodecContext::default()))
        .await;
    conn.close().await;
}

/// RFC 4271 §6.1: a message longer than the session allows, answered with 1/2 and its length.
fn too_long(len: usize) -> DecodeError {
    let field = u16::try_from(len).unwrap_or(u16::MAX);
    DecodeError::new(
        ErrorCode::MessageHeader,
        header_subcode::BAD_MESSAGE_LENGTH,
        field.to_be_bytes().to_vec(),
        "message longer than 4096 octets without Extended Message",
    )
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// What each session with this peer is configured with.
fn session_config(cfg: &PeerConfig, shared: &Shared) -> SessionConfig {
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
            graceful_restart: shared.graceful_restart,
            hostname: shared.hostname.clone(),
            extended_message: true,
            extended_next_hop: cfg.peer.is_ipv6() && cfg.ipv4_next_hop.is_none(),
        },
    }
}
