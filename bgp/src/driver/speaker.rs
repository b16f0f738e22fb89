//! Starting the speaker, accepting connections, and the handle the agent holds.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::changes::{ChangeSignal, RouteChanges};
use super::md5;
use super::peer::{PeerChannels, PeerCommand, PeerTask};
use super::status::{PeerSettings, PeerState, PeerStatus};
use super::Password;
use crate::fsm::GrOptions;
use crate::policy::ImportPolicy;
use crate::rib::Rib;
use crate::wire::LargeCommunity;

/// The whole speaker's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerConfig {
    /// Our ASN.
    pub local_as: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Where to accept connections (`None`: connect only). `[::]:179` takes both families.
    pub listen: Option<SocketAddr>,
    /// The neighbours.
    pub peers: Vec<PeerConfig>,
    /// Graceful restart (RFC 4724): `None` disables it (neither helper nor restarting speaker).
    pub graceful_restart: Option<GrOptions>,
    /// Hostname announced in the FQDN capability.
    pub hostname: Option<String>,
}

impl SpeakerConfig {
    /// A speaker with no peers and no listener, graceful restart on as a helper.
    pub fn new(local_as: u32, router_id: Ipv4Addr) -> Self {
        Self {
            local_as,
            router_id,
            listen: None,
            peers: Vec::new(),
            graceful_restart: Some(GrOptions::default()),
            hostname: None,
        }
    }
}

/// Address families exchanged with a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    /// IPv4 unicast.
    pub ipv4: bool,
    /// IPv6 unicast.
    pub ipv6: bool,
}

/// One neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// Its address (IPv4 or IPv6 transport).
    pub address: IpAddr,
    /// Its port (179).
    pub port: u16,
    /// Its ASN.
    pub remote_as: u32,
    /// Hold time we propose.
    pub hold_time: u16,
    /// Time between connection attempts (jittered by up to -25%, RFC 4271 §10).
    pub connect_retry: Duration,
    /// Never connect, only accept.
    pub passive: bool,
    /// Source address for our connections (`None`: the kernel chooses).
    pub local_address: Option<IpAddr>,
    /// Keepalive interval; `None`: a third of the negotiated hold time.
    pub keepalive: Option<u16>,
    /// Which of the peer's prefixes are accepted.
    pub import: ImportPolicy,
    /// Prefixes announced to this peer besides the speaker's local prefixes.
    pub export: Vec<IpNet>,
    /// COMMUNITIES set on every route we announce to this peer (RFC 1997).
    pub communities: Vec<u32>,
    /// LARGE_COMMUNITY set on every route we announce to this peer (RFC 8092).
    pub large_communities: Vec<LargeCommunity>,
    /// Families negotiated with this peer.
    pub families: Families,
    /// Next hop for IPv4 routes when the session runs over IPv6 (default: none, so IPv4 is not
    /// announced over an IPv6 session unless set).
    pub ipv4_next_hop: Option<Ipv4Addr>,
    /// Next hop for IPv6 routes when the session runs over IPv4 (default: the session's IPv4
    /// address mapped into IPv6, as FRR does, which is rarely usable: set it).
    pub ipv6_next_hop: Option<Ipv6Addr>,
    /// Tear the session down (Cease/1) when the peer sends more accepted prefixes than this.
    pub max_prefixes: Option<u32>,
    /// Occurrences of our ASN tolerated in a received AS_PATH.
    pub allow_as_in: u8,
    /// TCP MD5 signature key (RFC 2385), 1-80 bytes: set on our connecting socket and, for this
    /// address, on the listener, so the kernel drops the peer's unsigned segments.
    pub password: Option<Password>,
}

impl PeerConfig {
    /// A peer with RFC defaults: hold 90 s, connect-retry 3 s, active, every prefix accepted
    /// (the agent always passes a stricter import policy), nothing extra exported.
    pub fn new(address: IpAddr, remote_as: u32) -> Self {
        Self {
            address,
            port: 179,
            remote_as,
            hold_time: 90,
            connect_retry: Duration::from_secs(3),
            passive: false,
            local_address: None,
            keepalive: None,
            import: ImportPolicy::accept_all(),
            export: Vec::new(),
            communities: Vec::new(),
            large_communities: Vec::new(),
            families: Families {
                ipv4: true,
                ipv6: address.is_ipv6(),
            },
            ipv4_next_hop: None,
            ipv6_next_hop: None,
            max_prefixes: None,
            allow_as_in: 0,
            password: None,
        }
    }
}

/// State shared by the peer tasks.
#[derive(Debug)]
pub(super) struct Shared {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    pub graceful_restart: Option<GrOptions>,
    pub hostname: Option<String>,
    pub rib: Mutex<Rib>,
    pub status: Mutex<HashMap<IpAddr, PeerEntry>>,
    pub signal: ChangeSignal,
}

/// A peer's status and when it became Established.
#[derive(Debug, Clone)]
pub(super) struct PeerEntry {
    pub status: PeerStatus,
    pub since: Option<std::time::Instant>,
    /// Prefixes the peer announced that the import policy refused: (IPv4, IPv6).
    pub refused: (u64, u64),
}

/// The running speaker.
#[derive(Debug)]
pub struct Speaker;

/// The agent's handle on the running speaker.
#[derive(Debug, Clone)]
pub struct SpeakerHandle {
    shared: Arc<Shared>,
    prefixes: Arc<watch::Sender<Vec<IpNet>>>,
    stop: Arc<watch::Sender<bool>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    commands: Arc<HashMap<IpAddr, mpsc::Sender<PeerCommand>>>,
}

impl Speaker {
    /// Bind the listener (if any) and start one task per peer. Loc-RIB changes arrive through
    /// the returned [`RouteChanges`], coalesced per prefix. A password the kernel cannot take (empty, over 80 bytes) is an
    /// `InvalidInput` error, before anything is bound.
    pub async fn start(config: SpeakerConfig) -> std::io::Result<(SpeakerHandle, RouteChanges)> {
        for peer in &config.peers {
            if let Some(password) = &peer.password {
                md5::check_key(password.expose()).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("peer {}: {e}", peer.address))
                })?;
            }
        }
        let listener = match config.listen {
            Some(addr) => Some(listen(addr, &config.peers)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            local_as: config.local_as,
            router_id: config.router_id,
            graceful_restart: config.graceful_restart,
            hostname: config.hostname,
            rib: Mutex::new(Rib::default()),
            status: Mutex::new(HashMap::new()),
            signal: ChangeSignal::default(),
        });
        let (prefixes, prefixes_rx) = watch::channel(Vec::new());
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut inbound: HashMap<IpAddr, mpsc::Sender<TcpStream>> = HashMap::new();
        let mut commands = HashMap::new();
        for (index, peer) in config.peers.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel(4);
            inbound.insert(peer.address, tx);
            let (cmd_tx, cmd_rx) = mpsc::channel(4);
            commands.insert(peer.address, cmd_tx);
            if let Ok(mut status) = shared.status.lock() {
                let mut st = PeerStatus::new(peer.address, peer.remote_as);
                st.config = PeerSettings {
                    hold_time: peer.hold_time,
                    keepalive: peer.keepalive,
                    connect_retry_secs: peer.connect_retry.as_secs(),
                    passive: peer.passive,
                    max_prefixes: peer.max_prefixes,
                    md5: peer.password.is_some(),
                };
                status.insert(
                    peer.address,
                    PeerEntry {
                        status: st,
                        since: None,
                        refused: (0, 0),
                    },
                );
            }
            let channels = PeerChannels {
                inbound: rx,
                commands: cmd_rx,
                prefixes: prefixes_rx.clone(),
                stop: stop_rx.clone(),
            };
            let task = PeerTask::new(peer, index as u64, shared.clone(), channels);
            tasks.push(tokio::spawn(task.run()));
        }
        if let Some(listener) = listener {
            tasks.push(tokio::spawn(accept_loop(listener, inbound, stop_rx)));
        }
        let handle = SpeakerHandle {
            shared,
            prefixes: Arc::new(prefixes),
            stop: Arc::new(stop),
            tasks: Arc::new(Mutex::new(tasks)),
            commands: Arc::new(commands),
        };
        let changes = RouteChanges::new(handle.shared.clone());
        Ok((handle, changes))
    }
}

impl SpeakerHandle {
    /// The prefixes this host originates; advertised to every Established peer with next-hop self.
    pub fn set_local_prefixes(&self, mut prefixes: Vec<IpNet>) {
        prefixes.sort();
        prefixes.dedup();
        self.prefixes.send_replace(prefixes);
    }

    /// Ask `peer` to send its routes again (ROUTE-REFRESH, RFC 2918); false if no such peer.
    pub fn request_refresh(&self, peer: IpAddr) -> bool {
        self.commands
            .get(&peer)
            .is_some_and(|tx| tx.try_send(PeerCommand::RequestRefresh).is_ok())
    }

    /// A snapshot of every peer, in configuration order of addresses.
    pub async fn status(&self) -> Vec<PeerStatus> {
        self.snapshot()
    }

    /// [`SpeakerHandle::status`] without awaiting: it only takes the in-memory locks, so a
    /// metrics collector can call it at scrape time from synchronous code.
    pub fn snapshot(&self) -> Vec<PeerStatus> {
        let mut all: Vec<(PeerStatus, (u64, u64))> = match self.shared.status.lock() {
            Ok(s) => s
                .values()
                .map(|e| {
                    let mut st = e.status.clone();
                    st.uptime_secs = e.since.map(|t| t.elapsed().as_secs());
                    (st, e.refused)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        if let Ok(rib) = self.shared.rib.lock() {
            for (s, (refused_v4, refused_v6)) in &mut all {
                let accepted = rib.received_by_family(s.address);
                s.prefixes_accepted = rib.received(s.address) as u64;
                let mut received = accepted.clone();
                for (family, refused) in [("ipv4", *refused_v4), ("ipv6", *refused_v6)] {
                    if refused > 0 {
                        let n = received.entry(family.to_string()).or_default();
                        *n = n.saturating_add(refused);
                    }
                }
                s.prefixes_received = received.values().fold(0, |a, n| a.saturating_add(*n));
                s.prefixes_received_by_family = received;
                s.prefixes_accepted_by_family = accepted;
            }
        }
        let mut all: Vec<PeerStatus> = all.into_iter().map(|(s, _)| s).collect();
        all.sort_by_key(|s| s.address);
        all
    }

    /// The Loc-RIB: each prefix with its multipath next hops.
    pub fn loc_rib(&self) -> Vec<(IpNet, Vec<IpAddr>)> {
        match self.shared.rib.lock() {
            Ok(rib) => rib.loc_rib(),
            Err(_) => Vec::new(),
        }
    }

    /// The Loc-RIB with every path, best and multipath marked (for `lattice routes`).
    pub fn routes(&self) -> Vec<crate::rib::RibRoute> {
        match self.shared.rib.lock() {
            Ok(rib) => rib.dump(),
            Err(_) => Vec::new(),
        }
    }

    /// Stop the tasks and close every session: with Cease/Administrative Shutdown, or, when
    /// graceful restart is on, without a NOTIFICATION so that peers keep our routes for our
    /// restart time (RFC 4724; the agent leaves the kernel routes in place).
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        let tasks: Vec<JoinHandle<()>> = match self.tasks.lock() {
            Ok(mut t) => t.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for t in tasks {
            if tokio::time::timeout(Duration::from_secs(2), t)
                .await
                .is_err()
            {
                warn!("a BGP task did not stop within 2 s");
            }
        }
        self.shared.signal.stop();
    }

    /// Whether every peer is Established (for tests and readiness).
    pub async fn all_established(&self) -> bool {
        self.status()
            .await
            .iter()
            .all(|s| s.state == PeerState::Established)
    }
}

/// Bind and listen on `addr`, with each password-protected peer's key installed before
/// `listen()`, so no unsigned SYN from such a peer is ever accepted.
fn listen(addr: SocketAddr, peers: &[PeerConfig]) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As TcpListener::bind does: a restarted speaker must not wait for TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    for peer in peers {
        // An IPv6 peer cannot reach an IPv4 listener: there is nothing to key for it there.
        let reachable = addr.is_ipv6() || peer.address.to_canonical().is_ipv4();
        if let (Some(password), true) = (&peer.password, reachable) {
            md5::set_key(&socket, peer.address, password.expose()).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("TCP MD5 key for peer {} on the listener: {e}", peer.address),
                )
            })?;
        }
    }
    socket.listen(1024)
}

/// Hand inbound connections to their peer's task; refuse unknown sources.
async fn accept_loop(
    listener: TcpListener,
    peers: HashMap<IpAddr, mpsc::Sender<TcpStream>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, from)) => {
                    let source = match from.ip() {
                        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
                        v4 => v4,
                    };
                    match peers.get(&source) {
                        Some(tx) => {
                            if tx.try_send(stream).is_err() {
                                debug!(%from, "peer task busy: inbound connection dropped");
                            }
                        }
                        None => debug!(%from, "connection from an unconfigured address refused"),
                    }
                }
                Err(e) => {
                    warn!(error = %e, "BGP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}
