//! The Docker endpoints this host wired, its lattice networks and the pools given for a
//! `--subnet`, kept in a file so a restarted latticed can still Join, describe and delete the
//! endpoints dockerd created before the restart, wire new ones in their network's mode, and
//! refuse a subnet another network holds.
//!
//! Docker names an endpoint by its id in every call after `CreateEndpoint`; only that call
//! carries the address, and only `CreateNetwork` the network's options. So these must outlive
//! latticed, as the IPAM key (and with it the address) does.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::warn;

use super::pairing::Pairing;
use crate::dataplane::DataplaneMode;

/// File name under `ipam.state_dir`.
pub const FILE: &str = "docker-endpoints.json";

/// One Docker endpoint this driver wired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The IPAM key holding the endpoint's address (`docker:...`).
    pub key: String,
    /// The interface Docker moves into the container (a veth's peer, an ipvlan slave).
    pub peer: String,
    /// The endpoint's IPv6 address, on a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v6: Option<Ipv6Addr>,
    /// The endpoint's IPv4 address (absent in records of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv4Addr>,
    /// How it is wired (records of older versions: routed veth, the only mode they had).
    #[serde(default)]
    pub mode: DataplaneMode,
}

/// A network of the lattice driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// How its endpoints are wired.
    pub mode: DataplaneMode,
}

/// A pool handed out for a `--subnet`: one network's at a time, as with Docker's own IPAM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// The lattice network created on it; `None`: another driver's network (Docker's ipvlan),
    /// whose containers latticed does not wire and routes through the ipvlan host slave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// Everything the driver keeps across restarts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Saved {
    /// Endpoints by Docker's endpoint id.
    pub endpoints: HashMap<String, Endpoint>,
    /// Which addresses of which keys Docker still holds.
    pub pairing: Pairing,
    /// The lattice driver's networks by Docker's network id.
    pub networks: BTreeMap<String, Network>,
    /// The `--subnet` pools handed out, by pool id.
    pub pools: BTreeMap<String, Pool>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    endpoints: Vec<Record>,
    #[serde(default)]
    pairing: Pairing,
    #[serde(default)]
    networks: BTreeMap<String, Network>,
    #[serde(default)]
    pools: BTreeMap<String, Pool>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    endpoint_id: String,
    #[serde(flatten)]
    endpoint: Endpoint,
}

/// Where the endpoints are kept (`None`: in memory only, as in unit tests).
#[derive(Debug, Clone, Default)]
pub struct EndpointStore {
    path: Option<PathBuf>,
}

impl EndpointStore {
    /// A store in the file at `path`.
    pub fn at(path: PathBuf) -> Self {
        Self { path: Some(path) }
    }

    /// What was recorded; a missing file is nothing, a damaged one is reported and treated as
    /// nothing (the veths stay; Docker's ReleaseAddress still removes them).
    pub fn load(&self) -> Saved {
        let Some(path) = &self.path else {
            return Saved::default();
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Saved::default(),
            Err(e) => {
                warn!(path = %path.display(), error = %e, "reading docker endpoints");
                return Saved::default();
            }
        };
        match serde_json::from_str::<File>(&text) {
            Ok(f) => Saved {
                endpoints: f
                    .endpoints
                    .into_iter()
                    .map(|r| (r.endpoint_id, r.endpoint))
                    .collect(),
                pairing: f.pairing,
                networks: f.networks,
                pools: f.pools,
            },
            Err(e) => {
                warn!(path = %path.display(), error = %e, "damaged docker endpoints file ignored");
                Saved::default()
            }
        }
    }

    /// Records `saved` (atomically: [`crate::state_file::write_json`]). A failure is logged: the
    /// endpoints work now, only a restart would forget them.
    pub fn save(&self, saved: &Saved) {
        let Some(path) = &self.path else { return };
        if let Err(e) = write(path, saved) {
            warn!(path = %path.display(), error = %e, "saving docker endpoints");
        }
    }
}

fn write(path: &Path, saved: &Saved) -> std::io::Result<()> {
    let mut records: Vec<Record> = saved
        .endpoints
        .iter()
        .map(|(id, ep)| Record {
            endpoint_id: id.clone(),
            endpoint: ep.clone(),
        })
        .collect();
    records.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
    let file = File {
        endpoints: records,
        pairing: saved.pairing.clone(),
        networks: saved.networks.clone(),
        pools: saved.pools.clone(),
    };
    crate::state_file::write_json(path, &file)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ep(key: &str) -> Endpoint {
        Endpoint {
            key: key.into(),
            peer: format!("latd-{key}"),
            v6: None,
            address: None,
            mode: DataplaneMode::RoutedVeth,
        }
    }

    #[test]
    fn endpoints_survive_a_reload_and_damage_is_an_empty_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = EndpointStore::at(dir.path().join("sub").join(FILE));
        assert_eq!(store.load(), Saved::default());
        let mut saved = Saved::default();
        saved.endpoints.insert("e1".to_string(), ep("docker:1"));
        let mut dual = ep("docker:2");
        dual.v6 = Some("fd00::2".parse().unwrap());
        saved.endpoints.insert("e2".to_string(), dual);
        saved
            .pairing
            .reserved("docker:2", Some("fd00::2".parse().unwrap()));
        saved.pairing.hand_out_v6();
        let mut ipvlan = ep("docker:3");
        ipvlan.address = Some(Ipv4Addr::new(10, 244, 1, 3));
        ipvlan.mode = DataplaneMode::IpvlanL3;
        saved.endpoints.insert("e3".to_string(), ipvlan);
        saved.networks.insert(
            "n1".into(),
            Network {
                mode: DataplaneMode::IpvlanL3s,
            },
        );
        saved.pools.insert("p".into(), Pool::default());
        store.save(&saved);
        assert_eq!(store.load(), saved);
        saved.endpoints.remove("e1");
        store.save(&saved);
        assert_eq!(store.load(), saved);

        // A file of an older version: no networks, pools, addresses or modes.
        let old = r#"{"endpoints": [{"endpoint_id": "e1", "key": "docker:1", "peer": "latd1"}]}"#;
        std::fs::write(dir.path().join("sub").join(FILE), old).unwrap();
        let loaded = store.load();
        assert_eq!(loaded.endpoints["e1"].mode, DataplaneMode::RoutedVeth);
        assert!(loaded.networks.is_empty() && loaded.pools.is_empty());

        std::fs::write(dir.path().join("sub").join(FILE), "[{\"endpoint_id\": 3}").unwrap();
        assert_eq!(store.load(), Saved::default());
        assert_eq!(EndpointStore::default().load(), Saved::default());
    }
}
