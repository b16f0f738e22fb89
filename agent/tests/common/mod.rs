//! Shared by the root-only namespace tests: the test kit's namespaces and commands, and a
//! latticed run in a namespace.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use testkit::netns::Netns;
use testkit::process::Daemon;

pub use testkit::cmd::{output, ping, run};
pub use testkit::eventually;
pub use testkit::netns::path as netns_path;

/// Namespaces made under the names given (unique per test: put the pid in them), each with its
/// loopback up, as a host has it (latticed serves its metrics on 127.0.0.1 by default); deleted
/// with every process in them when dropped, also during a panic's unwinding.
pub struct Namespaces(pub Vec<Netns>);

impl Namespaces {
    pub fn create(names: &[String]) -> Self {
        Namespaces(names.iter().map(Netns::named).collect())
    }
}

/// `ip netns exec NS ARGS...`, must succeed.
pub fn ns(name: &str, args: &[&str]) -> String {
    let mut all = vec!["ip", "netns", "exec", name];
    all.extend_from_slice(args);
    run(&all)
}

/// The workspace's latticed, run in a namespace with a configuration file; killed when dropped
/// (its log's tail printed if the test failed).
pub struct Latticed {
    ns: String,
    config: PathBuf,
    log: PathBuf,
    args: Vec<String>,
    daemon: Option<Daemon>,
}

impl Latticed {
    /// `latticed -c CONFIG` in namespace `ns`, appending its output to `log`.
    pub fn start(ns: &str, config: &Path, log: &Path) -> Latticed {
        Latticed::start_with(ns, config, log, &[])
    }

    /// The same with more command-line arguments (`--log-level debug`).
    pub fn start_with(ns: &str, config: &Path, log: &Path, args: &[&str]) -> Latticed {
        let mut l = Latticed {
            ns: ns.to_string(),
            config: config.to_path_buf(),
            log: log.to_path_buf(),
            args: args.iter().map(|a| a.to_string()).collect(),
            daemon: None,
        };
        l.spawn();
        l
    }

    /// Starts it (again) on the same configuration.
    pub fn spawn(&mut self) {
        let mut c = testkit::netns::command(&self.ns, env!("CARGO_BIN_EXE_latticed"));
        c.arg("-c").arg(&self.config).args(&self.args);
        self.daemon = Some(Daemon::spawn("latticed", c, Some(&self.log)));
    }

    /// SIGTERM and wait: the graceful stop.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.stop();
        }
    }

    /// SIGKILL and wait: a crash.
    pub fn kill(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.kill();
        }
    }

    /// Its process id, while it runs (`ip netns exec` execs it: the pid is latticed's).
    pub fn pid(&self) -> Option<u32> {
        self.daemon.as_ref().and_then(Daemon::pid)
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.daemon.as_mut().is_some_and(|d| d.exited().is_none())
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.daemon.as_mut().and_then(Daemon::exited)
    }

    /// Everything it logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
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
