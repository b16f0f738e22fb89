//! Root-only helpers for the BFD interop tests: namespaces joined by veths (directly, or
//! through a router namespace for multihop), our driver started inside one of them, FRR or
//! BIRD in another, nftables to make a link silently drop, and cleanup of namespaces and
//! daemons even when a test fails. (The same shape as bgp/tests/common; both move to the
//! test kit of issue 13.)
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod frr;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bfd::packet::State;

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

/// Why a root test cannot run here, if it cannot.
pub fn skip_reason(binaries: &[&str]) -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("needs root (network namespaces)".into());
    }
    binaries
        .iter()
        .find(|b| !Path::new(b).exists())
        .map(|b| format!("{b} is not installed"))
}

/// True when the test cannot run here and should return: it prints SKIPPED under a plain
/// `cargo test`, and fails with the reason under `make` (`make test`, CI), where a skipped
/// root or interop test would hide a missing install step (the developers' guide).
pub fn cannot_run(binaries: &[&str]) -> bool {
    let Some(why) = skip_reason(binaries) else {
        return false;
    };
    assert!(
        std::env::var_os("MAKELEVEL").is_none(),
        "cannot run under make: {why}"
    );
    eprintln!("SKIPPED: {why}");
    true
}

fn run(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Namespaces `<tag>o` (ours), `<tag>p` (peer) and for multihop `<tag>r` (router); removed
/// on drop with every process in them.
pub struct Lab {
    pub ours: String,
    pub peer: String,
    router: Option<String>,
    pub dir: tempfile::TempDir,
    children: Mutex<Vec<Child>>,
    pidfiles: Mutex<Vec<PathBuf>>,
}

impl Lab {
    fn namespaces(tag: &str, routed: bool) -> Lab {
        let base = format!("bfd{}{tag}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let lab = Lab {
            ours: format!("{base}o"),
            peer: format!("{base}p"),
            router: routed.then(|| format!("{base}r")),
            dir,
            children: Mutex::new(vec![]),
            pidfiles: Mutex::new(vec![]),
        };
        for ns in lab.all() {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
            run(&["ip", "netns", "add", ns]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        lab
    }

    fn all(&self) -> Vec<&String> {
        [Some(&self.ours), Some(&self.peer), self.router.as_ref()]
            .into_iter()
            .flatten()
            .collect()
    }

    /// A veth `a_dev` in `a` to `b_dev` in `b` with the given addresses (`nodad`), up.
    fn link(
        &self,
        (a, a_dev): (&str, &str),
        (b, b_dev): (&str, &str),
        addrs: &[(&str, &str, &str)],
    ) {
        run(&[
            "ip", "link", "add", a_dev, "netns", a, "type", "veth", "peer", "name", b_dev, "netns",
            b,
        ]);
        for (ns, dev, addr) in addrs {
            let mut args = vec!["ip", "-n", ns, "addr", "add", addr, "dev", dev];
            if addr.contains(':') {
                args.push("nodad");
            }
            run(&args);
        }
        run(&["ip", "-n", a, "link", "set", a_dev, "up"]);
        run(&["ip", "-n", b, "link", "set", b_dev, "up"]);
    }

    /// Ours (`o0`) and the peer (`p0`) on one veth: IPv4, IPv6 and fixed link-local addresses.
    pub fn direct(tag: &str) -> Lab {
        let lab = Lab::namespaces(tag, false);
        let (o, p) = (lab.ours.as_str(), lab.peer.as_str());
        let addrs = [
            (p, "p0", format!("{PEER4}/30")),
            (o, "o0", format!("{OURS4}/30")),
            (p, "p0", format!("{PEER6}/64")),
            (o, "o0", format!("{OURS6}/64")),
            (p, "p0", format!("{PEER_LL}/64")),
            (o, "o0", format!("{OURS_LL}/64")),
        ];
        let addrs: Vec<_> = addrs.iter().map(|(n, d, a)| (*n, *d, a.as_str())).collect();
        lab.link((p, "p0"), (o, "o0"), &addrs);
        lab
    }

    /// Ours (`o0`) - router (`r0`, `r1`) - peer (`p0`), routed: the peer is one hop away.
    pub fn routed(tag: &str) -> Lab {
        let lab = Lab::namespaces(tag, true);
        let (o, p, r) = (
            lab.ours.as_str(),
            lab.peer.as_str(),
            lab.router.as_deref().unwrap(),
        );
        let mh = |a: &str| format!("{a}/24");
        lab.link(
            (o, "o0"),
            (r, "r0"),
            &[(o, "o0", &mh(MH_OURS)), (r, "r0", "10.97.1.1/24")],
        );
        lab.link(
            (p, "p0"),
            (r, "r1"),
            &[(p, "p0", &mh(MH_PEER)), (r, "r1", "10.97.2.1/24")],
        );
        run(&[
            "ip",
            "netns",
            "exec",
            r,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ]);
        run(&["ip", "-n", o, "route", "add", "default", "via", "10.97.1.1"]);
        run(&["ip", "-n", p, "route", "add", "default", "via", "10.97.2.1"]);
        lab
    }

    /// Runs `f` on a thread inside our namespace: a driver started there opens its sockets
    /// there (its thread inherits the namespace), whatever runtime later talks to it.
    pub fn in_ours<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.ours);
        std::thread::spawn(move || {
            let ns = File::open(path).unwrap();
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
        .join()
        .unwrap()
    }

    /// Runs a command in namespace `ns`; its stdout (panics on failure).
    pub fn exec(&self, ns: &str, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts a foreground daemon in the peer namespace, killed on drop.
    pub fn spawn_peer(&self, args: &[&str], log: &str) {
        let log = File::create(self.dir.path().join(log)).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.peer])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children.lock().unwrap().push(child);
    }

    /// Remembers a pid file of a daemon that forks (FRR), to kill it on drop.
    pub fn track_pidfile(&self, path: PathBuf) {
        self.pidfiles.lock().unwrap().push(path);
    }

    /// Makes `dev` in `ns` drop everything in and out, carrier up (lab-recipes "Silent link
    /// failure").
    pub fn silence(&self, ns: &str, dev: &str) {
        let rules = format!(
            "table inet bfdsilence {{\n\
             chain i {{ type filter hook input priority -300; iifname \"{dev}\" drop; }}\n\
             chain f {{ type filter hook forward priority -300; iifname \"{dev}\" drop; oifname \"{dev}\" drop; }}\n\
             chain o {{ type filter hook output priority -300; oifname \"{dev}\" drop; }}\n}}\n"
        );
        let path = self.dir.path().join(format!("silence-{ns}.nft"));
        std::fs::write(&path, rules).unwrap();
        self.exec(ns, &["nft", "-f", path.to_str().unwrap()]);
    }

    /// Undoes [`Lab::silence`].
    pub fn unsilence(&self, ns: &str) {
        self.exec(ns, &["nft", "delete", "table", "inet", "bfdsilence"]);
    }
}

impl Drop for Lab {
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
        for mut c in self.children.lock().unwrap().drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
        let kill = |pid: i32| {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        };
        for p in self.pidfiles.lock().unwrap().drain(..) {
            if let Some(pid) = std::fs::read_to_string(&p)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                kill(pid);
            }
        }
        for ns in self.all() {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .for_each(kill);
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// State changes from our driver.
/// Changes seen, with their keys and times.
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

/// Polls `f` every 100 ms until it returns true or `limit` passes.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}
