//! Shared by the root-only namespace tests: namespaces that delete themselves, command helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Deletes the namespaces it created when dropped (also during a panic's unwinding).
pub struct Namespaces(pub Vec<String>);

impl Namespaces {
    /// Creates `names` (unique per test: put the pid in them), each with its loopback up, as a
    /// host has it (latticed serves its metrics on 127.0.0.1 by default).
    pub fn create(names: &[String]) -> Self {
        let mut guard = Namespaces(Vec::new());
        for name in names {
            run(&["ip", "netns", "add", name]);
            guard.0.push(name.clone());
            run(&["ip", "-n", name, "link", "set", "lo", "up"]);
        }
        guard
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// Runs a command, returning its output whatever the status.
pub fn output(args: &[&str]) -> Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap()
}

/// Runs a command that must succeed; its stdout.
pub fn run(args: &[&str]) -> String {
    let out = output(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `ip netns exec NS ARGS...`, must succeed.
pub fn ns(name: &str, args: &[&str]) -> String {
    let mut all = vec!["ip", "netns", "exec", name];
    all.extend_from_slice(args);
    run(&all)
}

/// One ping (IPv4 or IPv6 by the address) from namespace `ns`.
pub fn ping(ns: &str, to: &str) -> bool {
    output(&["ip", "netns", "exec", ns, "ping", "-c1", "-W1", to])
        .status
        .success()
}

/// `/run/netns/NAME`.
pub fn netns_path(name: &str) -> PathBuf {
    PathBuf::from(format!("/run/netns/{name}"))
}

/// True when running as root; namespace tests print a note and pass otherwise.
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Polls `f` every 50 ms until it holds; false after `limit` (a generous bound, not a
/// measurement: tests assert behaviour, not speed).
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A binary of another workspace crate (`lattice` from `cli`, `lattice-cni` from `cni`), found
/// next to this package's `latticed`: `env!("CARGO_BIN_EXE_..")` names only this package's own,
/// and `cargo test -p agent` builds no other. Panics, saying how to build it, when it is missing.
pub fn workspace_bin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_latticed")).with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace's binaries first (`cargo build --workspace --bins`, \
         which `make build` and `make test` run)",
        path.display()
    );
    path
}
