//! CNI ADD and DEL latency: `lattice-cni` (with latticed) against the reference `ptp` plugin
//! with `host-local` IPAM doing the same attach (a veth, a /32, routes) in the same run.
//!
//! `bench_cni run [N]` (root): N containers, serially and 10 at a time. Everything happens in
//! namespaces this program creates and deletes: one "host" namespace (this process enters it,
//! so latticed and both plugins put their host side there) and one per container.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::time::{Duration, Instant};
use testkit::netns::Netns;
use testkit::process::Daemon;

/// Operations run at once in the parallel rounds.
const PARALLEL: usize = 10;
const PTP: &str = "/usr/lib/cni/ptp";

/// One plugin under test: its binary, network config and name.
struct Plugin {
    name: &'static str,
    bin: PathBuf,
    conf: String,
}

/// Runs one CNI command; returns its wall time (what a runtime waits for).
fn invoke(p: &Plugin, cmd: &str, id: &str, netns: &str) -> Duration {
    let start = Instant::now();
    let mut child = Command::new(&p.bin)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", id)
        .env("CNI_NETNS", format!("/run/netns/{netns}"))
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(p.conf.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{} {cmd} {id}: {}{}",
        p.name,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// ADD then DEL of every container, `width` at a time; the latencies of each.
fn round(p: &Plugin, containers: &[String], width: usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut adds = Vec::new();
    let mut dels = Vec::new();
    for cmd in ["ADD", "DEL"] {
        for chunk in containers.chunks(width) {
            let times: Vec<Duration> = std::thread::scope(|s| {
                let hs: Vec<_> = chunk
                    .iter()
                    .map(|c| s.spawn(move || invoke(p, cmd, &format!("bench-{c}"), c)))
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            if cmd == "ADD" {
                adds.extend(times)
            } else {
                dels.extend(times)
            }
        }
    }
    (adds, dels)
}

fn pct(v: &mut [Duration], p: usize) -> f64 {
    v.sort();
    let i = (v.len() * p / 100).min(v.len().saturating_sub(1));
    v[i].as_secs_f64() * 1000.0
}

fn wait_for(path: &Path) {
    for _ in 0..100 {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(path.with_file_name("latticed.log")).unwrap_or_default();
    panic!("latticed did not open {}:\n{log}", path.display());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("run") {
        eprintln!("usage: bench_cni run [CONTAINERS]   (root; needs {PTP} from containernetworking-plugins)");
        std::process::exit(2);
    }
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    // Under `make bench` (LATTICE_TEST_STRICT=1) a comparison that cannot run is a failure.
    if !testkit::require(true, &[PTP]) {
        std::process::exit(2);
    }
    let dir = tempfile::tempdir().unwrap();
    let bins = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let (latticed, cni) = (bins.join("latticed"), bins.join("lattice-cni"));
    assert!(
        latticed.is_file() && cni.is_file(),
        "build latticed and lattice-cni (release) first"
    );

    // This process enters the host namespace, so latticed and both plugins put their host
    // side there; the namespaces go (latticed first) when the guards drop.
    let tag = std::process::id();
    let host = Netns::named(format!("bcni{tag}-host"));
    testkit::netns::enter(&host);
    let guards: Vec<Netns> = (0..n)
        .map(|i| Netns::named(format!("bcni{tag}-c{i}")))
        .collect();
    let containers: Vec<String> = guards.iter().map(|c| c.name().to_string()).collect();
    // BGP on 127.0.0.1:179 of the bench's own namespace: nothing else listens there.
    let socket = dir.path().join("lattice.sock");
    let config = dir.path().join("latticed.yaml");
    std::fs::write(
        &config,
        format!(
            "node: {{name: bench, asn: 65101, router_id: 10.0.0.1}}\n\
             cluster: {{cidr: 10.244.0.0/16, block_prefix_len: 22}}\n\
             ipam: {{datastore: local, state_dir: {}/state, block: 10.244.0.0/22}}\n\
             dataplane: {{mode: routed-veth, mtu: 1500}}\n\
             bgp: {{listen: {{address: 127.0.0.1, port: 179}}, peers: []}}\n\
             api: {{socket: {}}}\n\
             docker: {{enabled: false}}\n",
            dir.path().display(),
            socket.display()
        ),
    )
    .unwrap();
    let mut command = Command::new(&latticed);
    command
        .arg("--config")
        .arg(&config)
        .args(["--log-level", "warn"]);
    let _latticed = Daemon::spawn("latticed", command, Some(&dir.path().join("latticed.log")));
    wait_for(&socket);

    let plugins = [
        Plugin {
            name: "lattice-cni",
            bin: cni,
            conf: format!(
                r#"{{"cniVersion":"1.0.0","name":"bench","type":"lattice-cni","socket":"{}"}}"#,
                socket.display()
            ),
        },
        Plugin {
            name: "ptp+host-local",
            bin: PTP.into(),
            conf: format!(
                r#"{{"cniVersion":"1.0.0","name":"bench","type":"ptp","ipMasq":false,"mtu":1500,
                "ipam":{{"type":"host-local","ranges":[[{{"subnet":"10.245.0.0/22"}}]],"dataDir":"{}/host-local"}}}}"#,
                dir.path().display()
            ),
        },
    ];
    println!("CNI ADD/DEL latency, {n} containers, wall time of each plugin process (ms)");
    println!(
        "{:<6} {:<10} {:>20} {:>20} {:>14}",
        "op", "mode", "lattice-cni p50/p99", "ptp p50/p99", "p50 ratio"
    );
    for (mode, width) in [("serial", 1), ("parallel", PARALLEL)] {
        let mut results = Vec::new();
        for p in &plugins {
            // One warm-up container each, so page cache and first-use costs are not measured.
            round(p, &containers[..1], 1);
            results.push(round(p, &containers, width));
        }
        let (mut la, mut ld) = results.remove(0);
        let (mut pa, mut pd) = results.remove(0);
        for (op, l, p) in [("ADD", &mut la, &mut pa), ("DEL", &mut ld, &mut pd)] {
            let (l50, l99, p50, p99) = (pct(l, 50), pct(l, 99), pct(p, 50), pct(p, 99));
            println!(
                "{op:<6} {mode:<10} {:>20} {:>20} {:>13.2}x",
                format!("{l50:.2} / {l99:.2}"),
                format!("{p50:.2} / {p99:.2}"),
                l50 / p50
            );
        }
    }
}
