//! Root-only helpers for interop tests: a pair of namespaces joined by a veth, our speaker run
//! inside one of them, and cleanup of namespaces and daemons even when a test fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The peer's address (in namespace `peer`) and ours (in namespace `ours`).
pub const PEER_ADDR: &str = "10.99.0.1";
/// Our address.
pub const OUR_ADDR: &str = "10.99.0.2";
/// The peer's IPv6 address on the same link.
pub const PEER_ADDR6: &str = "fd99::1";
/// Our IPv6 address.
pub const OUR_ADDR6: &str = "fd99::2";

pub mod frr;

/// Why a root test cannot run here, if it cannot.
pub fn skip_reason(binaries: &[&str]) -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("needs root (network namespaces)".into());
    }
    for b in binaries {
        if !Path::new(b).exists() {
            return Some(format!("{b} is not installed"));
        }
    }
    None
}

/// Two namespaces `<tag>p` (peer) and `<tag>o` (ours) joined by a veth; removed on drop along
/// with every process registered in it.
pub struct Pair {
    pub peer: String,
    pub ours: String,
    pub dir: tempfile::TempDir,
    children: Mutex<Vec<Child>>,
    pidfiles: Mutex<Vec<PathBuf>>,
}

fn ip(args: &[&str]) {
    let ok = Command::new("ip").args(args).status().unwrap().success();
    assert!(ok, "ip {args:?} failed");
}

impl Pair {
    /// Create the namespaces and the link; `tag` keeps parallel tests apart.
    pub fn new(tag: &str) -> Pair {
        let base = format!("bi{}{tag}", std::process::id());
        let (peer, ours) = (format!("{base}p"), format!("{base}o"));
        for ns in [&peer, &ours] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let pair = Pair {
            peer,
            ours,
            dir,
            children: Mutex::new(vec![]),
            pidfiles: Mutex::new(vec![]),
        };
        ip(&[
            "link", "add", "p0", "netns", &pair.peer, "type", "veth", "peer", "name", "o0",
            "netns", &pair.ours,
        ]);
        ip(&[
            "-n",
            &pair.peer,
            "addr",
            "add",
            &format!("{PEER_ADDR}/30"),
            "dev",
            "p0",
        ]);
        ip(&[
            "-n",
            &pair.ours,
            "addr",
            "add",
            &format!("{OUR_ADDR}/30"),
            "dev",
            "o0",
        ]);
        for (ns, dev, addr) in [
            (&pair.peer, "p0", PEER_ADDR6),
            (&pair.ours, "o0", OUR_ADDR6),
        ] {
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/64"),
                "dev",
                dev,
                "nodad",
            ]);
        }
        ip(&["-n", &pair.peer, "link", "set", "p0", "up"]);
        ip(&["-n", &pair.ours, "link", "set", "o0", "up"]);
        pair
    }

    /// Run a command inside the peer namespace and return stdout (panics on failure).
    pub fn peer_cmd(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.peer])
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

    /// Start a long-running daemon in the peer namespace (killed on drop).
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

    /// Remember a pid file of a daemon that forks (FRR), to kill it on drop.
    pub fn track_pidfile(&self, path: PathBuf) {
        self.pidfiles.lock().unwrap().push(path);
    }

    /// Run `f` on a thread inside our namespace with its own runtime (sockets belong to the
    /// namespace that created them).
    pub fn in_ours<F, Fut, T>(&self, f: F) -> T
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        let path = format!("/run/netns/{}", self.ours);
        std::thread::spawn(move || {
            let ns = File::open(path).unwrap();
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            // Worker threads are created after setns, so they inherit our namespace.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(f())
        })
        .join()
        .unwrap()
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
        for mut c in self.children.lock().unwrap().drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
        for p in self.pidfiles.lock().unwrap().drain(..) {
            if let Ok(pid) = std::fs::read_to_string(&p) {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
        // Anything still running in the namespaces (forked helpers) goes too.
        for ns in [&self.peer, &self.ours] {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Poll `f` every 200 ms until it returns true or `secs` pass.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Write an executable script for a daemon to run. A child process writes it: exec'ing a file
/// this multi-threaded test process had open for writing fails with ETXTBSY if another test
/// forks meanwhile.
pub fn write_script(path: &Path, script: &str) {
    let ok = Command::new("sh")
        .args([
            "-c",
            "printf '%s' \"$1\" > \"$2\" && chmod 755 \"$2\"",
            "sh",
        ])
        .arg(script)
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "writing {}", path.display());
}

/// A recorder for ExaBGP's API: appends what ExaBGP reports to `out`. `sh` runs `cat` rather
/// than exec'ing it, so the script's stdout (the pipe ExaBGP polls, and takes a closed one for
/// a dead helper) stays open.
pub fn exabgp_recorder(path: &Path, out: &Path) {
    write_script(path, &format!("#!/bin/sh\ncat >> {}\n", out.display()));
}

impl Pair {
    /// Start ExaBGP in the peer namespace with `conf` (in the foreground, logging to `log`).
    pub fn spawn_exabgp(&self, conf: &Path, log: &str) {
        let conf = conf.display().to_string();
        self.spawn_peer(
            &[
                "env",
                "exabgp.daemon.user=root",
                "exabgp.daemon.daemonize=false",
                "exabgp.api.cli=false",
                "exabgp.log.destination=stdout",
                "exabgp",
                &conf,
            ],
            log,
        );
    }
}
