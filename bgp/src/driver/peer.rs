//! One peer's task: runs the FSM for its connection(s), timers, advertisement and the RIB feed.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::Ipv4Net;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::conn::{Conn, ConnEvent};
use super::speaker::{PeerConfig, Shared};
use super::status::PeerState;
use crate::fsm::{Input, Output, Session, SessionConfig, Timer};
use crate::rib::PeerInfo;
use crate::wire::{
    decode, encode, AsSegment, CodecContext, ErrorCode, Message, NotificationMsg, Origin,
    PathAttribute, UpdateMsg,
};

/// Cease subcode 7, Connection Collision Resolution (RFC 4486).
const CEASE_COLLISION: u8 = 7;
/// How long one TCP connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a session closed for too many prefixes stays down before it is retried.
const MAX_PREFIX_BACKOFF: Duration = Duration::from_secs(30);
/// Prefixes per UPDATE we originate: far below the 4096-byte limit (5 bytes per /24).
const NLRI_PER_UPDATE: usize = 500;

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
}

/// The task behind one configured peer.
pub(super) struct PeerTask {
    cfg: PeerConfig,
    shared: Arc<Shared>,
    inbound: mpsc::Receiver<TcpStream>,
    prefixes: watch::Receiver<Vec<Ipv4Net>>,
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
    advertised: Vec<Ipv4Net>,
    /// A longer wait before the next automatic start (after a max-prefix teardown).
    backoff: Option<Duration>,
    /// Until then, inbound connections are refused too.
    hold_down_until: Option<Instant>,
}

impl PeerTask {
    /// A task for `cfg`; `index` seeds its connect-retry jitter.
    pub fn new(
        cfg: PeerConfig,
        index: u64,
        shared: Arc<Shared>,
        inbound: mpsc::Receiver<TcpStream>,
        prefixes: watch::Receiver<Vec<Ipv4Net>>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        let (events_tx, events_rx) = mpsc::channel(64);
        let seed = u64::from(u32::from(cfg.address))
            ^ (index.wrapping_add(1) << 32)
            ^ 0x9e37_79b9_7f4a_7c15;
        let primary = Slot::new(session_config(&cfg, &shared));
        Self {
            cfg,
            shared,
            inbound,
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
            backoff: None,
            hold_down_until: None,
        }
    }

    /// Run until the speaker stops.
    pub async fn run(mut self) {
        self.feed(Which::Primary, Input::ManualStart).await;
        loop {
            match self.wait().await {
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
            }
        }
    }

    async fn wait(&mut self) -> Wake {
        let deadline = self.next_deadline();
        let connecting = &mut self.connecting;
        tokio::select! {
            _ = self.stop.changed() => Wake::Stop,
            Some(stream) = self.inbound.recv() => Wake::Inbound(stream),
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
            .min()
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
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
                let mut slot = Slot::new(session_config(&self.cfg, &self.shared));
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
                    let mut slot = Slot::new(session_config(&self.cfg, &self.shared));
                    slot.conn = Some(conn);
                    self.candidate = Some(slot);
                    self.feed(Which::Candidate, Input::PassiveStart).await;
                    self.feed(Which::Candidate, Input::TcpConnected).await;
                }
            }
            Ok(_) => {}
            Err(e) => {
                debug!(peer = %self.cfg.address, error = %e, "connect failed");
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
            ConnEvent::Frame(frame) => match decode(&frame, self.ctx(which)) {
                Ok(message) => Input::Message(message),
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
                refuse(conn, CodecContext::default()).await;
            }
            return (receiving == Which::Primary).then_some(Which::Primary);
        }
        debug!(peer = %self.cfg.address, "collision: keeping the connection the peer initiated");
        let old = std::mem::replace(&mut self.primary, candidate);
        if let Some(conn) = old.conn {
            refuse(conn, ctx).await;
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
                let addr = SocketAddr::new(IpAddr::V4(self.cfg.address), self.cfg.port);
                let local = self.cfg.local_address;
                if let Some(h) = self.connecting.take() {
                    h.abort();
                }
                self.connecting = Some(tokio::spawn(async move {
                    tokio::time::timeout(CONNECT_TIMEOUT, connect(addr, local))
                        .await
                        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
                }));
            }
            Output::Send(message) => {
                let conn = self.slot_mut(which)?.conn.as_mut()?;
                if conn.send(&encode(&message, ctx)).await.is_err() {
                    return Some(Input::TcpFails);
                }
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
                    self.jitter(after)
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
                info!(peer = %self.cfg.address, remote_as = n.remote_as, hold = n.hold_time, "session established");
                if let Ok(mut status) = self.shared.status.lock() {
                    if let Some(e) = status.get_mut(&self.cfg.address) {
                        e.since = Some(std::time::Instant::now());
                        e.status.remote_router_id = Some(n.remote_router_id);
                    }
                }
                self.advertised.clear();
                return self.advertise_all(which).await;
            }
            Output::Update(update) => return self.learn(which, &update),
            Output::Down(reason) => self.down(which, was, reason),
        }
        None
    }

    /// Import an UPDATE: filtered prefixes count as withdrawn (they replace whatever the peer
    /// sent for them before); then the max-prefix limit (RFC 4486 Cease/1).
    fn learn(&mut self, which: Which, update: &UpdateMsg) -> Option<Input> {
        let n = self.slot(which).and_then(|s| s.session.negotiated())?;
        let peer = PeerInfo {
            address: IpAddr::V4(self.cfg.address),
            router_id: n.remote_router_id,
            asn: n.remote_as,
            local_as: self.shared.local_as,
            allow_as_in: self.cfg.allow_as_in,
        };
        let (accepted, refused): (Vec<Ipv4Net>, Vec<Ipv4Net>) =
            update.nlri.iter().partition(|p| self.cfg.import.accepts(p));
        let filtered = UpdateMsg {
            withdrawn: update.withdrawn.iter().chain(&refused).copied().collect(),
            attributes: update.attributes.clone(),
            nlri: accepted,
        };
        let (changes, held) = match self.shared.rib.lock() {
            Ok(mut rib) => {
                let changes = rib.update(peer, &filtered);
                (changes, rib.received(peer.address))
            }
            Err(_) => return None,
        };
        for c in changes {
            let _ = self.shared.changes.send(c);
        }
        let max = self.cfg.max_prefixes?;
        if held > max as usize {
            warn!(peer = %self.cfg.address, held, max, "maximum prefixes exceeded: closing the session");
            self.backoff = Some(MAX_PREFIX_BACKOFF);
            // RFC 4486 §4: data = AFI (2), SAFI (1), the limit (4).
            let mut data = vec![0, 1, 1];
            data.extend_from_slice(&max.to_be_bytes());
            return Some(Input::Stop(NotificationMsg {
                code: ErrorCode::Cease as u8,
                subcode: 1,
                data,
            }));
        }
        None
    }

    fn down(&mut self, which: Which, was: Option<PeerState>, reason: String) {
        if which == Which::Candidate {
            return;
        }
        if was == Some(PeerState::Established) {
            warn!(peer = %self.cfg.address, %reason, "session down");
            let changes = match self.shared.rib.lock() {
                Ok(mut rib) => rib.peer_down(IpAddr::V4(self.cfg.address)),
                Err(_) => Vec::new(),
            };
            for c in changes {
                let _ = self.shared.changes.send(c);
            }
        } else {
            debug!(peer = %self.cfg.address, %reason, "session attempt failed");
        }
        self.advertised.clear();
        if let Ok(mut status) = self.shared.status.lock() {
            if let Some(e) = status.get_mut(&self.cfg.address) {
                e.since = None;
                e.status.last_error = Some(reason);
            }
        }
        if !*self.stop.borrow() {
            let delay = match self.backoff.take() {
                Some(d) => {
                    self.hold_down_until = Some(Instant::now() + d);
                    // A second connection in progress must not outlive the hold-down either.
                    self.candidate = None;
                    d
                }
                None => self.jitter(self.cfg.connect_retry),
            };
            self.restart_at = Some(Instant::now() + delay);
        }
    }

    /// Send every local prefix, then End-of-RIB (RFC 4724 §2: an empty UPDATE).
    async fn advertise_all(&mut self, which: Which) -> Option<Input> {
        let prefixes = self.exported();
        if let Some(fail) = self.send_updates(which, &prefixes, &[]).await {
            return Some(fail);
        }
        let ctx = self.ctx(which);
        let conn = self.slot_mut(which)?.conn.as_mut()?;
        if conn
            .send(&encode(&Message::Update(UpdateMsg::default()), ctx))
            .await
            .is_err()
        {
            return Some(Input::TcpFails);
        }
        None
    }

    /// Send the difference between what was advertised and the current local prefixes.
    async fn readvertise(&mut self) {
        if self.primary.session.state() != PeerState::Established {
            return;
        }
        let now: Vec<Ipv4Net> = self.exported();
        let announce: Vec<Ipv4Net> = now
            .iter()
            .filter(|p| !self.advertised.contains(p))
            .copied()
            .collect();
        let withdraw: Vec<Ipv4Net> = self
            .advertised
            .iter()
            .filter(|p| !now.contains(p))
            .copied()
            .collect();
        if let Some(fail) = self
            .send_updates(Which::Primary, &announce, &withdraw)
            .await
        {
            self.feed(Which::Primary, fail).await;
        }
    }

    async fn send_updates(
        &mut self,
        which: Which,
        announce: &[Ipv4Net],
        withdraw: &[Ipv4Net],
    ) -> Option<Input> {
        let ctx = self.ctx(which);
        let ebgp = self.cfg.remote_as != self.shared.local_as;
        let local_as = self.shared.local_as;
        let conn = self.slot_mut(which)?.conn.as_mut()?;
        let IpAddr::V4(next_hop) = conn.local.ip() else {
            return None;
        };
        for chunk in withdraw.chunks(NLRI_PER_UPDATE) {
            let u = UpdateMsg {
                withdrawn: chunk.to_vec(),
                ..Default::default()
            };
            if conn.send(&encode(&Message::Update(u), ctx)).await.is_err() {
                return Some(Input::TcpFails);
            }
        }
        for chunk in announce.chunks(NLRI_PER_UPDATE) {
            let u = UpdateMsg {
                withdrawn: vec![],
                attributes: origination(local_as, next_hop, ebgp),
                nlri: chunk.to_vec(),
            };
            if conn.send(&encode(&Message::Update(u), ctx)).await.is_err() {
                return Some(Input::TcpFails);
            }
        }
        self.advertised.retain(|p| !withdraw.contains(p));
        self.advertised.extend_from_slice(announce);
        self.set_state();
        None
    }

    /// What this peer is sent: the speaker's local prefixes and the peer's extra exports.
    fn exported(&self) -> Vec<Ipv4Net> {
        let mut all: Vec<Ipv4Net> = self.prefixes.borrow().clone();
        all.extend(self.cfg.export.iter().copied());
        all.sort();
        all.dedup();
        all
    }

    /// Publish the primary session's state and counters.
    fn set_state(&self) {
        let state = self.primary.session.state();
        if let Ok(mut status) = self.shared.status.lock() {
            if let Some(e) = status.get_mut(&self.cfg.address) {
                e.status.state = state;
                e.status.prefixes_advertised = if state == PeerState::Established {
                    self.advertised.len() as u64
                } else {
                    0
                };
                if state == PeerState::Established {
                    e.status.last_error = None;
                }
            }
        }
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

fn session_config(cfg: &PeerConfig, shared: &Shared) -> SessionConfig {
    SessionConfig {
        local_as: shared.local_as,
        remote_as: cfg.remote_as,
        router_id: shared.router_id,
        hold_time: cfg.hold_time,
        keepalive: cfg.keepalive,
        connect_retry: cfg.connect_retry,
        passive: cfg.passive,
    }
}

/// ORIGIN IGP, our AS (eBGP) or an empty path with LOCAL_PREF (iBGP), next-hop self.
fn origination(local_as: u32, next_hop: Ipv4Addr, ebgp: bool) -> Vec<PathAttribute> {
    let mut attrs = vec![PathAttribute::Origin(Origin::Igp)];
    if ebgp {
        attrs.push(PathAttribute::AsPath(vec![AsSegment::Sequence(vec![
            local_as,
        ])]));
        attrs.push(PathAttribute::NextHop(next_hop));
    } else {
        attrs.push(PathAttribute::AsPath(vec![]));
        attrs.push(PathAttribute::NextHop(next_hop));
        attrs.push(PathAttribute::LocalPref(100));
    }
    attrs
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

/// Connect to `addr`, from `local` when the peer is configured with a source address.
async fn connect(addr: SocketAddr, local: Option<Ipv4Addr>) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    if let Some(local) = local {
        socket.bind(SocketAddr::new(IpAddr::V4(local), 0))?;
    }
    socket.connect(addr).await
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
