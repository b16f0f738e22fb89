//! latticed's BFD: one [`Bfd`] driver (its own OS thread, so neither a RIB ingest nor a
//! netlink burst delays a packet or a detection), a session per peer with
//! `bgp.peers[].bfd.enabled`, following the peer's configuration (added, changed, removed with
//! it: [`BfdSupervisor::sync`]), and its link to the speaker: a fall from Up is
//! [`BfdSignal::Down`] (Cease/10, the BGP session held down), Up again is [`BfdSignal::Up`].
//!
//! - `path`: single hop or multihop, from the kernel's addresses and routes;
//! - `events`: each state change: the speaker told, one log line;
//! - `view`: what the API and the metrics show.
//!
//! The C bit (RFC 5880 §4.1): set while latticed runs (its BFD does not wait for the control
//! plane's work), cleared just before a stop with graceful restart, so that a ToR reading it
//! (FRR's `neighbor X bfd check-control-plane-failure`) takes the coming silence for our
//! restart and keeps our routes (RFC 5882 §4.3). docs/operations.md has the whole story.

mod events;
mod path;
mod view;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bfd::driver::{Bfd, DriverConfig, SessionSpec};
use bfd::packet::State;
use bfd::session::Params;
use bgp::driver::{BfdSignal, PeerKey, SpeakerHandle};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::{BfdTimers, Config};
use crate::kernel::Kernel;
use path::{Connected, Path};
pub use view::{BfdView, PeerBfdView};

/// Sessions waiting for their BGP session are checked this often...
const TICK: Duration = Duration::from_millis(200);
/// ...and every tenth tick (2 s) the other pending ones are tried again and the view refreshed.
const TICKS_PER_RETRY: u32 = 10;
/// Why a session has not started: its peer's BGP session has never been Established.
const WAITING_FOR_BGP: &str =
    "waiting for the BGP session to be established first (BFD then runs between its addresses)";
/// The BFD thread's `SCHED_FIFO` priority: above every ordinary thread (the RIB, the kernel
/// work, other processes), low among real-time ones (kernel threads, other real-time
/// daemons of the host).
const REALTIME_PRIORITY: u8 = 10;
/// How long a stop waits for every Up session to send a packet with the C bit cleared.
const C_BIT_WAIT: Duration = Duration::from_millis(1500);
/// After a graceful restart, how long a BFD peer's BGP session waits for BFD to be Up at most.
const WAIT_AFTER_RESTART: Duration = Duration::from_secs(10);

/// After our graceful restart, a BFD peer's BGP session starts only once its BFD session is
/// Up: the peer's BFD session of before the restart must fall (on our new session's first
/// Down packet, or its detection time) while no BGP session is up, or the peer would close
/// the new session with Cease/10 and drop our routes (FRR does). At most
/// [`WAIT_AFTER_RESTART`], and half our restart time: a peer that does not run BFD gets its
/// session anyway, well before it drops our routes.
pub fn wait_after_restart(restart_time_secs: u16) -> Duration {
    WAIT_AFTER_RESTART.min(Duration::from_secs(u64::from(restart_time_secs)) / 2)
}

/// One peer's BFD session as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedSession {
    /// The peer.
    pub peer: PeerKey,
    /// Its timers, defaults applied.
    pub timers: BfdTimers,
    /// `bgp.peers[].bfd.multihop`.
    pub multihop: Option<bool>,
    /// `bgp.peers[].local_address`.
    pub local: Option<IpAddr>,
}

/// Every peer of `config` with BFD enabled.
pub fn wanted(config: &Config) -> Vec<WantedSession> {
    config
        .bgp
        .peers
        .iter()
        .filter_map(|p| {
            Some(WantedSession {
                peer: p.key(),
                timers: p.bfd.timers(&config.bgp.bfd)?,
                multihop: p.bfd.multihop,
                local: p.local_address,
            })
        })
        .collect()
}

/// A configured session and what became of it.
#[derive(Debug)]
struct Entry {
    wanted: WantedSession,
    /// Where it runs, once the driver took it.
    running: Option<Path>,
    /// Why it does not run.
    pending: Option<String>,
    /// It waits for its BGP session to be Established once.
    waits_for_bgp: bool,
    /// The address the running session talks to (an interface peer's is its neighbour's
    /// link-local address, which may change: the session then restarts).
    remote: Option<IpAddr>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Started with the first session.
    driver: Option<Bfd<PeerKey>>,
    entries: BTreeMap<PeerKey, Entry>,
    stopped: bool,
}

/// The agent's BFD sessions.
#[derive(Debug)]
pub struct BfdSupervisor {
    kernel: Arc<dyn Kernel>,
    speaker: SpeakerHandle,
    /// Sessions start before their BGP session (after our graceful restart, when BGP waits
    /// for BFD instead).
    before_bgp: bool,
    inner: tokio::sync::Mutex<Inner>,
    view: std::sync::Mutex<BfdView>,
}

impl BfdSupervisor {
    /// No sessions yet; the driver starts with the first one. A session starts once its peer's
    /// BGP session has been Established (as FRR's bgpd starts its own: the peer then knows
    /// the addresses, and FRR, which re-creates its BFD session when its BGP session comes up,
    /// would otherwise take that re-creation for a fall and reset the new BGP session);
    /// `before_bgp` (after our graceful restart) starts them at once.
    pub fn new(kernel: Arc<dyn Kernel>, speaker: SpeakerHandle, before_bgp: bool) -> Arc<Self> {
        Arc::new(BfdSupervisor {
            kernel,
            speaker,
            before_bgp,
            inner: tokio::sync::Mutex::new(Inner::default()),
            view: std::sync::Mutex::new(BfdView::default()),
        })
    }

    /// Make the sessions those of `wanted`: new ones start, removed ones go (their peer's BGP
    /// session is no longer held by them), changed timers run a Poll Sequence (RFC 5880
    /// §6.8.3), a changed path (multihop, local address) restarts the session.
    pub async fn sync(self: &Arc<Self>, wanted: Vec<WantedSession>) {
        let mut inner = self.inner.lock().await;
        if inner.stopped {
            return;
        }
        let wanted: BTreeMap<PeerKey, WantedSession> =
            wanted.into_iter().map(|w| (w.peer.clone(), w)).collect();
        let gone: Vec<PeerKey> = inner
            .entries
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            self.stop_session(&mut inner, &key).await;
            inner.entries.remove(&key);
            info!(peer = %key, "BFD session removed from the configuration");
        }
        for (key, w) in wanted {
            match inner.entries.get_mut(&key) {
                Some(e) if e.wanted == w => {}
                Some(e) if same_path(&e.wanted, &w) && e.running.is_some() => {
                    e.wanted = w;
                    let params = params(&e.wanted.timers);
                    if let (Some(driver), Ok(params)) = (&inner.driver, params) {
                        if let Err(err) = driver.set_params(key.clone(), params).await {
                            warn!(peer = %key, error = %err, "new BFD timers");
                        }
                    }
                }
                Some(_) => {
                    self.stop_session(&mut inner, &key).await;
                    if let Some(e) = inner.entries.get_mut(&key) {
                        e.wanted = w;
                    }
                    self.start_session(&mut inner, &key).await;
                }
                None => {
                    inner.entries.insert(
                        key.clone(),
                        Entry {
                            wanted: w,
                            running: None,
                            pending: None,
                            waits_for_bgp: false,
                            remote: None,
                        },
                    );
                    self.start_session(&mut inner, &key).await;
                }
            }
        }
        drop(inner);
        self.refresh().await;
    }

    /// Tries the pending sessions again and refreshes the view, every [`MAINTENANCE`].
    pub fn spawn_maintenance(self: &Arc<Self>) -> JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            for tick in 1u32.. {
                tokio::time::sleep(TICK).await;
                let retry = tick % TICKS_PER_RETRY == 0;
                let snapshot = me.speaker.snapshot();
                let established: std::collections::HashSet<PeerKey> = snapshot
                    .iter()
                    .filter(|p| p.established_transitions > 0)
                    .map(|p| p.peer.clone())
                    .collect();
                let neighbours: HashMap<PeerKey, IpAddr> = snapshot
                    .iter()
                    .filter_map(|p| Some((p.peer.clone(), IpAddr::V6(p.neighbour?))))
                    .collect();
                let started = {
                    let mut inner = me.inner.lock().await;
                    if inner.stopped {
                        return;
                    }
                    // An interface peer's neighbour now has another link-local address (a
                    // replaced router): its session follows.
                    let moved: Vec<PeerKey> = inner
                        .entries
                        .iter()
                        .filter(|(k, e)| {
                            matches!(k, PeerKey::Interface(_))
                                && e.running.is_some()
                                && neighbours.get(*k).is_some_and(|n| e.remote != Some(*n))
                        })
                        .map(|(k, _)| k.clone())
                        .collect();
                    for key in &moved {
                        info!(peer = %key, "the neighbour's link-local address changed: BFD session restarted");
                        me.stop_session(&mut inner, key).await;
                    }
                    let due: Vec<PeerKey> = inner
                        .entries
                        .iter()
                        .filter(|(k, e)| {
                            e.running.is_none()
                                && (retry
                                    || moved.contains(*k)
                                    || (e.waits_for_bgp && established.contains(*k)))
                        })
                        .map(|(k, _)| k.clone())
                        .collect();
                    for key in &due {
                        me.start_session(&mut inner, key).await;
                    }
                    !due.is_empty()
                };
                if retry || started {
                    me.refresh().await;
                }
            }
        })
    }

    /// The last view (no round trip to the driver: for a metrics scrape).
    pub fn view(&self) -> BfdView {
        self.view.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The view as the driver sees it now (for the API).
    pub async fn fresh_view(&self) -> BfdView {
        self.refresh().await;
        self.view()
    }

    /// latticed stops. With graceful restart: the C bit is cleared and sent (our BFD is about
    /// to share our control plane's restart), the speaker closes its connections without a
    /// NOTIFICATION, then the sessions go silent: peers that honour the C bit keep our routes
    /// (RFC 5882 §4.3), and no AdminDown tells a peer to drop the BGP session. Without:
    /// Cease/2 on every session first, then AdminDown on every BFD session (RFC 5882 §3.2: not
    /// a failure). `shutdown_message`: `bgp.shutdown_message`, the Cease/2's Shutdown
    /// Communication (RFC 9003).
    pub async fn stop_with(
        &self,
        speaker: &SpeakerHandle,
        graceful_restart: bool,
        shutdown_message: Option<String>,
    ) {
        let mut inner = self.inner.lock().await;
        inner.stopped = true;
        let driver = inner.driver.take();
        drop(inner);
        let Some(driver) = driver else {
            speaker.shutdown_with(shutdown_message.clone()).await;
            return;
        };
        if graceful_restart {
            clear_c_bit(&driver).await;
            speaker.shutdown_with(shutdown_message.clone()).await;
        } else {
            speaker.shutdown_with(shutdown_message.clone()).await;
            if let Err(e) = driver.admin_down_all().await {
                warn!(error = %e, "BFD AdminDown at stop");
            }
        }
        driver.shutdown().await;
        info!(graceful_restart, "BFD sessions stopped");
    }

    /// Creates `key`'s session if it can; else records why not (shown by `lattice peers`,
    /// logged when the reason changes).
    async fn start_session(self: &Arc<Self>, inner: &mut Inner, key: &PeerKey) {
        let result = self.try_start(inner, key).await;
        let Some(e) = inner.entries.get_mut(key) else {
            return;
        };
        e.waits_for_bgp = matches!(&result, Err(why) if why == WAITING_FOR_BGP);
        match result {
            Ok(path) => {
                info!(peer = %key, ?path, "BFD session started");
                e.running = Some(path);
                e.pending = None;
            }
            Err(why) if why == WAITING_FOR_BGP => e.pending = Some(why),
            Err(why) => {
                if e.pending.as_ref() != Some(&why) {
                    warn!(peer = %key, reason = %why, "BFD session cannot start yet: trying again every 2 s");
                }
                e.pending = Some(why);
            }
        }
    }

    async fn try_start(self: &Arc<Self>, inner: &mut Inner, key: &PeerKey) -> Result<Path, String> {
        let wanted = inner
            .entries
            .get(key)
            .map(|e| e.wanted.clone())
            .ok_or("not configured")?;
        let params = params(&wanted.timers).map_err(|e| e.to_string())?;
        let connected = self.connected().await?;
        let status = self.speaker.snapshot().into_iter().find(|p| &p.peer == key);
        let (peer, path) = match key {
            PeerKey::Interface(ifname) => {
                if wanted.multihop == Some(true) {
                    return Err(format!(
                        "an interface peer is on the other end of {ifname}: BFD is single hop there, not multihop"
                    ));
                }
                let neighbour = status.as_ref().and_then(|s| s.neighbour).ok_or_else(|| {
                    format!("waiting for the neighbour's link-local address on {ifname}")
                })?;
                let path = path::interface(ifname, &connected)?;
                (IpAddr::V6(neighbour), path)
            }
            PeerKey::Address(peer) => {
                let peer = *peer;
                let path = path::choose(peer, wanted.local, wanted.multihop, &connected, || {
                    path::route_source(peer)
                })?;
                (peer, path)
            }
        };
        let established_once = status.is_some_and(|p| p.established_transitions > 0);
        if !self.before_bgp && !established_once {
            return Err(WAITING_FOR_BGP.into());
        }
        let spec = match &path {
            Path::Single { interface, local } => SessionSpec {
                local: *local,
                interface: interface.clone(),
                ..SessionSpec::single_hop(key.clone(), peer, params)
            },
            Path::Multi { local } => SessionSpec::multihop(key.clone(), *local, peer, params),
        };
        let driver = self.driver(inner).await?;
        driver.add_session(spec).await.map_err(|e| e.to_string())?;
        if let Some(e) = inner.entries.get_mut(key) {
            e.remote = Some(peer);
        }
        Ok(path)
    }

    /// The driver, started (with the C bit set) on first use.
    async fn driver<'a>(
        self: &Arc<Self>,
        inner: &'a mut Inner,
    ) -> Result<&'a Bfd<PeerKey>, String> {
        if inner.driver.is_none() {
            let (driver, events) = Bfd::start(DriverConfig {
                realtime_priority: Some(REALTIME_PRIORITY),
                ..DriverConfig::default()
            })
            .map_err(|e| format!("starting the BFD driver: {e}"))?;
            match driver.realtime() {
                Ok(()) => info!(
                    priority = REALTIME_PRIORITY,
                    "BFD runs on a SCHED_FIFO thread"
                ),
                Err(why) => {
                    warn!(reason = %why, "BFD runs on an ordinary thread: a busy host may delay it")
                }
            }
            if let Err(e) = driver.set_control_plane_independent(true).await {
                warn!(error = %e, "setting the BFD C bit");
            }
            tokio::spawn(events::run(self.clone(), events));
            inner.driver = Some(driver);
        }
        inner.driver.as_ref().ok_or_else(|| "no BFD driver".into())
    }

    /// Removes `key`'s running session (AdminDown to the peer first) and releases its BGP
    /// session, which this BFD session may have been holding down.
    async fn stop_session(&self, inner: &mut Inner, key: &PeerKey) {
        let running = inner
            .entries
            .get_mut(key)
            .and_then(|e| e.running.take())
            .is_some();
        if let (true, Some(driver)) = (running, &inner.driver) {
            if let Err(e) = driver.remove_session(key.clone()).await {
                warn!(peer = %key, error = %e, "removing the BFD session");
            }
        }
        let _ = self.speaker.bfd(key, BfdSignal::Up).await;
    }

    /// Our addresses with the interfaces they are on.
    async fn connected(&self) -> Result<Vec<Connected>, String> {
        let what = |e: crate::kernel::KernelError| format!("reading the kernel's addresses: {e}");
        let links: HashMap<u32, String> = self
            .kernel
            .links()
            .await
            .map_err(what)?
            .into_iter()
            .map(|l| (l.index, l.name))
            .collect();
        Ok(self
            .kernel
            .all_addresses()
            .await
            .map_err(what)?
            .into_iter()
            .filter_map(|(index, net)| {
                Some(Connected {
                    ifname: links.get(&index)?.clone(),
                    net,
                })
            })
            .collect())
    }

    /// Reads every session from the driver into the view.
    async fn refresh(&self) {
        let (sessions, drops, configured) = {
            let inner = self.inner.lock().await;
            let sessions = match &inner.driver {
                Some(d) => d.sessions().await.unwrap_or_default(),
                None => Vec::new(),
            };
            let drops = inner.driver.as_ref().map(Bfd::drops);
            let configured: Vec<(PeerKey, BfdTimers, Option<String>)> = inner
                .entries
                .iter()
                .map(|(k, e)| (k.clone(), e.wanted.timers, e.pending.clone()))
                .collect();
            (sessions, drops, configured)
        };
        let mut by_key: HashMap<PeerKey, _> =
            sessions.into_iter().map(|s| (s.key.clone(), s)).collect();
        let peers = configured
            .into_iter()
            .map(|(key, timers, pending)| {
                let session = by_key.remove(&key);
                (
                    key,
                    PeerBfdView {
                        timers,
                        pending,
                        session,
                    },
                )
            })
            .collect();
        if let Ok(mut v) = self.view.lock() {
            *v = BfdView { peers, drops };
        }
    }
}

/// The timers as the driver takes them.
fn params(t: &BfdTimers) -> Result<Params, bfd::session::ParamsError> {
    Params::from_millis(u64::from(t.min_tx_ms), u64::from(t.min_rx_ms), t.multiplier)
}

/// Whether two configurations put the session on the same path (only timers differ).
fn same_path(a: &WantedSession, b: &WantedSession) -> bool {
    a.multihop == b.multihop && a.local == b.local
}

/// Clears the C bit and waits until every Up session has sent a packet carrying it.
async fn clear_c_bit(driver: &Bfd<PeerKey>) {
    let sent = |all: Vec<bfd::driver::SessionSnapshot<PeerKey>>| -> HashMap<PeerKey, u64> {
        all.into_iter()
            .filter(|s| s.status.state == State::Up)
            .map(|s| (s.key, s.counters.tx))
            .collect()
    };
    let before = sent(driver.sessions().await.unwrap_or_default());
    if let Err(e) = driver.set_control_plane_independent(false).await {
        warn!(error = %e, "clearing the BFD C bit");
        return;
    }
    let deadline = tokio::time::Instant::now() + C_BIT_WAIT;
    while tokio::time::Instant::now() < deadline {
        let now = sent(driver.sessions().await.unwrap_or_default());
        if before.iter().all(|(k, n)| now.get(k).is_none_or(|m| m > n)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    warn!("not every BFD session sent its cleared C bit before the stop");
}
