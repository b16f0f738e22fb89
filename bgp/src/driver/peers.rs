//! The running speaker's peers: one task each, added, removed and replaced one at a time while
//! the others carry on.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::warn;

use super::config::{Announced, PeerConfig};
use super::listener::Listener;
use super::md5;
use super::peer::{BfdSignal, PeerChannels, PeerCommand, PeerTask, PeerUpdate};
use super::shared::{PeerEntry, Shared};
use super::status::{PeerSettings, PeerStatus};
use crate::fsm::peer::Removal;
use crate::PeerKey;

/// How long a stopping peer task may take to close its sessions.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a per-peer command was refused.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// A peer with this key runs already.
    #[error("peer {0} is already configured")]
    AlreadyConfigured(PeerKey),
    /// No peer with this key runs.
    #[error("peer {0} is not configured")]
    NotConfigured(PeerKey),
    /// The TCP MD5 password cannot be used (empty, over 80 bytes), or the listener refused it.
    #[error("peer {key}: {source}")]
    Password {
        /// The peer.
        key: PeerKey,
        /// What the check or the kernel said.
        #[source]
        source: std::io::Error,
    },
    /// The speaker has been shut down.
    #[error("the BGP speaker has stopped")]
    Stopped,
    /// The change touches the session itself (see [`super::SpeakerHandle::replace_peer`]).
    #[error("peer {0}: the change needs a new session")]
    NeedsReset(PeerKey),
}

/// One peer's running task.
#[derive(Debug)]
struct Running {
    config: PeerConfig,
    /// The RIB's name for its routes.
    rib_id: crate::rib::PeerId,
    commands: mpsc::Sender<PeerCommand>,
    task: JoinHandle<()>,
}

/// The tasks, by peer.
#[derive(Debug, Default)]
struct Table {
    peers: HashMap<PeerKey, Running>,
    /// Seeds each new task's connect-retry jitter.
    next_index: u64,
    stopped: bool,
}

/// The speaker's peers.
#[derive(Debug)]
pub(super) struct Peers {
    shared: Arc<Shared>,
    /// Taken at shutdown: the socket closes with the accept loop, so the address can be bound
    /// again while handles to the stopped speaker live on.
    listener: Mutex<Option<Listener>>,
    prefixes: watch::Receiver<Vec<IpNet>>,
    announced: watch::Receiver<Arc<BTreeMap<IpNet, Announced>>>,
    stop: watch::Receiver<bool>,
    table: Mutex<Table>,
    /// One add, remove or replace at a time: a replaced peer's old task is gone before the new
    /// one starts.
    admin: tokio::sync::Mutex<()>,
}

impl Peers {
    /// No peers yet; tasks will take our routes and the stop signal from these receivers.
    pub fn new(
        shared: Arc<Shared>,
        listener: Option<Listener>,
        prefixes: watch::Receiver<Vec<IpNet>>,
        announced: watch::Receiver<Arc<BTreeMap<IpNet, Announced>>>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            shared,
            listener: Mutex::new(listener),
            prefixes,
            announced,
            stop,
            table: Mutex::new(Table::default()),
            admin: tokio::sync::Mutex::new(()),
        }
    }

    /// Start a peer. `keyed`: its TCP MD5 key is on the listener already (peers configured at
    /// start get theirs before `listen()`).
    pub fn start(&self, config: PeerConfig, keyed: bool) -> Result<(), PeerError> {
        let key = config.peer.clone();
        let mut table = self.table.lock().map_err(|_| PeerError::Stopped)?;
        if table.stopped {
            return Err(PeerError::Stopped);
        }
        if table.peers.contains_key(&key) {
            return Err(PeerError::AlreadyConfigured(key));
        }
        let password_error = |source| PeerError::Password {
            key: key.clone(),
            source,
        };
        if let Some(password) = &config.password {
            md5::check_key(password.expose()).map_err(password_error)?;
        }
        if let (Some(listener), false) = (self.listener(), keyed) {
            listener.add_key(&config).map_err(password_error)?;
        }
        let index = table.next_index;
        table.next_index = table.next_index.wrapping_add(1);
        let (inbound_tx, inbound) = mpsc::channel(4);
        let (commands_tx, commands) = mpsc::channel(4);
        if let Ok(mut status) = self.shared.status.lock() {
            status.insert(key.clone(), new_entry(&config, index));
        }
        if let Ok(mut routes) = self.shared.inbound.lock() {
            routes.insert(key.clone(), inbound_tx);
        }
        // Reflection (RFC 4456) is between iBGP peers of a reflector only.
        let reflect = config
            .reflect
            .filter(|_| self.shared.cluster_id.is_some())
            .filter(|_| {
                config
                    .remote_as
                    .accepts(self.shared.local_as, self.shared.local_as)
            });
        if let Ok(mut rib) = self.shared.rib.lock() {
            rib.set_reflect_role(crate::rib::PeerId(index), reflect);
        }
        let channels = PeerChannels {
            inbound,
            commands,
            prefixes: self.prefixes.clone(),
            announced: self.announced.clone(),
            stop: self.stop.clone(),
            reflected: reflect.map(|_| self.shared.reflected.subscribe()),
        };
        let task = PeerTask::new(config.clone(), index, self.shared.clone(), channels);
        let running = Running {
            config,
            rib_id: crate::rib::PeerId(index),
            commands: commands_tx,
            task: tokio::spawn(task.run()),
        };
        table.peers.insert(key, running);
        Ok(())
    }

    /// Add a peer to the running speaker.
    pub async fn add(&self, config: PeerConfig) -> Result<(), PeerError> {
        let _one_at_a_time = self.admin.lock().await;
        self.start(config, false)
    }

    /// Remove a peer: Cease/3 on its sessions, its routes withdrawn, its task gone.
    pub async fn remove(&self, key: &PeerKey) -> Result<(), PeerError> {
        let _one_at_a_time = self.admin.lock().await;
        self.stop_peer(key, Removal::Deconfigured).await.map(|_| ())
    }

    /// Give a peer a new configuration: its sessions close with Cease/6, its routes go, and it
    /// starts again with `config`. The other peers are not touched; nor is this one if its
    /// configuration did not change.
    pub async fn replace(&self, config: PeerConfig) -> Result<(), PeerError> {
        let _one_at_a_time = self.admin.lock().await;
        let key = config.peer.clone();
        let unchanged = {
            let table = self.table.lock().map_err(|_| PeerError::Stopped)?;
            let running = table
                .peers
                .get(&key)
                .ok_or_else(|| PeerError::NotConfigured(key.clone()))?;
            running.config == config
        };
        if unchanged {
            return Ok(());
        }
        // Refuse a bad password before the old session is torn down.
        if let Some(password) = &config.password {
            md5::check_key(password.expose()).map_err(|source| PeerError::Password {
                key: key.clone(),
                source,
            })?;
        }
        self.stop_peer(&key, Removal::Reconfigured).await?;
        self.start(config, false)
    }

    /// Replace the peer `old` by `config`, a peer of another key (its address or interface
    /// changed in place): `old`'s sessions close with Cease/6 and its routes go, then `config`
    /// starts. The other peers are not touched.
    pub async fn rekey(&self, old: &PeerKey, config: PeerConfig) -> Result<(), PeerError> {
        let _one_at_a_time = self.admin.lock().await;
        {
            let table = self.table.lock().map_err(|_| PeerError::Stopped)?;
            if !table.peers.contains_key(old) {
                return Err(PeerError::NotConfigured(old.clone()));
            }
            if table.peers.contains_key(&config.peer) {
                return Err(PeerError::AlreadyConfigured(config.peer.clone()));
            }
        }
        if let Some(password) = &config.password {
            md5::check_key(password.expose()).map_err(|source| PeerError::Password {
                key: config.peer.clone(),
                source,
            })?;
        }
        self.stop_peer(old, Removal::Reconfigured).await?;
        self.start(config, false)
    }

    /// Apply a configuration whose session part is unchanged to a running peer, without a reset;
    /// [`PeerError::NeedsReset`] if the session part differs.
    pub async fn reconfigure(&self, config: PeerConfig) -> Result<PeerUpdate, PeerError> {
        let _one_at_a_time = self.admin.lock().await;
        let key = config.peer.clone();
        let commands = {
            let table = self.table.lock().map_err(|_| PeerError::Stopped)?;
            if table.stopped {
                return Err(PeerError::Stopped);
            }
            let running = table
                .peers
                .get(&key)
                .ok_or_else(|| PeerError::NotConfigured(key.clone()))?;
            if running.config == config {
                return Ok(PeerUpdate::UNCHANGED);
            }
            if running.config.session_part() != config.session_part() {
                return Err(PeerError::NeedsReset(key));
            }
            running.commands.clone()
        };
        let (done, answer) = tokio::sync::oneshot::channel();
        commands
            .send(PeerCommand::Reconfigure(Box::new(config.clone()), done))
            .await
            .map_err(|_| PeerError::Stopped)?;
        let update = answer.await.map_err(|_| PeerError::Stopped)?;
        if let Ok(mut table) = self.table.lock() {
            if let Some(running) = table.peers.get_mut(&key) {
                running.config = config;
            }
        }
        Ok(update)
    }

    /// The configuration `key` runs with.
    pub fn config_of(&self, key: &PeerKey) -> Option<PeerConfig> {
        let table = self.table.lock().ok()?;
        table.peers.get(key).map(|r| r.config.clone())
    }

    /// Stop a peer's task with `why`, then forget the peer.
    async fn stop_peer(&self, key: &PeerKey, why: Removal) -> Result<(), PeerError> {
        let running = {
            let mut table = self.table.lock().map_err(|_| PeerError::Stopped)?;
            if table.stopped {
                return Err(PeerError::Stopped);
            }
            table.peers.remove(key)
        }
        .ok_or_else(|| PeerError::NotConfigured(key.clone()))?;
        if let Ok(mut routes) = self.shared.inbound.lock() {
            routes.remove(key);
        }
        // A task that ended already (it cannot take the command) has nothing left to close.
        let _ = running.commands.send(PeerCommand::Remove(why)).await;
        let mut task = running.task;
        if tokio::time::timeout(STOP_TIMEOUT, &mut task).await.is_err() {
            warn!(peer = %key, "the peer's task did not stop within 2 s");
            task.abort();
        }
        if let Ok(mut status) = self.shared.status.lock() {
            status.remove(key);
        }
        if let Ok(mut rib) = self.shared.rib.lock() {
            rib.set_reflect_role(running.rib_id, None);
        }
        if let Some(listener) = self.listener() {
            if let Err(e) = listener.remove_key(&running.config) {
                warn!(peer = %key, error = %e, "removing the TCP MD5 key from the listener");
            }
        }
        Ok(())
    }

    /// Ask a peer for its routes again; false if there is no such peer (or it is busy).
    pub fn request_refresh(&self, key: &PeerKey) -> bool {
        self.table.lock().is_ok_and(|t| {
            t.peers
                .get(key)
                .is_some_and(|r| r.commands.try_send(PeerCommand::RequestRefresh).is_ok())
        })
    }

    /// Tell a peer what its BFD session did; waits for room in its command queue (never lost).
    pub async fn bfd(&self, key: &PeerKey, signal: BfdSignal) -> Result<(), PeerError> {
        let commands = {
            let table = self.table.lock().map_err(|_| PeerError::Stopped)?;
            table
                .peers
                .get(key)
                .map(|r| r.commands.clone())
                .ok_or_else(|| PeerError::NotConfigured(key.clone()))?
        };
        commands
            .send(PeerCommand::Bfd(signal))
            .await
            .map_err(|_| PeerError::Stopped)
    }

    /// The listener, while the speaker runs.
    fn listener(&self) -> Option<Listener> {
        self.listener.lock().ok().and_then(|l| l.clone())
    }

    /// Stop listening (before the sessions close, see [`Listener::close`]).
    pub fn close_listener(&self) {
        if let Some(listener) = self.listener() {
            listener.close();
        }
    }

    /// Refuse further commands, let go of the listener and hand over the tasks (the caller has
    /// signalled them to stop).
    pub async fn stop_all(&self) -> Vec<JoinHandle<()>> {
        let _one_at_a_time = self.admin.lock().await;
        if let Ok(mut listener) = self.listener.lock() {
            listener.take();
        }
        match self.table.lock() {
            Ok(mut table) => {
                table.stopped = true;
                table.peers.drain().map(|(_, r)| r.task).collect()
            }
            Err(_) => Vec::new(),
        }
    }
}

/// A new peer's status entry; `index` is its key in the RIB.
fn new_entry(config: &PeerConfig, index: u64) -> PeerEntry {
    let mut status = PeerStatus::new(config.peer.clone(), config.remote_as);
    status.config = PeerSettings {
        hold_time: config.hold_time,
        keepalive: config.keepalive,
        connect_retry_secs: config.connect_retry.as_secs(),
        passive: config.passive,
        max_prefixes: config.max_prefixes,
        md5: config.password.is_some(),
        source: config.source.clone(),
        reflect: config.reflect,
    };
    PeerEntry {
        status,
        rib_id: crate::rib::PeerId(index),
        since: None,
        refused: (0, 0),
    }
}
