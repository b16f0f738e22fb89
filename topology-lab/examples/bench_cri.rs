//! Pod sandbox start-to-ready latency through the CRI, what a kubelet waits for in
//! RunPodSandbox: containerd (Debian's, CRI plugin) with lattice-cni and latticed, against the
//! same containerd with the reference `ptp` + `host-local` plugins, in one run.
//!
//! `bench_cri [N] [ROUNDS]` (root): N sandboxes one after the other, then ROUNDS rounds of 10
//! started at once; each sandbox is stopped and removed (untimed) before the next measurement.
//! Everything runs in a namespace this program creates (the node) and is removed at the end.
//! lattice is set up by the shipped DaemonSet's install step and command line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../tests/cri/mod.rs"]
mod cri;

use std::process::Command;
use std::time::{Duration, Instant};

use cri::client::Cri;
use cri::node::Node;

/// Sandboxes started at once in a parallel round.
const PARALLEL: usize = 10;

/// The bench node's namespace; deleted on drop (after the node inside it is gone).
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// (p50, p99) in milliseconds.
fn summary(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
    )
}

fn teardown(cri: &mut Cri, id: &str) {
    cri.stop_pod(id).unwrap();
    cri.remove_pod(id).unwrap();
}

/// N serial RunPodSandbox latencies, then ROUNDS x 10 parallel ones.
fn measure(node: &Node, tag: &str, n: usize, rounds: usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut cri = Cri::connect(&node.socket()).unwrap();
    let logs = node.dir.join("logs");
    let mut serial = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        let id = cri
            .run_pod(&format!("{tag}-s{i}"), &node.cgroup_parent, &logs)
            .unwrap_or_else(|e| panic!("{tag}: RunPodSandbox: {e}"));
        serial.push(start.elapsed());
        teardown(&mut cri, &id);
    }
    let mut parallel = Vec::with_capacity(rounds * PARALLEL);
    for r in 0..rounds {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(PARALLEL));
        let threads: Vec<_> = (0..PARALLEL)
            .map(|i| {
                let socket = node.socket();
                let (parent, logs, barrier) =
                    (node.cgroup_parent.clone(), logs.clone(), barrier.clone());
                let name = format!("{tag}-p{r}-{i}");
                std::thread::spawn(move || {
                    let mut cri = Cri::connect(&socket).unwrap();
                    barrier.wait();
                    let start = Instant::now();
                    let id = cri
                        .run_pod(&name, &parent, &logs)
                        .unwrap_or_else(|e| panic!("{name}: RunPodSandbox: {e}"));
                    (start.elapsed(), id)
                })
            })
            .collect();
        for t in threads {
            let (took, id) = t.join().unwrap();
            parallel.push(took);
            teardown(&mut cri, &id);
        }
    }
    (serial, parallel)
}

fn wait_ready(cri: &mut Cri, want: bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if cri.network_ready().is_ok_and(|(r, _)| r == want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("containerd's NetworkReady never became {want}");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let ns = Netns(format!("latbench-cri-{}", std::process::id()));
    let ok = Command::new("ip")
        .args(["netns", "add", &ns.0])
        .status()
        .unwrap();
    assert!(ok.success(), "ip netns add {}", ns.0);
    Command::new("ip")
        .args(["-n", &ns.0, "link", "set", "lo", "up"])
        .status()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let pause = cri::image::pause_image(work.path());
    let mut node = Node::new("bench", &ns.0, &work.path().join("node"));
    let mut cri = node.start_containerd(&pause);
    let version = cri.version().unwrap();

    // lattice, as the DaemonSet installs and runs it (a peer that is not there: no BGP needed).
    let m = cri::install::load();
    let env = m.node_env("bench", "10.0.0.7", &[("LATTICE_PEERS", "127.0.0.2:65001")]);
    node.install(&m, &env);
    node.start_latticed(&m);
    wait_ready(&mut cri, true);
    let (ls, lp) = measure(&node, "lat", n, rounds);

    // The reference: ptp + host-local (+ loopback), the same containerd and node.
    let cmd: Vec<&str> = m.pre_stop.iter().map(String::as_str).collect();
    assert!(node.run(&cmd, &env).status.success(), "uninstall");
    node.kill_latticed();
    wait_ready(&mut cri, false);
    for p in ["ptp", "host-local", "loopback"] {
        std::fs::copy(
            format!("/usr/lib/cni/{p}"),
            node.path(&format!("/opt/cni/bin/{p}")),
        )
        .unwrap();
    }
    let conflist = serde_json::json!({"cniVersion": "1.0.0", "name": "ptp", "plugins": [{
        "type": "ptp", "ipMasq": false,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.250.0.0/24"}]],
                 "routes": [{"dst": "0.0.0.0/0"}]}}]});
    std::fs::write(
        node.path("/etc/cni/net.d/10-ptp.conflist"),
        conflist.to_string(),
    )
    .unwrap();
    wait_ready(&mut cri, true);
    let (rs, rp) = measure(&node, "ref", n, rounds);

    println!("\npod sandbox start-to-ready (CRI RunPodSandbox), {version}, ms");
    println!("{:<28} {:>9} {:>9}", "", "p50", "p99");
    let rows = [
        (format!("lattice serial x{n}"), summary(ls)),
        (format!("ptp+host-local serial x{n}"), summary(rs)),
        (format!("lattice {PARALLEL} at once x{rounds}"), summary(lp)),
        (
            format!("ptp+host-local {PARALLEL} at once x{rounds}"),
            summary(rp),
        ),
    ];
    for (name, (p50, p99)) in &rows {
        println!("{name:<28} {p50:>9.1} {p99:>9.1}");
    }
    for (what, l, r) in [
        ("serial", &rows[0].1, &rows[1].1),
        ("parallel", &rows[2].1, &rows[3].1),
    ] {
        println!(
            "ratio lattice/reference {what}: p50 {:.2}  p99 {:.2}  (target: p50 <= 1.00)",
            l.0 / r.0,
            l.1 / r.1
        );
    }
    drop(cri);
    drop(node);
}
