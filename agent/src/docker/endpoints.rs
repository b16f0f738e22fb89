//! The Docker endpoints this host wired, kept in a file so a restarted latticed can still Join,
//! describe and delete the endpoints dockerd created before the restart.
//!
//! Docker names an endpoint by its id in every call after `CreateEndpoint`; only that call
//! carries the address. So the id -> IPAM key mapping must outlive latticed, as the IPAM key
//! (and with it the address) does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::warn;

/// File name under `ipam.state_dir`.
pub const FILE: &str = "docker-endpoints.json";

/// One Docker endpoint this driver wired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The IPAM key holding the endpoint's address (`docker:...`).
    pub key: String,
    /// The veth end Docker moves into the container.
    pub peer: String,
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

    /// The endpoints recorded; a missing file is none, a damaged one is reported and treated
    /// as none (the veths stay; Docker's ReleaseAddress still removes them).
    pub fn load(&self) -> HashMap<String, Endpoint> {
        let Some(path) = &self.path else {
            return HashMap::new();
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return HashMap::new(),
            Err(e) => {
                warn!(path = %path.display(), error = %e, "reading docker endpoints");
                return HashMap::new();
            }
        };
        match serde_json::from_str::<Vec<Record>>(&text) {
            Ok(records) => records
                .into_iter()
                .map(|r| (r.endpoint_id, r.endpoint))
                .collect(),
            Err(e) => {
                warn!(path = %path.display(), error = %e, "damaged docker endpoints file ignored");
                HashMap::new()
            }
        }
    }

    /// Records `endpoints` (atomically: a temporary file, then rename). A failure is logged:
    /// the endpoint works now, only a restart would forget it.
    pub fn save(&self, endpoints: &HashMap<String, Endpoint>) {
        let Some(path) = &self.path else { return };
        if let Err(e) = write(path, endpoints) {
            warn!(path = %path.display(), error = %e, "saving docker endpoints");
        }
    }
}

fn write(path: &Path, endpoints: &HashMap<String, Endpoint>) -> std::io::Result<()> {
    let mut records: Vec<Record> = endpoints
        .iter()
        .map(|(id, ep)| Record {
            endpoint_id: id.clone(),
            endpoint: ep.clone(),
        })
        .collect();
    records.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
    let text = serde_json::to_string_pretty(&records).map_err(std::io::Error::other)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ep(key: &str) -> Endpoint {
        Endpoint {
            key: key.into(),
            peer: format!("latd-{key}"),
        }
    }

    #[test]
    fn endpoints_survive_a_reload_and_damage_is_an_empty_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = EndpointStore::at(dir.path().join("sub").join(FILE));
        assert!(store.load().is_empty());
        let mut eps = HashMap::new();
        eps.insert("e1".to_string(), ep("docker:1"));
        eps.insert("e2".to_string(), ep("docker:2"));
        store.save(&eps);
        assert_eq!(store.load(), eps);
        eps.remove("e1");
        store.save(&eps);
        assert_eq!(store.load(), eps);

        std::fs::write(dir.path().join("sub").join(FILE), "[{\"endpoint_id\": 3}").unwrap();
        assert!(store.load().is_empty());
        assert!(EndpointStore::default().load().is_empty());
    }
}
