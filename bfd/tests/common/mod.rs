//! Root-only helpers for the BFD interop tests, on the test kit: namespaces joined by veths
//! (directly, or through a router namespace for multihop), our driver started inside one of
//! them, FRR or BIRD in another, and a link made to drop silently. Namespaces and daemons go
//! when the lab drops, also when a test fails (whose files are then kept for the post-mortem).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod frr;

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bfd::packet::State;
use testkit::netns::Netns;
use testkit::process::Daemon;

pub use testkit::eventually;

/// The peer's addresses on the shared link (single hop).
pub const PEER4: &str = "10.97.0.1";
pub const OURS4: &str = "10.97.0.2";
pub const PEER6: &str = "fd97::1";
pub const OURS6: &str = "fd97::2";
pub const PEER_LL: &str = "fe80::97:1";
pub const OURS_LL: &str = "fe80::97:2";
/// Multihop: ours and the router on one link, the router and the peer on another.
pub const MH_OURS: &str = "10.97.1.2";
pub const MH_PEER: &str = "10.97.2.2";

/// True when the test cannot run here (root and `binaries` needed) and should return: a
/// SKIPPED line under a plain `cargo test`, a failure under `make` (the test kit's strict
/// mode, `LATTICE_TEST_STRICT=1`).
pub fn cannot_run(binaries: &[&str]) -> bool {
    !testkit::require(true, binaries)
}

/// Namespaces for ours, the peer and (multihop) a router; removed on drop with every process
/// in them.
pub struct Lab {
    pub ours: Netns,
    pub peer: Netns,
    router: Option<Netns>,
    pub dir: tempfile::TempDir,
    daemons: Mutex<Vec<Daemon>>,
}

impl Lab {
    fn namespaces(tag: &str, routed: bool) -> Lab {
        Lab {
            ours: Netns::new(&format!("bfd{tag}o")),
            peer: Netns::new(&format!("bfd{tag}p")),
            router: routed.then(|| Netns::new(&format!("bfd{tag}r"))),
            dir: testkit::cmd::shared_tempdir(),
            daemons: Mutex::new(vec![]),
        }
    }

    /// A veth `a_dev` in `a` to `b_dev` in `b` with the given addresses, both ends up.
    fn link(a: &Netns, a_dev: &str, b: &Netns, b_dev: &str, addrs: &[(&Netns, &str, String)]) {
        a.veth(a_dev, b, b_dev);
        for (ns, dev, addr) in addrs {
            ns.addr(dev, addr);
        }
        a.up(a_dev);
        b.up(b_dev);
    }

    /// Ours (`o0`) and the peer (`p0`) on one veth: IPv4, IPv6 and fixed link-local addresses.
    pub fn direct(tag: &str) -> Lab {
        let lab = Lab::namespaces(tag, false);
        let (o, p) = (&lab.ours, &lab.peer);
        let addrs = [
            (p, "p0", format!("{PEER4}/30")),
            (o, "o0", format!("{OURS4}/30")),
            (p, "p0", format!("{PEER6}/64")),
            (o, "o0", format!("{OURS6}/64")),
            (p, "p0", format!("{PEER_LL}/64")),
            (o, "o0", format!("{OURS_LL}/64")),
        ];
        Lab::link(p, "p0", o, "o0", &addrs);
        lab
    }

    /// Ours (`o0`) - router (`r0`, `r1`) - peer (`p0`), routed: the peer is one hop away.
    pub fn routed(tag: &str) -> Lab {
        let lab = Lab::namespaces(tag, true);
        let (o, p) = (&lab.ours, &lab.peer);
        let r = lab.router.as_ref().unwrap();
        let mh = |a: &str| format!("{a}/24");
        Lab::link(
            o,
            "o0",
            r,
            "r0",
            &[(o, "o0", mh(MH_OURS)), (r, "r0", "10.97.1.1/24".into())],
        );
        Lab::link(
            p,
            "p0",
            r,
            "r1",
            &[(p, "p0", mh(MH_PEER)), (r, "r1", "10.97.2.1/24".into())],
        );
        r.run(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        o.ip(&["route", "add", "default", "via", "10.97.1.1"]);
        p.ip(&["route", "add", "default", "via", "10.97.2.1"]);
        lab
    }

    /// Runs `f` on a thread inside our namespace: a driver started there opens its sockets
    /// there (its thread inherits the namespace), whatever runtime later talks to it.
    pub fn in_ours<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        testkit::netns::on_thread_in(&self.ours, f)
    }

    /// Starts a foreground daemon in the peer namespace, killed on drop.
    pub fn spawn_peer(&self, args: &[&str], log: &str) {
        let daemon = Daemon::in_netns(&self.peer, args, &self.dir.path().join(log));
        self.daemons.lock().unwrap().push(daemon);
    }

    /// Makes `dev` in `ns` drop everything in and out, carrier up.
    pub fn silence(&self, ns: &str, dev: &str) {
        testkit::silence::silence(ns, dev);
    }

    /// Undoes [`Lab::silence`].
    pub fn unsilence(&self, ns: &str, dev: &str) {
        testkit::silence::unsilence(ns, dev);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Keep the daemons' logs of a failed test for the post-mortem.
        if std::thread::panicking() {
            let keep = std::env::temp_dir().join(format!("lattice-failed-{}", self.peer.name()));
            let _ = Command::new("cp")
                .arg("-r")
                .arg(self.dir.path())
                .arg(&keep)
                .status();
            eprintln!("logs of the failed test kept in {}", keep.display());
        }
        self.daemons.lock().unwrap().clear();
    }
}

/// State changes from our driver, with their keys and times.
pub type Changes = Vec<(&'static str, bfd::session::StateChange, Instant)>;

pub type Events = tokio::sync::mpsc::UnboundedReceiver<bfd::driver::BfdEvent<&'static str>>;

/// Waits until every key in `keys` reported `to`; the changes, keyed.
pub async fn all_reach(events: &mut Events, keys: &[&str], to: State, limit: Duration) -> Changes {
    let mut seen = vec![];
    let wait = async {
        while seen.len() < keys.len() {
            let e = events.recv().await.expect("driver gone");
            if e.change.to == to
                && keys.contains(&e.key)
                && !seen.iter().any(|(k, _, _)| *k == e.key)
            {
                seen.push((e.key, e.change, e.at));
            }
        }
    };
    let done = tokio::time::timeout(limit, wait).await.is_ok();
    assert!(
        done,
        "not all of {keys:?} reached {to}: only {:?}",
        seen.iter().map(|s| s.0).collect::<Vec<_>>()
    );
    seen
}
