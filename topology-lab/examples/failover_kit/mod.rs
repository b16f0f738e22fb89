//! What the failover benchmarks (`bench_failover`, `bench_bfd_failover`) share: the binaries
//! built next to them, a deployed lab destroyed on drop, commands in a lab's namespaces, and
//! reading `ping -D` output into the gaps a user of a stream sees.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The built binary `name` next to the running example's directory (`target/release/NAME`).
pub fn built(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join(name)
}

/// A deployed lab, destroyed on drop.
pub struct Lab {
    pub topo: PathBuf,
    pub state: PathBuf,
    pub name: String,
}

impl Lab {
    /// `lattice-lab ARGS[0] -t TOPO ARGS[1..]` with the built `latticed`; its stdout. Panics
    /// (with both outputs) when it fails.
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new(built("lattice-lab"))
            .arg(args[0])
            .arg("-t")
            .arg(&self.topo)
            .args(&args[1..])
            .env("LATTICE_LAB_DIR", &self.state)
            .env("LATTICED_BIN", built("latticed"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "lattice-lab {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// Node `node`'s namespace.
    pub fn ns(&self, node: &str) -> String {
        format!("{}-{node}", self.name)
    }

    /// Node `node`'s directory (its configuration and logs).
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.state.join(&self.name).join(node)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(built("lattice-lab"))
            .args(["destroy", "-t"])
            .arg(&self.topo)
            .env("LATTICE_LAB_DIR", &self.state)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `ip -n NS ARGS`' stdout.
pub fn ip(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .arg("-n")
        .arg(ns)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `sh -c SCRIPT` in `ns`; panics when it fails.
pub fn sh(ns: &str, script: &str) {
    let ok = Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", script])
        .status()
        .unwrap()
        .success();
    assert!(ok, "{ns}: {script}");
}

/// Whether `ok` holds within `secs` (the test kit's one `eventually`).
pub fn eventually(secs: u64, ok: impl FnMut() -> bool) -> bool {
    testkit::eventually(Duration::from_secs(secs), ok)
}

/// Reply times of a `ping -D` output.
pub fn reply_times(output: &str) -> Vec<f64> {
    output
        .lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
        .collect()
}

/// The longest time (ms) between consecutive timestamps (seconds).
pub fn longest_gap(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times
        .windows(2)
        .map(|w| (w[1] - w[0]) * 1000.0)
        .fold(0.0, f64::max)
}
