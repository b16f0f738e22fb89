//! The lab: latticed's namespace and the peers' namespace one veth apart, latticed configured
//! with both raw clients as passive peers; all torn down on drop, also during a panic's
//! unwinding (with latticed's log printed).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use testkit::netns::Netns;

use crate::common::Latticed;

/// The namespaces, latticed and its files.
pub struct Lab {
    // Dropped in this order: latticed, then the namespaces, then the files.
    latticed: Latticed,
    /// latticed's namespace.
    pub lat: Netns,
    /// The raw clients' namespace.
    pub peers: Netns,
    dir: tempfile::TempDir,
}

impl Lab {
    pub fn start() -> Lab {
        let lat = Netns::new("mcat-lat");
        let peers = Netns::new("mcat-peers");
        // Created inside "lat" and moved straight to "peers": nothing passes through the root.
        lat.veth("mcl0", &peers, "mcp0");
        lat.addr("mcl0", "10.98.0.1/24");
        peers.addr("mcp0", "10.98.0.2/24");
        peers.addr("mcp0", "10.98.0.3/24");
        lat.up("mcl0");
        peers.up("mcp0");

        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("latticed.yaml");
        let socket = dir.path().join("api.socket");
        std::fs::write(&config, config_text(&dir, &socket)).unwrap();
        let check = Command::new(env!("CARGO_BIN_EXE_latticed"))
            .arg("--config")
            .arg(&config)
            .arg("--check")
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "latticed refused the test's configuration: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let latticed = Latticed::start_with(
            &lat,
            &config,
            &dir.path().join("latticed.log"),
            &["--log-level", "debug"],
        );
        let mut lab = Lab {
            latticed,
            lat,
            peers,
            dir,
        };
        lab.wait_for_api();
        lab
    }

    /// latticed's API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("api.socket")
    }

    /// Until latticed answers on its API socket (exit status 0 or 1, not 2 "unreachable").
    fn wait_for_api(&mut self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.latticed.exited() {
                panic!("latticed exited at start with {status}");
            }
            let code = Command::new(crate::common::workspace_bin("lattice"))
                .arg("--socket")
                .arg(self.socket())
                .args(["status", "--json"])
                .output()
                .unwrap()
                .status
                .code();
            if matches!(code, Some(0 | 1)) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "latticed's API never answered"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn config_text(dir: &tempfile::TempDir, socket: &std::path::Path) -> String {
    format!(
        "\
node:      {{ name: mcat, asn: 65101, router_id: 10.98.0.1 }}
cluster:   {{ cidr: 10.244.0.0/16, block_prefix_len: 24 }}
ipam:      {{ datastore: local, state_dir: '{state}', block: 10.244.1.0/24 }}
bgp:
  listen:  {{ address: 10.98.0.1, port: 179 }}
  peers:
    - {{ address: 10.98.0.2, asn: 65002, passive: true, hold_time: 9 }}
    - {{ address: 10.98.0.3, asn: 65003, passive: true, hold_time: 9 }}
api:       {{ socket: '{socket}' }}
docker:    {{ socket: '{socket}.docker' }}
",
        state = dir.path().join("state").display(),
        socket = socket.display(),
    )
}
