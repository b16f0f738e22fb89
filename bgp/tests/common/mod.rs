//! Root-only helpers of the interop tests: a pair of namespaces joined by a veth, our speaker run
//! inside one of them, the peer daemon in the other (from the test kit), and cleanup of both,
//! with every process in them, even when a test fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod matrix;

use std::future::Future;
use std::path::Path;
use std::process::Command;

use testkit::daemons::{Bird, Exabgp, Frr, Gobgp, Openbgpd};
use testkit::netns::Netns;

/// The peer's address (in namespace `peer`) and ours (in namespace `ours`).
pub const PEER_ADDR: &str = "10.99.0.1";
/// Our address.
pub const OUR_ADDR: &str = "10.99.0.2";
/// The peer's IPv6 address on the same link.
pub const PEER_ADDR6: &str = "fd99::1";
/// Our IPv6 address.
pub const OUR_ADDR6: &str = "fd99::2";
/// GoBGP's API port, on the peer namespace's loopback.
pub const GOBGP_API: u16 = 50051;

/// Two namespaces, the peer's and ours, joined by a veth (`p0` - `o0`, a /30 and a /64);
/// removed on drop with every process in them. A failed test's daemon logs are kept.
pub struct Pair {
    /// The peer namespace's name.
    pub peer: String,
    /// Our namespace's name.
    pub ours: String,
    /// The test's files (daemon configurations and logs).
    pub dir: tempfile::TempDir,
    namespaces: [Netns; 2],
}

impl Pair {
    /// Creates the namespaces and the link; `tag` names the test in the namespaces' names.
    pub fn new(tag: &str) -> Pair {
        let peer = Netns::new(&format!("bi{tag}p"));
        let ours = Netns::new(&format!("bi{tag}o"));
        peer.veth("p0", &ours, "o0");
        peer.addr("p0", &format!("{PEER_ADDR}/30"));
        ours.addr("o0", &format!("{OUR_ADDR}/30"));
        peer.addr("p0", &format!("{PEER_ADDR6}/64"));
        ours.addr("o0", &format!("{OUR_ADDR6}/64"));
        peer.up("p0");
        ours.up("o0");
        Pair {
            peer: peer.name().to_string(),
            ours: ours.name().to_string(),
            dir: testkit::cmd::shared_tempdir(),
            namespaces: [peer, ours],
        }
    }

    /// Runs a command inside the peer namespace; its stdout (panics on failure).
    pub fn peer_cmd(&self, args: &[&str]) -> String {
        self.namespaces[0].run(args)
    }

    /// FRR (zebra and bgpd) in the peer namespace.
    pub fn frr(&self, bgpd_conf: &str) -> Frr {
        Frr::start(&self.peer, self.dir.path(), bgpd_conf)
    }

    /// BIRD in the peer namespace with `conf` and `extra` flags, logging to `log`.
    pub fn bird(&self, conf: &str, extra: &[&str], log: &str) -> Bird {
        Bird::start(&self.peer, self.dir.path(), conf, extra, log)
    }

    /// GoBGP in the peer namespace with `toml` and `extra` flags, its API on [`GOBGP_API`].
    pub fn gobgp(&self, toml: &str, extra: &[&str], log: &str) -> Gobgp {
        Gobgp::start(&self.peer, self.dir.path(), toml, GOBGP_API, extra, log)
    }

    /// OpenBGPD in the peer namespace with `conf`, logging to `log`.
    pub fn openbgpd(&self, conf: &str, log: &str) -> Openbgpd {
        Openbgpd::start(&self.peer, self.dir.path(), conf, log)
    }

    /// ExaBGP in the peer namespace with the configuration file `conf`, logging to `log`.
    pub fn exabgp(&self, conf: &Path, log: &str) -> Exabgp {
        Exabgp::start(&self.peer, conf, &self.dir.path().join(log))
    }

    /// Runs `f` on a thread inside our namespace with its own runtime (sockets belong to the
    /// namespace that created them).
    pub fn in_ours<F, Fut, T>(&self, f: F) -> T
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        testkit::netns::in_netns(&self.ours, f)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        // Keep the daemons' logs of a failed test for the post-mortem.
        if std::thread::panicking() {
            let keep = std::env::temp_dir().join(format!("lattice-failed-{}", self.peer));
            let _ = Command::new("cp")
                .arg("-r")
                .arg(self.dir.path())
                .arg(&keep)
                .status();
            eprintln!("logs of the failed test kept in {}", keep.display());
        }
    }
}
