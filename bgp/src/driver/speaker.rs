//! Starting the speaker, and the handle the agent holds: local prefixes, per-peer commands,
//! status and RIB queries, shutdown.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::warn;

use super::changes::RouteChanges;
use super::config::{Announced, PeerConfig, SpeakerConfig};
use super::listener::Listener;
use super::md5;
use super::peer::{BfdSignal, PeerUpdate};
use super::peers::{PeerError, Peers};
use super::shared::{ChangeSignal, Shared};
use super::status::{PeerState, PeerStatus};
use crate::rib::{NextHop, PeerId, Rib};
use crate::PeerKey;

/// The running speaker.
#[derive(Debug)]
pub struct Speaker;

/// The agent's handle on the running speaker.
#[derive(Debug, Clone)]
pub struct SpeakerHandle {
    shared: Arc<Shared>,
    prefixes: Arc<watch::Sender<Vec<IpNet>>>,
    announced: Arc<watch::Sender<Arc<BTreeMap<IpNet, Announced>>>>,
    stop: Arc<watch::Sender<bool>>,
    peers: Arc<Peers>,
    accept: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Speaker {
    /// Bind the listener (if any) and start one task per peer. Loc-RIB changes arrive through
    /// the returned [`RouteChanges`], coalesced per prefix. A password the kernel cannot take
    /// (empty, over 80 bytes), or a peer listed twice, is an `InvalidInput` error, before
    /// anything is bound.
    pub async fn start(config: SpeakerConfig) -> std::io::Result<(SpeakerHandle, RouteChanges)> {
        Self::start_announcing(config, Vec::new()).await
    }

    /// [`Speaker::start`] with the local prefixes already known: every session, even one that
    /// comes up at once, is sent them before its End-of-RIB (RFC 4724 §4.1). A helper peer
    /// waiting for our End-of-RIB after our restart would otherwise sweep our routes and learn
    /// them again a moment later: the flap graceful restart exists to prevent.
    pub async fn start_announcing(
        config: SpeakerConfig,
        mut prefixes: Vec<IpNet>,
    ) -> std::io::Result<(SpeakerHandle, RouteChanges)> {
        let mut seen = HashSet::new();
        for peer in &config.peers {
            if let Some(password) = &peer.password {
                md5::check_key(password.expose()).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("peer {}: {e}", peer.peer))
                })?;
            }
            if !seen.insert(&peer.peer) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("peer {} is listed twice", peer.peer),
                ));
            }
        }
        let listener = match config.listen {
            Some(addr) => Some(Listener::bind(addr, &config.peers)?),
            None => None,
        };
        let mut rib = Rib::new(config.multipath);
        rib.set_router_id(config.router_id);
        if let Some(cluster_id) = config.route_reflector {
            rib.enable_reflection(cluster_id);
        }
        let shared = Arc::new(Shared {
            local_as: config.local_as,
            router_id: config.router_id,
            graceful_restart: config.graceful_restart,
            hostname: config.hostname,
            cluster_id: config.route_reflector,
            rib: Mutex::new(rib),
            status: Mutex::new(HashMap::new()),
            inbound: Mutex::new(HashMap::new()),
            signal: ChangeSignal::default(),
            reflected: watch::channel(0).0,
            shutdown_message: Mutex::new(None),
        });
        prefixes.sort();
        prefixes.dedup();
        let (prefixes, prefixes_rx) = watch::channel(prefixes);
        let (announced, announced_rx) = watch::channel(Arc::new(BTreeMap::new()));
        let (stop, stop_rx) = watch::channel(false);
        let peers = Peers::new(
            shared.clone(),
            listener.clone(),
            prefixes_rx,
            announced_rx,
            stop_rx.clone(),
        );
        for peer in config.peers {
            peers
                .start(peer, true)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        let accept = listener.map(|l| l.spawn_accept(shared.clone(), stop_rx));
        let handle = SpeakerHandle {
            shared,
            prefixes: Arc::new(prefixes),
            announced: Arc::new(announced),
            stop: Arc::new(stop),
            peers: Arc::new(peers),
            accept: Arc::new(Mutex::new(accept)),
        };
        let changes = RouteChanges::new(handle.shared.clone());
        Ok((handle, changes))
    }
}

impl SpeakerHandle {
    /// The prefixes this host originates, as they change (the agent registers them in the
    /// cluster's datastore).
    pub fn watch_local_prefixes(&self) -> watch::Receiver<Vec<IpNet>> {
        self.prefixes.subscribe()
    }

    /// The prefixes this host originates; advertised to every Established peer with next-hop self.
    pub fn set_local_prefixes(&self, mut prefixes: Vec<IpNet>) {
        prefixes.sort();
        prefixes.dedup();
        self.prefixes.send_replace(prefixes);
    }

    /// The prefixes announced through the agent's API, each with what it adds to the peer's
    /// communities: sent to every Established peer whose export policy accepts them (a peer
    /// without an export policy is sent none). Only the difference goes out.
    pub fn set_announced(&self, announced: BTreeMap<IpNet, Announced>) {
        self.announced.send_if_modified(|current| {
            if **current == announced {
                return false;
            }
            *current = Arc::new(announced);
            true
        });
    }

    /// What [`SpeakerHandle::set_announced`] last set.
    pub fn announced(&self) -> Arc<BTreeMap<IpNet, Announced>> {
        self.announced.borrow().clone()
    }

    /// Give a running peer a configuration that differs from its current one only in what it
    /// imports and exports (the prefix list, policies, `allow_as_in`, the export list,
    /// communities, the IPv6 next hop): no reset. What the peer is sent changes by UPDATEs
    /// (only the difference); a changed import is applied by ROUTE-REFRESH when the peer
    /// supports it, else to its Adj-RIB-In kept as received. Returns once applied, with what
    /// it took; [`PeerError::NeedsReset`] when the session part differs (then use
    /// [`SpeakerHandle::replace_peer`]).
    pub async fn reconfigure_peer(&self, config: PeerConfig) -> Result<PeerUpdate, PeerError> {
        self.peers.reconfigure(config).await
    }

    /// The configuration a peer runs with.
    pub fn peer_config(&self, peer: &PeerKey) -> Option<PeerConfig> {
        self.peers.config_of(peer)
    }

    /// Start a session with a new peer, the others untouched. Its TCP MD5 key goes on the
    /// listener before any connection from it is accepted.
    pub async fn add_peer(&self, config: PeerConfig) -> Result<(), PeerError> {
        self.peers.add(config).await
    }

    /// Remove a peer: its sessions close with NOTIFICATION Cease/3 (Peer De-configured, RFC
    /// 4486), its routes leave the Loc-RIB (stale ones too), its status and listener key go.
    /// Returns once that is done; the other peers are untouched.
    pub async fn remove_peer(&self, peer: &PeerKey) -> Result<(), PeerError> {
        self.peers.remove(peer).await
    }

    /// Give the peer `config.peer` a new configuration: its sessions close with Cease/6 (Other
    /// Configuration Change), its routes go, and it starts afresh with `config`. Only this
    /// peer is reset, and only if its configuration changed.
    pub async fn replace_peer(&self, config: PeerConfig) -> Result<(), PeerError> {
        self.peers.replace(config).await
    }

    /// What `peer`'s BFD session did (RFC 5882): [`BfdSignal::Down`] closes its session with
    /// Cease/10 (BFD Down, RFC 9384) and holds it down until [`BfdSignal::Up`]. Waits while
    /// the peer's task is busy; the signal is never dropped.
    pub async fn bfd(&self, peer: &PeerKey, signal: BfdSignal) -> Result<(), PeerError> {
        self.peers.bfd(peer, signal).await
    }

    /// Replace the peer `old` by `config`, whose key differs (the address or interface of one
    /// configured neighbour changed): Cease/6 to `old`, its routes withdrawn, then `config`
    /// starts. Only this peer is touched.
    pub async fn replace_peer_key(
        &self,
        old: &PeerKey,
        config: PeerConfig,
    ) -> Result<(), PeerError> {
        self.peers.rekey(old, config).await
    }

    /// Ask `peer` to send its routes again (ROUTE-REFRESH, RFC 2918); false if no such peer.
    pub fn request_refresh(&self, peer: &PeerKey) -> bool {
        self.peers.request_refresh(peer)
    }

    /// A snapshot of every peer, in the order of their keys (addresses).
    pub async fn status(&self) -> Vec<PeerStatus> {
        self.snapshot()
    }

    /// [`SpeakerHandle::status`] without awaiting: it only takes the in-memory locks, so a
    /// metrics collector can call it at scrape time from synchronous code.
    pub fn snapshot(&self) -> Vec<PeerStatus> {
        let mut all: Vec<(PeerStatus, (u64, u64), PeerId)> = match self.shared.status.lock() {
            Ok(s) => s
                .values()
                .map(|e| {
                    let mut st = e.status.clone();
                    st.uptime_secs = e.since.map(|t| t.elapsed().as_secs());
                    (st, e.refused, e.rib_id)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        if let Ok(rib) = self.shared.rib.lock() {
            for (s, (refused_v4, refused_v6), id) in &mut all {
                let accepted = rib.received_by_family(*id);
                s.prefixes_accepted = rib.received(*id) as u64;
                s.prefixes_ignored = rib.ignored_count(*id) as u64;
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
        let mut all: Vec<PeerStatus> = all.into_iter().map(|(s, _, _)| s).collect();
        all.sort_by(|a, b| a.peer.cmp(&b.peer));
        all
    }

    /// The Loc-RIB: each prefix with its multipath next hops.
    pub fn loc_rib(&self) -> Vec<(IpNet, Vec<NextHop>)> {
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
        self.shutdown_with(None).await;
    }

    /// [`SpeakerHandle::shutdown`], the Cease/2 NOTIFICATIONs carrying `message` as their
    /// Shutdown Communication (RFC 9003; at most 255 octets of UTF-8 go out). With graceful
    /// restart on no NOTIFICATION is sent, so neither is the message.
    pub async fn shutdown_with(&self, message: Option<String>) {
        if let Ok(mut m) = self.shared.shutdown_message.lock() {
            *m = message;
        }
        // Refuse reconnections before any session closes: a peer that reconnects at once
        // finds the port closed, not a handshake that is reset a moment later.
        self.peers.close_listener();
        self.stop.send_replace(true);
        let mut tasks = self.peers.stop_all().await;
        if let Ok(mut accept) = self.accept.lock() {
            tasks.extend(accept.take());
        }
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
