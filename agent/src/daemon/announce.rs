//! Prefixes announced through the API (`lattice announce`): service and load-balancer
//! addresses, announced to the peers whose export policy accepts them. Kept in
//! `ipam.state_dir/announcements.json`, so that a restarted latticed announces them again in its
//! first UPDATEs: peers that held our routes through the graceful restart see them refreshed,
//! never withdrawn.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use api::proto::Announcement;
use bgp::driver::{export_decision, Announced, PeerConfig, SpeakerHandle};
use bgp::policy::RouteSource;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::info;

use crate::config::Community;
use crate::metrics::Metrics;
use crate::state_file;

/// The file, in `ipam.state_dir`.
pub const FILE: &str = "announcements.json";

/// The file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    /// Each announced prefix with its communities as given.
    announced: BTreeMap<IpNet, Vec<String>>,
}

/// Why an announcement or a withdrawal was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The API's error kind: `bad_request`, `not_exported`, `not_found`, `state`.
    pub kind: &'static str,
    /// What to tell the operator.
    pub message: String,
}

fn refused(kind: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        kind,
        message: message.into(),
    }
}

/// The announced prefixes, their file, and the speaker they go to.
#[derive(Debug)]
pub struct Announcements {
    file: PathBuf,
    speaker: SpeakerHandle,
    local_as: u32,
    metrics: std::sync::OnceLock<Arc<Metrics>>,
    held: Mutex<Stored>,
}

/// What the file held, between [`Announcements::read`] and [`Announcements::start`].
#[derive(Debug)]
pub struct Kept(Stored);

impl Announcements {
    /// Read `state_dir`'s file (none yet: nothing announced). A file that does not parse is an
    /// error naming it: starting without its prefixes would withdraw them.
    pub fn read(state_dir: &Path) -> std::io::Result<(PathBuf, usize, Kept)> {
        let file = state_dir.join(FILE);
        let held = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice::<Stored>(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", file.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stored::default(),
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", file.display()),
                ))
            }
        };
        let n = held.announced.len();
        Ok((file, n, Kept(held)))
    }

    /// Hand what [`Announcements::read`] found to the speaker at once: called right after the
    /// speaker starts, before any session can reach Established, so the first UPDATEs a peer
    /// gets after a restart carry them.
    pub fn start(file: PathBuf, kept: Kept, speaker: SpeakerHandle, local_as: u32) -> Self {
        let held = kept.0;
        if !held.announced.is_empty() {
            info!(
                prefixes = held.announced.len(),
                "announcing the prefixes kept from the last run"
            );
        }
        let me = Announcements {
            file,
            speaker,
            local_as,
            metrics: std::sync::OnceLock::new(),
            held: Mutex::new(held.clone()),
        };
        me.publish(&held);
        me
    }

    /// Count in `metrics` from now on.
    pub async fn set_metrics(&self, metrics: Arc<Metrics>) {
        metrics.bgp_announced(self.held.lock().await.announced.len());
        let _ = self.metrics.set(metrics);
    }

    /// Announce `prefixes` with `communities`. Refused whole when one is not a network
    /// address, a community does not parse, or no peer's export accepts a prefix (the reason
    /// per peer).
    pub async fn announce(
        &self,
        prefixes: &[IpNet],
        communities: &[String],
    ) -> Result<Vec<Announcement>, Refused> {
        if prefixes.is_empty() {
            return Err(refused("bad_request", "no prefix given"));
        }
        let extra = parse_communities(communities)?;
        let peers = self.peers();
        for p in prefixes {
            if p.addr() != p.network() {
                return Err(refused(
                    "bad_request",
                    format!("{p} has host bits set (did you mean {}?)", p.trunc()),
                ));
            }
            let (to, why_not) = self.exported(&peers, *p, &extra);
            if to.is_empty() {
                let why = if peers.is_empty() {
                    "no BGP peer is configured".to_string()
                } else {
                    why_not.join("; ")
                };
                return Err(refused(
                    "not_exported",
                    format!("{p} would reach no peer: {why}"),
                ));
            }
        }
        let mut held = self.held.lock().await;
        let mut next = held.clone();
        for p in prefixes {
            next.announced.insert(*p, communities.to_vec());
        }
        self.save(&next)?;
        self.publish(&next);
        *held = next;
        info!(?prefixes, ?communities, "announced through the API");
        Ok(prefixes
            .iter()
            .map(|p| self.describe(&peers, *p, communities))
            .collect())
    }

    /// Stop announcing `prefixes`; `not_found` (and nothing changed) if one is not announced.
    pub async fn withdraw(&self, prefixes: &[IpNet]) -> Result<Vec<IpNet>, Refused> {
        let mut held = self.held.lock().await;
        if let Some(p) = prefixes.iter().find(|p| !held.announced.contains_key(p)) {
            return Err(refused("not_found", format!("{p} is not announced")));
        }
        let mut next = held.clone();
        for p in prefixes {
            next.announced.remove(p);
        }
        self.save(&next)?;
        self.publish(&next);
        *held = next;
        info!(?prefixes, "withdrawn through the API");
        Ok(prefixes.to_vec())
    }

    /// Every announced prefix, with the peers it reaches now.
    pub async fn list(&self) -> Vec<Announcement> {
        let held = self.held.lock().await;
        let peers = self.peers();
        held.announced
            .iter()
            .map(|(p, c)| self.describe(&peers, *p, c))
            .collect()
    }

    /// The speaker's peers as they run now (after any reload).
    fn peers(&self) -> Vec<PeerConfig> {
        self.speaker
            .snapshot()
            .iter()
            .filter_map(|s| self.speaker.peer_config(&s.peer))
            .collect()
    }

    /// The peers `prefix` is exported to, and why not to each other one.
    fn exported(
        &self,
        peers: &[PeerConfig],
        prefix: IpNet,
        extra: &Announced,
    ) -> (Vec<String>, Vec<String>) {
        let (mut to, mut why_not) = (Vec::new(), Vec::new());
        for peer in peers {
            match export_decision(
                peer,
                self.local_as,
                prefix,
                RouteSource::Announced,
                Some(extra),
            ) {
                Ok(_) => to.push(peer.peer.to_string()),
                Err(why) => why_not.push(format!("peer {}: {why}", peer.peer)),
            }
        }
        (to, why_not)
    }

    fn describe(
        &self,
        peers: &[PeerConfig],
        prefix: IpNet,
        communities: &[String],
    ) -> Announcement {
        let extra = parse_communities(communities).unwrap_or_default();
        let (peers, not_exported) = self.exported(peers, prefix, &extra);
        Announcement {
            prefix,
            communities: communities.to_vec(),
            peers,
            not_exported,
        }
    }

    fn save(&self, stored: &Stored) -> Result<(), Refused> {
        state_file::write_json(&self.file, stored).map_err(|e| {
            refused(
                "state",
                format!("writing {}: {e} (nothing changed)", self.file.display()),
            )
        })
    }

    /// Hand `stored` to the speaker (only the difference goes out) and the metrics.
    fn publish(&self, stored: &Stored) {
        let announced = stored
            .announced
            .iter()
            .map(|(p, c)| (*p, parse_communities(c).unwrap_or_default()))
            .collect();
        self.speaker.set_announced(announced);
        if let Some(m) = self.metrics.get() {
            m.bgp_announced(stored.announced.len());
        }
    }
}

/// Communities as the speaker carries them; `bad_request` naming the first that does not parse.
fn parse_communities(list: &[String]) -> Result<Announced, Refused> {
    let mut out = Announced::default();
    for c in list {
        match c.parse::<Community>() {
            Ok(Community::Standard(v)) => out.communities.push(v),
            Ok(Community::Large(v)) => out.large_communities.push(v),
            Err(e) => return Err(refused("bad_request", e)),
        }
    }
    Ok(out)
}
