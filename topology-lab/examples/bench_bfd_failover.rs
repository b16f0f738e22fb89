//! Failover with BFD (issue 14): the `dual-homed-bfd` fabric (two FRR ToRs with bgpd + bfdd,
//! two hosts each wired to both). One uplink of host1 fails silently (both ends drop everything
//! on the link with nftables, carrier stays up) while 10 ms ping streams run between the
//! containers of host1 and host2 in both directions. The longest gap in any stream's replies is
//! the outage its user sees.
//!
//! Rows: latticed with BFD 300 ms x 3 and 100 ms x 3, latticed without BFD (keepalive 3 s,
//! hold 9 s), and FRR's bgpd + bfdd on the hosts instead of latticed with the same BFD timers.
//! The ToRs always run the same timers as the hosts. For latticed with BFD it also reports the
//! time from latticed's "BFD session down" log line to the kernel's route change on host1
//! (`ip -ts monitor route`).
//!
//! `bench_bfd_failover [SECONDS]` (root; default 15 s of pings per round, the failure at 3 s).
//! Uses the `lattice-lab` and `latticed` built next to this example's directory (`cargo build
//! --release -p agent -p topology-lab --bins`). Every lab it deploys is destroyed, also on
//! failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod failover_kit;
use failover_kit::{eventually, ip, longest_gap, reply_times, sh, Lab};

/// Ping interval.
const INTERVAL_MS: u64 = 10;
/// When the uplink fails, after the streams started.
const FAIL_AT: Duration = Duration::from_secs(3);
/// Containers per host: 4 x 4 streams each way, so ECMP puts some on the failing uplink.
const PER_HOST: usize = 4;
/// Failures per row (the uplink restored in between).
const ROUNDS: usize = 2;

/// One row: who runs on the hosts and which timers.
#[derive(Clone, Copy)]
struct Setup {
    name: &'static str,
    frr_hosts: bool,
    /// BFD interval (ms), or none.
    bfd_ms: Option<u32>,
}

/// Seconds since midnight of a `...THH:MM:SS.ffffff...` timestamp.
fn clock(stamp: &str) -> Option<f64> {
    let t = stamp.split('T').nth(1)?;
    let t = t.trim_end_matches(['Z', ']']);
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.get(..9)?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// The fabric for `setup`, as lab `name` in `dir`.
fn lab(examples: &Path, dir: &Path, name: &str, setup: Setup) -> Lab {
    let conf = dir.join("dual-homed-bfd");
    std::fs::create_dir_all(&conf).unwrap();
    let bfd_frr = match setup.bfd_ms {
        Some(ms) => format!(" bfd 3 {ms} {ms}\n"),
        None => String::new(),
    };
    for tor in ["tor1", "tor2"] {
        let text =
            std::fs::read_to_string(examples.join(format!("dual-homed-bfd/{tor}.conf"))).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            match line.strip_suffix(" bfd") {
                Some(neighbour) if setup.bfd_ms.is_some() => {
                    out.push_str(&format!("{neighbour}{bfd_frr}"))
                }
                Some(_) => {}
                None => out.push_str(&format!("{line}\n")),
            }
        }
        std::fs::write(conf.join(format!("{tor}.conf")), out).unwrap();
    }
    let text = std::fs::read_to_string(examples.join("dual-homed-bfd.clab.yml")).unwrap();
    let mut text = text
        .replace("name: dual-homed-bfd\n", &format!("name: {name}\n"))
        .replace("containers: 1", &format!("containers: {PER_HOST}"));
    for h in 1..=2u32 {
        let yaml =
            std::fs::read_to_string(examples.join(format!("dual-homed-bfd/host{h}.yaml"))).unwrap();
        let bfd = match setup.bfd_ms {
            Some(ms) => format!("bfd: {{enabled: true, min_rx_ms: {ms}, min_tx_ms: {ms}}}"),
            None => "bfd: {enabled: false}".into(),
        };
        std::fs::write(
            conf.join(format!("host{h}.yaml")),
            yaml.replace("bfd: {enabled: true}", &bfd),
        )
        .unwrap();
        if !setup.frr_hosts {
            continue;
        }
        // FRR on the host: its /24 announced to both ToRs, a namespace of "containers" behind.
        let asn = 65100 + h;
        let (a, b) = (format!("10.0.{h}1.1"), format!("10.0.{h}2.1"));
        let neighbours: String = [&a, &b]
            .iter()
            .map(|n| {
                format!(
                    " neighbor {n} remote-as 65000\n neighbor {n} timers 3 9\n \
                     neighbor {n} timers connect 1\n{}",
                    if setup.bfd_ms.is_some() {
                        format!(" neighbor {n}{bfd_frr}")
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        std::fs::write(
            conf.join(format!("fhost{h}.conf")),
            format!(
                "hostname fhost{h}\nip route 10.244.{h}.0/24 blackhole\nrouter bgp {asn}\n \
                 bgp router-id 10.0.{h}1.2\n no bgp ebgp-requires-policy\n{neighbours} \
                 address-family ipv4 unicast\n  network 10.244.{h}.0/24\n  maximum-paths 8\n \
                 exit-address-family\n"
            ),
        )
        .unwrap();
        let lattice = format!(
            "    host{h}:\n      kind: lattice\n      startup-config: dual-homed-bfd/host{h}.yaml\n"
        );
        let extra: String = (3..=PER_HOST + 1)
            .map(|a| format!("        - ip addr add 10.244.{h}.{a}/28 dev eth1\n"))
            .collect();
        let frr = format!(
            "    ctr{h}:\n      kind: linux\n      exec:\n{extra}        - ip route add default via 10.244.{h}.1\n    \
             host{h}:\n      kind: frr\n      startup-config: dual-homed-bfd/fhost{h}.conf\n"
        );
        assert!(text.contains(&lattice), "{text}");
        text = text.replace(&lattice, &frr);
        text.push_str(&format!(
            "    - endpoints: [\"host{h}:eth3\", \"ctr{h}:eth1\"]\n      ipv4: [\"10.244.{h}.1/28\", \"10.244.{h}.2/28\"]\n"
        ));
    }
    let topo = dir.join("dual-homed-bfd.clab.yml");
    std::fs::write(&topo, text).unwrap();
    Lab {
        topo,
        state: dir.join("state"),
        name: name.to_string(),
    }
}

/// A container: (namespace, address).
type Member = (String, String);

/// Each host's containers.
fn racks(lab: &Lab, setup: Setup) -> [Vec<Member>; 2] {
    if setup.frr_hosts {
        return [1, 2].map(|h| {
            (2..=PER_HOST + 1)
                .map(|a| (lab.ns(&format!("ctr{h}")), format!("10.244.{h}.{a}")))
                .collect()
        });
    }
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(lab.state.join(&lab.name).join("state.json")).unwrap(),
    )
    .unwrap();
    ["host1", "host2"].map(|host| {
        state["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["name"] == host)
            .flat_map(|n| n["containers"].as_array().unwrap().clone())
            .map(|c| {
                (
                    c["namespace"].as_str().unwrap().to_string(),
                    c["address"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    })
}

/// Each host holds the other's /24 over both ToRs.
fn ecmp(lab: &Lab) -> bool {
    [("host1", 2), ("host2", 1)].iter().all(|(h, o)| {
        ip(&lab.ns(h), &["route", "show", &format!("10.244.{o}.0/24")])
            .matches("nexthop via")
            .count()
            == 2
    })
}

/// One round: ping every pair of containers both ways for `secs`, fail host1's eth1 (and
/// tor1's end) at FAIL_AT, restore. The longest reply gap (ms) and, with latticed and BFD, the
/// time (ms) from BFD down to host1's route change.
fn round(lab: &Lab, setup: Setup, secs: u64) -> (f64, Option<f64>) {
    let [r1, r2] = racks(lab, setup);
    let logs = lab.state.join(format!("{}-pings", lab.name));
    std::fs::create_dir_all(&logs).unwrap();
    let monitor_file = logs.join("monitor.txt");
    let mut monitor = Command::new("ip")
        .args(["-ts", "-n", &lab.ns("host1"), "monitor", "route"])
        .stdout(std::fs::File::create(&monitor_file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let count = secs * 1000 / INTERVAL_MS;
    let pairs: Vec<(&Member, &Member)> = r1
        .iter()
        .flat_map(|a| r2.iter().map(move |b| (a, b)))
        .flat_map(|(a, b)| [(a, b), (b, a)])
        .collect();
    let log = |i: usize| logs.join(format!("stream{i}.txt"));
    let pings: Vec<Child> = pairs
        .iter()
        .enumerate()
        .map(|(i, ((from, src), (_, dst)))| {
            Command::new("ip")
                .args(["netns", "exec", from, "ping", "-D", "-n"])
                .args(["-i", &format!("{}", INTERVAL_MS as f64 / 1000.0)])
                .args(["-c", &count.to_string(), "-I", src, dst])
                .stdout(std::fs::File::create(log(i)).unwrap())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(FAIL_AT);
    let latticed_log = lab.node_dir("host1").join("latticed.log");
    let log_before = std::fs::read_to_string(&latticed_log)
        .unwrap_or_default()
        .len();
    for ns in [lab.ns("host1"), lab.ns("tor1")] {
        sh(
            &ns,
            "nft -f - <<'EOF'\ntable inet benchbfd {\n chain i { type filter hook input priority -300; iifname \"eth1\" drop; }\n chain f { type filter hook forward priority -300; iifname \"eth1\" drop; oifname \"eth1\" drop; }\n chain o { type filter hook output priority -300; oifname \"eth1\" drop; }\n}\nEOF",
        );
    }
    for mut p in pings {
        p.wait().unwrap();
    }
    let gap = (0..pairs.len())
        .map(|i| longest_gap(reply_times(&std::fs::read_to_string(log(i)).unwrap())))
        .fold(0.0, f64::max);
    let _ = monitor.kill();
    let _ = monitor.wait();
    let to_kernel = if setup.frr_hosts || setup.bfd_ms.is_none() {
        None
    } else {
        let text = std::fs::read_to_string(&latticed_log).unwrap_or_default();
        let down = text
            .get(log_before..)
            .unwrap_or("")
            .lines()
            .find(|l| l.contains("BFD session down") && l.contains("10.0.11.1"))
            .and_then(|l| clock(l.split_whitespace().next()?));
        let change = std::fs::read_to_string(&monitor_file)
            .unwrap()
            .lines()
            .find(|l| l.contains("10.244.2.0/24"))
            .and_then(|l| clock(l.split_whitespace().next()?));
        down.zip(change).map(|(d, c)| (c - d) * 1000.0)
    };
    let _ = std::fs::remove_dir_all(&logs);
    for ns in [lab.ns("host1"), lab.ns("tor1")] {
        sh(&ns, "nft delete table inet benchbfd");
    }
    assert!(
        eventually(60, || ecmp(lab)),
        "ECMP not back after the failure"
    );
    (gap, to_kernel)
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("bench_bfd_failover needs root (network namespaces)");
        std::process::exit(2);
    }
    for tool in [
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/bfdd",
        "/usr/sbin/nft",
        "/usr/bin/ping",
    ] {
        if !Path::new(tool).exists() {
            eprintln!("bench_bfd_failover: {tool} is missing (make deps-bench installs it)");
            std::process::exit(2);
        }
    }
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let pid = std::process::id();
    let setups = [
        Setup {
            name: "latticed, BFD 300 ms x 3",
            frr_hosts: false,
            bfd_ms: Some(300),
        },
        Setup {
            name: "FRR bgpd+bfdd, BFD 300 ms x 3",
            frr_hosts: true,
            bfd_ms: Some(300),
        },
        Setup {
            name: "latticed, BFD 100 ms x 3",
            frr_hosts: false,
            bfd_ms: Some(100),
        },
        Setup {
            name: "FRR bgpd+bfdd, BFD 100 ms x 3",
            frr_hosts: true,
            bfd_ms: Some(100),
        },
        Setup {
            name: "latticed, no BFD (hold 9 s)",
            frr_hosts: false,
            bfd_ms: None,
        },
    ];
    let mut results = Vec::new();
    for (i, setup) in setups.iter().enumerate() {
        let lab = lab(
            &examples,
            &dir.path().join(format!("r{i}")),
            &format!("bb{i}{pid}"),
            *setup,
        );
        lab.run(&["deploy"]);
        lab.run(&["wait", "--timeout", "120"]);
        assert!(eventually(60, || ecmp(&lab)), "{}: no ECMP", setup.name);
        let measured: Vec<(f64, Option<f64>)> =
            (0..ROUNDS).map(|_| round(&lab, *setup, secs)).collect();
        drop(lab);
        results.push((setup.name, measured));
    }
    println!(
        "failover with BFD, dual-homed hosts (two FRR ToRs): host1's uplink to tor1 fails \
         silently (nftables drop at both ends, carrier up); {n} ping streams each way at \
         {INTERVAL_MS} ms; {ROUNDS} rounds per row",
        n = PER_HOST * PER_HOST
    );
    println!(
        "{:<34}{:<28}BFD down to kernel route change",
        "row", "longest reply gap per round"
    );
    let worst = |m: &[(f64, Option<f64>)]| m.iter().map(|r| r.0).fold(0.0, f64::max);
    for (name, m) in &results {
        let gaps: Vec<String> = m.iter().map(|r| format!("{:.0} ms", r.0)).collect();
        let kernel: Vec<String> = m
            .iter()
            .filter_map(|r| r.1.map(|k| format!("{k:.1} ms")))
            .collect();
        println!(
            "{name:<34}{:<28}{}",
            gaps.join(", "),
            if kernel.is_empty() {
                "-".into()
            } else {
                kernel.join(", ")
            }
        );
    }
    for (l, f) in [(0, 1), (2, 3)] {
        let (lw, fw) = (worst(&results[l].1), worst(&results[f].1));
        if fw > 0.0 {
            println!(
                "ratio {} / {}, worst gap: {:.2}",
                results[l].0,
                results[f].0,
                lw / fw
            );
        }
    }
}
