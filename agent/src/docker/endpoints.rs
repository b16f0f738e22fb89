//! The Docker endpoints this host wired, kept in a file so a restarted latticed can still Join,
//! describe and delete the endpoints dockerd created before the restart.
//!
//! Docker names an endpoint by its id in every call after `CreateEndpoint`; only that call
//! carries the address. So the id -> IPAM key mapping must outlive latticed, as the IPAM key
//! (and with it the address) does.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::warn;

use super::pairing::Pairing;

/// File name under `ipam.state_dir`.
pub const FILE: &str = "docker-endpoints.json";

/// One Docker endpoint this driver wired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The IPAM key holding the endpoint's address (`docker:...`).
    pub key: String,
    /// The veth end Docker moves into the container.
    pub peer: String,
    /// The endpoint's IPv6 address, on a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v6: Option<Ipv6Addr>,
}

/// Everything the driver keeps across restarts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Saved {
    /// Endpoints by Docker's endpoint id.
    pub endpoints: HashMap<String, Endpoint>,
    /// Which addresses of which keys Docker still holds.
    pub pairing: Pairing,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    endpoints: Vec<Record>,
    #[serde(default)]
    pairing: Pairing,
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
        store.save(&saved);
        assert_eq!(store.load(), saved);
        saved.endpoints.remove("e1");
        store.save(&saved);
        assert_eq!(store.load(), saved);

        std::fs::write(dir.path().join("sub").join(FILE), "[{\"endpoint_id\": 3}").unwrap();
        assert_eq!(store.load(), Saved::default());
        assert_eq!(EndpointStore::default().load(), Saved::default());
    }
}
