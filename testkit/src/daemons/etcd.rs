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
    tls: Option<EtcdTls>,
    daemon: Option<Daemon>,
}

/// etcd serving clients over TLS (`--cert-file`, `--key-file`), asking for a client
/// certificate signed by `client_ca` when it is set (`--client-cert-auth`).
#[derive(Debug, Clone)]
pub struct EtcdTls {
    /// The server's certificate (PEM), valid for 127.0.0.1.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// The CA client certificates must chain to.
    pub client_ca: Option<PathBuf>,
}

impl Etcd {
    /// Starts etcd with its data and log (`etcd.log`) in `dir`.
    pub fn start(dir: &Path) -> Etcd {
        Etcd::start_with(dir, None)
    }

    /// [`Etcd::start`], serving clients over TLS when `tls` is set.
    pub fn start_with(dir: &Path, tls: Option<EtcdTls>) -> Etcd {
        let mut etcd = Etcd {
            dir: dir.to_path_buf(),
            client_port: free_port(),
            peer_port: free_port(),
            tls,
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
        if let Some(tls) = &self.tls {
            c.arg("--cert-file").arg(&tls.cert);
            c.arg("--key-file").arg(&tls.key);
            if let Some(ca) = &tls.client_ca {
                c.arg("--client-cert-auth").arg("--trusted-ca-file").arg(ca);
            }
        }
        self.daemon = Some(Daemon::spawn("etcd", c, Some(&self.dir.join("etcd.log"))));
    }

    /// SIGTERM, and wait for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.stop();
        }
    }

    /// Its client URL, `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
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
