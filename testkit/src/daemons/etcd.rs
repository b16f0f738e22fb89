//! One etcd server on loopback (free ports, a data directory of the test's), which the test can
//! stop and start again on the same ports and data.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::Daemon;

/// The etcd binary (Debian's etcd-server).
const ETCD: &str = "/usr/bin/etcd";

/// A running (or stopped) etcd; killed when dropped.
#[derive(Debug)]
pub struct Etcd {
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    daemon: Option<Daemon>,
}

impl Etcd {
    /// Starts etcd with its data and log (`etcd.log`) in `dir`.
    pub fn start(dir: &Path) -> Etcd {
        let mut etcd = Etcd {
            dir: dir.to_path_buf(),
            client_port: free_port(),
            peer_port: free_port(),
            daemon: None,
        };
        etcd.restart();
        etcd
    }

    /// Starts it (again, after [`Etcd::stop`]) on the same ports and data.
    pub fn restart(&mut self) {
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut c = Command::new(ETCD);
        c.args(["--name", "t1", "--data-dir"])
            .arg(self.dir.join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("t1={peer}")]);
        self.daemon = Some(Daemon::spawn("etcd", c, Some(&self.dir.join("etcd.log"))));
    }

    /// SIGTERM, and wait for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.stop();
        }
    }

    /// Its client URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
