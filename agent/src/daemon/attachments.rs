//! The attachments this host has wired, kept in a file so a restarted latticed knows which
//! containers to keep wired (and can repair) without asking anyone.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataplane::AttachSpec;

/// File name under `ipam.state_dir`.
pub const FILE: &str = "attachments.json";

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    container_id: String,
    ifname: String,
    netns: PathBuf,
    address: Ipv4Addr,
    #[serde(default)]
    address_v6: Option<Ipv6Addr>,
    mtu: u32,
}

/// Reads the attachments file; a missing file is an empty list, a damaged one is reported and
/// treated as empty (the kernel keeps what it has: nothing is flushed because of it).
pub fn load(path: &Path) -> Vec<AttachSpec> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "reading attachments");
            return Vec::new();
        }
    };
    match serde_json::from_str::<Vec<Record>>(&text) {
        Ok(records) => records
            .into_iter()
            .map(|r| AttachSpec {
                netns: r.netns,
                container_id: r.container_id,
                ifname: r.ifname,
                address: r.address,
                address_v6: r.address_v6,
                mtu: r.mtu,
            })
            .collect(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "damaged attachments file ignored");
            Vec::new()
        }
    }
}

/// Writes the attachments file atomically ([`crate::state_file::write_json`]).
pub fn save<'a>(path: &Path, specs: impl Iterator<Item = &'a AttachSpec>) -> std::io::Result<()> {
    let records: Vec<Record> = specs
        .map(|s| Record {
            container_id: s.container_id.clone(),
            ifname: s.ifname.clone(),
            netns: s.netns.clone(),
            address: s.address,
            address_v6: s.address_v6,
            mtu: s.mtu,
        })
        .collect();
    crate::state_file::write_json(path, &records)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        assert!(load(&path).is_empty());
        let spec = AttachSpec {
            netns: "/run/netns/c1".into(),
            container_id: "c1".into(),
            ifname: "eth0".into(),
            address: Ipv4Addr::new(10, 244, 1, 2),
            address_v6: Some("fd00:1::2".parse().unwrap()),
            mtu: 1500,
        };
        save(&path, [spec.clone()].iter()).unwrap();
        assert_eq!(load(&path), [spec]);
        std::fs::write(&path, "{not json").unwrap();
        assert!(load(&path).is_empty());
    }
}
