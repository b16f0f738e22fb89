//! `bgp.mesh`: this host registered in the cluster datastore (on its etcd lease), and its mesh
//! peers kept equal to [`plan::plan`] as hosts join, change and leave (a host whose lease
//! expired is gone from the registry), through the speaker's per-peer commands: the configured
//! peers and the sessions the plan keeps are never touched.
//!
//! A host that becomes a client of route reflectors drops its other mesh sessions only once one
//! reflector session is up (or after [`SWITCH_WAIT`]), so routes do not vanish meanwhile.
//! latticed stopping does not unregister: peers keep its routes through a restart (graceful
//! restart), and the registration goes with the lease if it never comes back.

mod plan;
mod record;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bgp::driver::{PeerConfig, PeerState, SpeakerHandle};
use bgp::policy::ImportPolicy;
use bgp::PeerKey;
use ipam::etcd::{Hosts, Registry};
use ipnet::IpNet;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use plan::{plan, MeshSelf, Plan};
pub use record::HostRecord;

use super::error::DaemonError;
use super::speaker::clusters;
use super::startup::uplink_addresses;
use crate::config::Config;
use crate::kernel::Kernel;

/// How long a new client waits for a reflector session before dropping its mesh sessions
/// anyway.
const SWITCH_WAIT: Duration = Duration::from_secs(30);
/// How often a failed registration, or a deferred removal, is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// Register this host and start keeping its mesh peers; `None` when `bgp.mesh` is off.
pub(super) async fn start(
    config: &Config,
    kernel: &dyn Kernel,
    ipam: &ipam::Allocator,
    speaker: &SpeakerHandle,
) -> Result<Option<JoinHandle<()>>, DaemonError> {
    if !config.bgp.mesh.enabled {
        return Ok(None);
    }
    let Some(etcd) = ipam.etcd() else {
        return Err(DaemonError::Refused(
            "bgp.mesh.enabled: the mesh needs ipam.datastore: etcd".into(),
        ));
    };
    let me = mesh_self(config, kernel, ipam.ipam().blocks()).await;
    info!(address = ?me.record.addresses, reflector = ?me.record.route_reflector,
        "joining the mesh: registered in etcd, peering with the registered hosts");
    let registry = etcd.registry();
    let hosts = registry.watch();
    let blocks = speaker.watch_local_prefixes();
    let mesh = Mesh {
        me,
        speaker: speaker.clone(),
        registry,
        running: BTreeMap::new(),
        registered: None,
        switching_since: None,
        skipped: BTreeSet::new(),
        unreadable: BTreeSet::new(),
    };
    Ok(Some(tokio::spawn(mesh.run(hosts, blocks))))
}

/// This host as it registers: `bgp.mesh.address`, else the first IPv4 address of the
/// uplinks, else `node.router_id`; then `bgp.mesh.ipv6_address`.
async fn mesh_self(config: &Config, kernel: &dyn Kernel, blocks: Vec<IpNet>) -> MeshSelf {
    let m = &config.bgp.mesh;
    let address = match m.address {
        Some(a) => a,
        None => uplink_addresses(kernel, &config.dataplane.uplinks)
            .await
            .first()
            .map_or(IpAddr::V4(config.node.router_id), |a| IpAddr::V4(*a)),
    };
    let mut addresses = vec![address];
    addresses.extend(m.ipv6_address.map(IpAddr::V6));
    MeshSelf {
        record: HostRecord {
            name: config.node.name.clone(),
            asn: config.node.asn,
            router_id: config.node.router_id,
            addresses,
            port: config.bgp.listen.port,
            blocks,
            route_reflector: config.cluster_id(),
        },
        hold_time: m.hold_time,
        keepalive: m.keepalive,
        connect_retry: Duration::from_secs(u64::from(m.connect_retry)),
        password: m.password.clone(),
        import: ImportPolicy::cluster_default(&clusters(config)),
        ipv6: config.cluster.cidr_v6.is_some(),
        static_peers: config.bgp.peers.iter().filter_map(|p| p.address).collect(),
    }
}

/// The running mesh: what was registered and which peers it added.
struct Mesh {
    me: MeshSelf,
    speaker: SpeakerHandle,
    registry: Registry,
    /// The mesh peers running on the speaker, as configured.
    running: BTreeMap<PeerKey, PeerConfig>,
    /// The record last registered.
    registered: Option<HostRecord>,
    /// Since when this client waits for a reflector session to drop its other peers.
    switching_since: Option<Instant>,
    /// Hosts left out, as last logged.
    skipped: BTreeSet<String>,
    /// Records that could not be read, as last logged.
    unreadable: BTreeSet<(String, String)>,
}

impl Mesh {
    async fn run(
        mut self,
        mut hosts: watch::Receiver<Option<Hosts>>,
        mut blocks: watch::Receiver<Vec<IpNet>>,
    ) {
        loop {
            self.me.record.blocks = blocks.borrow_and_update().clone();
            self.register().await;
            let listed = hosts.borrow_and_update().clone();
            if let Some(listed) = listed {
                self.apply(&listed).await;
            }
            let again =
                self.registered.as_ref() != Some(&self.me.record) || self.switching_since.is_some();
            tokio::select! {
                r = hosts.changed() => if r.is_err() { return },
                r = blocks.changed() => if r.is_err() { return },
                () = tokio::time::sleep(RETRY), if again => {}
            }
        }
    }

    /// (Re-)register when the record changed; a failure is retried.
    async fn register(&mut self) {
        if self.registered.as_ref() == Some(&self.me.record) {
            return;
        }
        match self.registry.register(self.me.record.to_json()).await {
            Ok(()) => self.registered = Some(self.me.record.clone()),
            Err(e) => warn!(error = %e, "registering this host in etcd (retrying)"),
        }
    }

    /// Make the speaker's mesh peers what the plan says.
    async fn apply(&mut self, listed: &Hosts) {
        let records = self.read(listed);
        let plan = plan(&self.me, &records);
        self.log_skipped(&plan);
        for (key, config) in &plan.peers {
            let result = match self.running.get(key) {
                None => {
                    info!(peer = %key, host = %host_of(config), asn = %config.remote_as,
                        role = ?config.reflect, "mesh: adding peer");
                    self.speaker.add_peer(config.clone()).await
                }
                Some(old) if old != config => {
                    info!(peer = %key, host = %host_of(config), role = ?config.reflect,
                        "mesh: peer changed, resetting its session");
                    self.speaker.replace_peer(config.clone()).await
                }
                Some(_) => continue,
            };
            match result {
                Ok(()) => {
                    self.running.insert(key.clone(), config.clone());
                }
                Err(e) => warn!(peer = %key, error = %e, "mesh: peer not added"),
            }
        }
        let doomed: Vec<PeerKey> = self
            .running
            .keys()
            .filter(|k| !plan.peers.contains_key(*k))
            .cloned()
            .collect();
        if doomed.is_empty() {
            self.switching_since = None;
            return;
        }
        if self.wait_for_reflector(&plan) {
            return;
        }
        for key in doomed {
            let host = self.running.get(&key).map(host_of).unwrap_or_default();
            info!(peer = %key, %host, "mesh: removing peer");
            if let Err(e) = self.speaker.remove_peer(&key).await {
                warn!(peer = %key, error = %e, "mesh: removing peer");
            }
            self.running.remove(&key);
        }
    }

    /// Whether removals wait: this host has just become a client and no reflector session is
    /// up yet (for at most [`SWITCH_WAIT`]).
    fn wait_for_reflector(&mut self, plan: &Plan) -> bool {
        if plan.reflectors.is_empty() {
            self.switching_since = None;
            return false;
        }
        let up = self
            .speaker
            .snapshot()
            .iter()
            .any(|s| plan.reflectors.contains(&s.peer) && s.state == PeerState::Established);
        let since = *self.switching_since.get_or_insert_with(Instant::now);
        if up || since.elapsed() >= SWITCH_WAIT {
            self.switching_since = None;
            return false;
        }
        true
    }

    /// The records that can be read; the others logged once.
    fn read(&mut self, listed: &Hosts) -> BTreeMap<String, HostRecord> {
        let mut out = BTreeMap::new();
        let mut unreadable = BTreeSet::new();
        for (name, text) in listed {
            match HostRecord::from_json(text) {
                Some(r) if r.name == *name => {
                    out.insert(name.clone(), r);
                }
                _ => {
                    if !self.unreadable.contains(&(name.clone(), text.clone())) {
                        warn!(host = %name, record = %text, "mesh: unreadable registration ignored");
                    }
                    unreadable.insert((name.clone(), text.clone()));
                }
            }
        }
        self.unreadable = unreadable;
        out
    }

    fn log_skipped(&mut self, plan: &Plan) {
        let now: BTreeSet<String> = plan.skipped.iter().cloned().collect();
        for why in now.difference(&self.skipped) {
            warn!("mesh: host left out: {why}");
        }
        self.skipped = now;
    }
}

fn host_of(config: &PeerConfig) -> String {
    match &config.source {
        bgp::driver::PeerSource::Discovered { host } => host.clone(),
        bgp::driver::PeerSource::Configured => String::new(),
    }
}
