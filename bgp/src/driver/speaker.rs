//! Starting the speaker, accepting connections, and the handle the agent holds.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::Ipv4Net;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::peer::PeerTask;
use super::status::{PeerState, PeerStatus};
use crate::policy::{ImportPolicy, PrefixRule};
use crate::rib::{Rib, RouteChange};

/// The whole speaker's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerConfig {
    /// Our ASN.
    pub local_as: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Where to accept connections (`None`: connect only).
    pub listen: Option<SocketAddr>,
    /// The neighbours.
    pub peers: Vec<PeerConfig>,
}

/// One neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// Its address.
    pub address: Ipv4Addr,
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
    pub local_address: Option<Ipv4Addr>,
    /// Keepalive interval; `None`: a third of the negotiated hold time.
    pub keepalive: Option<u16>,
    /// Which of the peer's prefixes are accepted.
    pub import: ImportPolicy,
    /// Prefixes announced to this peer besides the speaker's local prefixes.
    pub export: Vec<Ipv4Net>,
    /// Tear the session down (Cease/1) when the peer sends more accepted prefixes than this.
    pub max_prefixes: Option<u32>,
    /// Occurrences of our ASN tolerated in a received AS_PATH.
    pub allow_as_in: u8,
}

impl PeerConfig {
    /// A peer with RFC defaults: hold 90 s, connect-retry 3 s, active, every prefix accepted
    /// (the agent always passes a stricter import policy), nothing extra exported.
    pub fn new(address: Ipv4Addr, remote_as: u32) -> Self {
        Self {
            address,
            port: 179,
            remote_as,
            hold_time: 90,
            connect_retry: Duration::from_secs(3),
            passive: false,
            local_address: None,
            keepalive: None,
            import: ImportPolicy {
                rules: vec![PrefixRule::or_longer(Ipv4Net::default())],
            },
            export: Vec::new(),
            max_prefixes: None,
            allow_as_in: 0,
        }
    }
}

/// State shared by the peer tasks.
#[derive(Debug)]
pub(super) struct Shared {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    pub rib: Mutex<Rib>,
    pub status: Mutex<HashMap<Ipv4Addr, PeerEntry>>,
    pub changes: mpsc::UnboundedSender<RouteChange>,
}

/// A peer's status and when it became Established.
#[derive(Debug, Clone)]
pub(super) struct PeerEntry {
    pub status: PeerStatus,
    pub since: Option<std::time::Instant>,
}

/// The running speaker.
#[derive(Debug)]
pub struct Speaker;

/// The agent's handle on the running speaker.
#[derive(Debug, Clone)]
pub struct SpeakerHandle {
    shared: Arc<Shared>,
    prefixes: Arc<watch::Sender<Vec<Ipv4Net>>>,
    stop: Arc<watch::Sender<bool>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Speaker {
    /// Bind the listener (if any) and start one task per peer. Loc-RIB changes arrive on the
    /// returned channel.
    pub async fn start(
        config: SpeakerConfig,
    ) -> std::io::Result<(SpeakerHandle, mpsc::UnboundedReceiver<RouteChange>)> {
        let listener = match config.listen {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let (changes, changes_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            local_as: config.local_as,
            router_id: config.router_id,
            rib: Mutex::new(Rib::default()),
            status: Mutex::new(HashMap::new()),
            changes,
        });
        let (prefixes, prefixes_rx) = watch::channel(Vec::new());
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut inbound: HashMap<Ipv4Addr, mpsc::Sender<TcpStream>> = HashMap::new();
        for (index, peer) in config.peers.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel(4);
            inbound.insert(peer.address, tx);
            if let Ok(mut status) = shared.status.lock() {
                status.insert(
                    peer.address,
                    PeerEntry {
                        status: PeerStatus::new(peer.address, peer.remote_as),
                        since: None,
                    },
                );
            }
            let task = PeerTask::new(
                peer,
                index as u64,
                shared.clone(),
                rx,
                prefixes_rx.clone(),
                stop_rx.clone(),
            );
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
        };
        Ok((handle, changes_rx))
    }
}

impl SpeakerHandle {
    /// The prefixes this host originates; advertised to every Established peer with next-hop self.
    pub fn set_local_prefixes(&self, mut prefixes: Vec<Ipv4Net>) {
        prefixes.sort();
        prefixes.dedup();
        self.prefixes.send_replace(prefixes);
    }

    /// A snapshot of every peer, in configuration order of addresses.
    pub async fn status(&self) -> Vec<PeerStatus> {
        let mut all: Vec<PeerStatus> = match self.shared.status.lock() {
            Ok(s) => s
                .values()
                .map(|e| {
                    let mut st = e.status.clone();
                    st.uptime_secs = e.since.map(|t| t.elapsed().as_secs());
                    st
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        if let Ok(rib) = self.shared.rib.lock() {
            for s in &mut all {
                s.prefixes_received = rib.received(IpAddr::V4(match s.address {
                    IpAddr::V4(a) => a,
                    IpAddr::V6(_) => continue,
                })) as u64;
            }
        }
        all.sort_by_key(|s| s.address);
        all
    }

    /// Close every session with Cease/Administrative Shutdown and stop the tasks.
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
    }

    /// Whether every peer is Established (for tests and readiness).
    pub async fn all_established(&self) -> bool {
        self.status()
            .await
            .iter()
            .all(|s| s.state == PeerState::Established)
    }
}

/// Hand inbound connections to their peer's task; refuse unknown sources.
async fn accept_loop(
    listener: TcpListener,
    peers: HashMap<Ipv4Addr, mpsc::Sender<TcpStream>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, from)) => {
                    let source = match from.ip() {
                        IpAddr::V4(a) => Some(a),
                        IpAddr::V6(a) => a.to_ipv4_mapped(),
                    };
                    match source.and_then(|a| peers.get(&a)) {
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
