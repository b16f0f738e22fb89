//! Live reconfiguration: re-read the configuration file (on SIGHUP, or `lattice reload`),
//! refuse it whole if it is invalid or changes a key that needs a restart, else apply only the
//! difference to the running speaker.
//!
//! - `keys.rs`: THE table of what a change to each key takes (reset, import, export, restart);
//! - `diff.rs`: running configuration + new one -> a [`Plan`] of speaker commands (pure);
//! - this file: the [`Reloader`] that reads, plans and applies, one reload at a time, and the
//!   task that turns a storm of SIGHUPs into as few reloads, the last one reading the file as
//!   it was after the last signal.

mod diff;
pub mod keys;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bgp::driver::{ImportApplied, PeerError, SpeakerHandle};
use tokio::sync::{mpsc, Mutex};
use tracing::{info, warn};

pub use diff::{plan, Plan};

use crate::config::{Config, ConfigError};
use crate::daemon::bfd::BfdSupervisor;
use crate::metrics::Metrics;

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// latticed was not started from a file (a test's daemon).
    #[error("this latticed was started without a configuration file to read again")]
    NoFile,
    /// The new file is invalid: `FILE:LINE: key: problem`.
    #[error("{0}; the running configuration stays")]
    Invalid(#[from] ConfigError),
    /// The new file changes keys that need a restart.
    #[error("{}: restart required (only bgp.peers, bgp.policies and bgp.shutdown_message change live); the running configuration stays", .0.join(", "))]
    RestartRequired(Vec<&'static str>),
}

impl ReloadError {
    /// The API's error kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ReloadError::NoFile => "unsupported",
            ReloadError::Invalid(_) => "bad_config",
            ReloadError::RestartRequired(_) => "restart_required",
        }
    }
}

/// Re-reads the configuration and applies its difference.
#[derive(Debug)]
pub struct Reloader {
    path: Option<PathBuf>,
    /// The configuration applied last; held for a whole reload, so reloads never overlap.
    current: Mutex<Config>,
    speaker: SpeakerHandle,
    /// The BFD sessions follow each reload's `bgp.peers[].bfd` and `bgp.bfd`.
    bfd: Arc<BfdSupervisor>,
    metrics: Arc<Metrics>,
}

impl Reloader {
    /// A reloader for the daemon started with `config`, read from `path`.
    pub fn new(
        path: Option<PathBuf>,
        config: Config,
        speaker: SpeakerHandle,
        bfd: Arc<BfdSupervisor>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            path,
            current: Mutex::new(config),
            speaker,
            bfd,
            metrics,
        }
    }

    /// The configuration applied last.
    pub async fn current(&self) -> Config {
        self.current.lock().await.clone()
    }

    /// Read the file again and apply what changed; what was done, one line each (empty:
    /// nothing changed). An invalid file, or one changing a key that needs a restart, changes
    /// nothing.
    pub async fn reload(&self) -> Result<Vec<String>, ReloadError> {
        let mut current = self.current.lock().await;
        let result = self.reload_locked(&mut current).await;
        let outcome = match &result {
            Ok(_) => "applied",
            Err(_) => "refused",
        };
        self.metrics.config_reload(outcome);
        match &result {
            Ok(done) if done.is_empty() => info!("configuration reloaded: nothing changed"),
            Ok(done) => info!(changes = ?done, "configuration reloaded"),
            Err(e) => warn!(error = %e, "configuration reload refused"),
        }
        result
    }

    async fn reload_locked(&self, current: &mut Config) -> Result<Vec<String>, ReloadError> {
        let path = self.path.as_deref().ok_or(ReloadError::NoFile)?;
        let new = Config::load(path)?;
        let running: BTreeMap<_, _> = self
            .speaker
            .status()
            .await
            .into_iter()
            .filter_map(|s| Some((s.peer.clone(), self.speaker.peer_config(&s.peer)?)))
            // Waiting for BFD after our own restart is how the peer started, not its
            // configuration.
            .map(|(k, c)| {
                (
                    k,
                    bgp::driver::PeerConfig {
                        wait_for_bfd: None,
                        ..c
                    },
                )
            })
            // Peers the mesh found in the datastore are the mesh's, not the file's.
            .filter(|(_, c)| c.source == bgp::driver::PeerSource::Configured)
            .collect();
        let plan = plan(current, &new, &running).map_err(ReloadError::RestartRequired)?;
        let mut done = self.apply(plan).await;
        done.extend(bfd_changes(current, &new));
        // Sessions added, removed, moved or given new timers (a Poll Sequence: the BGP
        // session is not touched); peers removed above take theirs with them.
        self.bfd.sync(crate::daemon::bfd::wanted(&new)).await;
        *current = new;
        Ok(done)
    }

    /// Carry out `plan`: removals, resets, live changes, additions; one line per peer.
    async fn apply(&self, plan: Plan) -> Vec<String> {
        let mut done = Vec::new();
        for key in plan.removed {
            done.push(match self.speaker.remove_peer(&key).await {
                Ok(()) => format!("peer {key}: removed (Cease/3)"),
                Err(e) => format!("peer {key}: removing failed: {e}"),
            });
        }
        for change in plan.reset {
            let key = change.config.peer.clone();
            let what = change.what.join(", ");
            done.push(match change.was {
                Some(was) => match self.speaker.replace_peer_key(&was, change.config).await {
                    Ok(()) => format!("peer {was}: reset (Cease/6) for {what}, now peer {key}"),
                    Err(e) => format!("peer {was}: reset for {what} (now {key}) failed: {e}"),
                },
                None => match self.speaker.replace_peer(change.config).await {
                    Ok(()) => format!("peer {key}: reset (Cease/6) for {what}"),
                    Err(e) => format!("peer {key}: reset for {what} failed: {e}"),
                },
            });
        }
        for change in plan.live {
            let key = change.config.peer.clone();
            let what = change.what.join(", ");
            let config = change.config.clone();
            done.push(match self.speaker.reconfigure_peer(change.config).await {
                Ok(u) => {
                    let mut how = Vec::new();
                    match u.import {
                        ImportApplied::Unchanged => {}
                        ImportApplied::RouteRefresh => how.push("import by ROUTE-REFRESH".into()),
                        ImportApplied::KeptAdjRibIn => {
                            how.push("import from the kept Adj-RIB-In".into());
                        }
                        ImportApplied::NotEstablished => {
                            how.push("import at the next session".into());
                        }
                    }
                    if u.export_changed {
                        how.push(format!("export by {} UPDATE(s)", u.updates_sent));
                    }
                    format!("peer {key}: {what} applied live ({})", how.join(", "))
                }
                // The table said live, the speaker says the session changed: a new session.
                Err(PeerError::NeedsReset(_)) => match self.speaker.replace_peer(config).await {
                    Ok(()) => format!("peer {key}: reset (Cease/6) for {what}"),
                    Err(e) => format!("peer {key}: reset for {what} failed: {e}"),
                },
                Err(e) => format!("peer {key}: applying {what} failed: {e}"),
            });
        }
        for config in plan.added {
            let key = config.peer.clone();
            done.push(match self.speaker.add_peer(config).await {
                Ok(()) => format!("peer {key}: added"),
                Err(e) => format!("peer {key}: adding failed: {e}"),
            });
        }
        done
    }
}

/// Reload on every message of `hangups` (SIGHUP); messages that arrive during a reload make
/// one more, so the last reload reads the file as it was after the last signal.
pub fn spawn_hangups(reloader: Arc<Reloader>, mut hangups: mpsc::Receiver<()>) {
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            while hangups.try_recv().is_ok() {}
            info!("SIGHUP: reloading the configuration");
            // The outcome is logged and counted by `reload`.
            let _ = reloader.reload().await;
        }
    });
}

#[cfg(test)]
mod tests;

/// One line per peer whose BFD session a reload changes (`bgp.bfd` or its own `bfd`), peers
/// kept in both files only: added and removed peers take or lose theirs with them.
fn bfd_changes(old: &Config, new: &Config) -> Vec<String> {
    let before: BTreeMap<_, _> = crate::daemon::bfd::wanted(old)
        .into_iter()
        .map(|w| (w.peer.clone(), w))
        .collect();
    let after: BTreeMap<_, _> = crate::daemon::bfd::wanted(new)
        .into_iter()
        .map(|w| (w.peer.clone(), w))
        .collect();
    let kept = |key: &bgp::PeerKey| {
        old.bgp.peers.iter().any(|p| &p.key() == key)
            && new.bgp.peers.iter().any(|p| &p.key() == key)
    };
    let mut out = Vec::new();
    for (key, w) in &after {
        match before.get(key) {
            None if kept(key) => {
                out.push(format!("peer {key}: BFD started (BGP session untouched)"))
            }
            Some(b) if b != w => out.push(format!(
                "peer {key}: BFD {} (BGP session untouched)",
                if b.timers != w.timers && b.multihop == w.multihop && b.local == w.local {
                    "timers changed by a Poll Sequence"
                } else {
                    "session restarted on its new path"
                }
            )),
            _ => {}
        }
    }
    for key in before.keys() {
        if !after.contains_key(key) && kept(key) {
            out.push(format!(
                "peer {key}: BFD stopped (AdminDown; BGP session untouched)"
            ));
        }
    }
    out
}
