//! Failover on an unnumbered fabric: one uplink of a dual-homed host fails silently (both ends
//! drop everything on the link with nftables, carrier stays up), while 10 ms ping streams run
//! from the containers of the other rack to the host's containers. Rows: latticed on the hosts
//! (the `unnumbered` example), and FRR's bgpd on the hosts instead (same fabric, interface
//! neighbours, same timers: keepalive 1 s, hold 3 s; no BFD in either).
//!
//! Each stream is a (source, destination) pair, so ECMP hashes it onto one uplink each way
//! (`ip route get` says which before the failure; Linux's hash is symmetric, so a stream's two
//! directions often take different uplinks). Echo requests are captured where they arrive:
//! those whose way crosses the surviving uplink, from either rack, must arrive without a gap.
//! The longest gap in a stream's replies is the outage a user of it sees.
//!
//! `bench_failover [SECONDS]` (root; default 15 s of pings, the failure at 3 s). Uses the
//! `lattice-lab` and `latticed` built next to this example's directory (`cargo build --release
//! -p agent -p topology-lab --bins`). Every lab it deploys is destroyed, also on failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod failover_kit;
use failover_kit::{eventually, ip, longest_gap, reply_times, sh, Lab};

/// Ping interval.
const INTERVAL_MS: u64 = 10;
/// When the uplink fails, after the streams started.
const FAIL_AT: Duration = Duration::from_secs(3);
/// Containers (addresses) per host: 4 x 4 streams, enough that ECMP spreads some each way.
const PER_HOST: usize = 4;
/// Failures per row (the uplink restored in between): the hold timer's phase varies.
const ROUNDS: usize = 3;

/// The uplink (`eth1`/`eth2`) a route lookup in `ns` picks, or `-`.
fn uplink(route_get: &str) -> String {
    let dev = route_get
        .split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .unwrap_or("-");
    dev.to_string()
}

/// The containers of one rack's host: (namespace, address), the interface they receive on,
/// and the host-side interface of each address.
struct Rack {
    host: String,
    members: Vec<(String, String)>,
    capture: String,
    host_dev: Box<dyn Fn(&str) -> String>,
}

/// One ping stream between two containers, and the uplinks of rack 1's host its echo requests
/// and its replies cross.
#[derive(Debug, Clone)]
struct Stream {
    from: String,
    src: String,
    to: String,
    dst: String,
    there: String,
    back: String,
}

/// What a row measured.
#[derive(Debug, Default)]
struct Row {
    failed: String,
    /// Streams by (uplink there, uplink back) before the failure.
    paths: BTreeMap<(String, String), usize>,
    /// One way, requests over the surviving uplink: their longest gap at the receiver (ms).
    surviving: Vec<f64>,
    /// ...and how many of them never arrived.
    surviving_lost: u64,
    /// Round trip: each round's longest gap between replies of any stream (ms).
    round_trip: Vec<f64>,
    /// Streams in all rounds.
    streams: usize,
}

/// The longest time (ms) between consecutive timestamps, and how many of `sent` are missing.
fn gap_and_loss(times: Vec<f64>, sent: u64) -> (f64, u64) {
    let missing = sent.saturating_sub(times.len() as u64);
    (longest_gap(times), missing)
}

/// Arrival times of echo requests from `src` in a `tcpdump -tt -n` output.
fn request_times(output: &str, src: &str, dst: &str) -> Vec<f64> {
    let pattern = format!(" IP {src} > {dst}: ICMP echo request");
    output
        .lines()
        .filter(|l| l.contains(&pattern))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Every stream from rack 2 to rack 1 and from rack 1 to rack 2, with its uplinks.
fn streams(lab: &Lab, rack1: &Rack, rack2: &Rack) -> Vec<Stream> {
    let (spine, host1) = (lab.ns("spine"), lab.ns(&rack1.host));
    // The spine's eth1/eth2 lead to leaf1a/leaf1b, which are host1's eth1/eth2.
    let spine_choice = |src: &str, dst: &str| {
        uplink(&ip(
            &spine,
            &["route", "get", dst, "from", src, "iif", "eth3"],
        ))
    };
    let host_choice = |src: &str, dst: &str| {
        let iif = (rack1.host_dev)(src);
        uplink(&ip(
            &host1,
            &["route", "get", dst, "from", src, "iif", &iif],
        ))
    };
    let mut out = Vec::new();
    for (from, src) in &rack2.members {
        for (to, dst) in &rack1.members {
            out.push(Stream {
                from: from.clone(),
                src: src.clone(),
                to: to.clone(),
                dst: dst.clone(),
                there: spine_choice(src, dst),
                back: host_choice(dst, src),
            });
        }
    }
    for (from, src) in &rack1.members {
        for (to, dst) in &rack2.members {
            out.push(Stream {
                from: from.clone(),
                src: src.clone(),
                to: to.clone(),
                dst: dst.clone(),
                there: host_choice(src, dst),
                back: spine_choice(dst, src),
            });
        }
    }
    out
}

/// Ping every stream for `secs`, capturing the requests where they arrive; fail an uplink of
/// rack 1's host (and the leaf's end) at FAIL_AT; add what was seen to `row`; restore.
fn measure(lab: &Lab, rack1: &Rack, rack2: &Rack, secs: u64, row: &mut Row) {
    let all = streams(lab, rack1, rack2);
    let failed = "eth1";
    let leaf = "leaf1a";
    let logs = lab.state.join(format!("{}-pings", lab.name));
    std::fs::create_dir_all(&logs).unwrap();
    // Requests as they arrive, in every receiving namespace.
    let mut receivers: Vec<String> = all.iter().map(|s| s.to.clone()).collect();
    receivers.sort();
    receivers.dedup();
    let capture = |ns: &str| {
        if rack1.members.iter().any(|(n, _)| n == ns) {
            rack1.capture.clone()
        } else {
            rack2.capture.clone()
        }
    };
    let dumps: Vec<(String, Child)> = receivers
        .iter()
        .map(|ns| {
            let file = logs.join(format!("{ns}.tcpdump"));
            let child = Command::new("ip")
                .args(["netns", "exec", ns, "tcpdump", "-tt", "-n", "-l", "-i"])
                .arg(capture(ns))
                .arg("icmp[icmptype] == icmp-echo")
                .stdout(std::fs::File::create(&file).unwrap())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            (ns.clone(), child)
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let count = secs * 1000 / INTERVAL_MS;
    // Each stream's replies go to a file: a pipe nobody reads would fill and stall the ping.
    let log = |i: usize| logs.join(format!("stream{i}.txt"));
    let pings: Vec<Child> = all
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Command::new("ip")
                .args(["netns", "exec", &s.from, "ping", "-D", "-n"])
                .args(["-i", &format!("{}", INTERVAL_MS as f64 / 1000.0)])
                .args(["-c", &count.to_string(), "-I", &s.src, &s.dst])
                .stdout(std::fs::File::create(log(i)).unwrap())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(FAIL_AT);
    for (ns, dev) in [(lab.ns(&rack1.host), failed), (lab.ns(leaf), "eth2")] {
        sh(
            &ns,
            &format!(
                "nft -f - <<'EOF'\ntable inet benchfail {{\n chain i {{ type filter hook input priority -300; iifname \"{dev}\" drop; }}\n chain f {{ type filter hook forward priority -300; iifname \"{dev}\" drop; oifname \"{dev}\" drop; }}\n chain o {{ type filter hook output priority -300; oifname \"{dev}\" drop; }}\n}}\nEOF"
            ),
        );
    }
    for mut p in pings {
        p.wait().unwrap();
    }
    std::thread::sleep(Duration::from_secs(1));
    let mut captured = BTreeMap::new();
    for (ns, child) in dumps {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let _ = child.wait_with_output();
        let text = std::fs::read_to_string(logs.join(format!("{ns}.tcpdump"))).unwrap();
        captured.insert(ns, text);
    }
    row.failed = format!("{} {failed}", rack1.host);
    let mut round_trip: f64 = 0.0;
    for (i, s) in all.iter().enumerate() {
        *row.paths
            .entry((s.there.clone(), s.back.clone()))
            .or_default() += 1;
        row.streams += 1;
        let replies = reply_times(&std::fs::read_to_string(log(i)).unwrap());
        round_trip = round_trip.max(gap_and_loss(replies, count).0);
        if s.there != failed {
            let arrived = request_times(&captured[&s.to], &s.src, &s.dst);
            let (longest, lost) = gap_and_loss(arrived, count);
            row.surviving.push(longest);
            row.surviving_lost += lost;
        }
    }
    row.round_trip.push(round_trip);
    let _ = std::fs::remove_dir_all(&logs);
    for ns in [lab.ns(&rack1.host), lab.ns(leaf)] {
        sh(&ns, "nft delete table inet benchfail");
    }
    assert!(
        eventually(60, || ecmp_everywhere(lab)),
        "ECMP not back after the failure"
    );
}

/// The unnumbered example with PER_HOST containers per host, as lab `name` in `dir`.
/// BFD 100 ms x 3 on every host-facing session: the leaves' `neighbor eth2 bfd` (FRR starts
/// bfdd for it) and, on the hosts, `bfd.enabled` (latticed) or `neighbor ethN bfd` (FRR).
const LEAF_BFD: &str = " neighbor eth2 bfd 3 100 100\n";

/// The leaves of the copied example at `conf` run BFD towards their host.
fn leaves_with_bfd(conf: &Path) {
    for leaf in ["leaf1a", "leaf1b", "leaf2a", "leaf2b"] {
        let path = conf.join(format!("{leaf}.conf"));
        let text = std::fs::read_to_string(&path).unwrap();
        let anchor = " neighbor eth2 interface peer-group FABRIC\n";
        assert!(text.contains(anchor), "{leaf}: {text}");
        std::fs::write(&path, text.replace(anchor, &format!("{anchor}{LEAF_BFD}"))).unwrap();
    }
}

fn lattice_lab(examples: &Path, dir: &Path, name: &str, bfd: bool) -> Lab {
    copy_dir(&examples.join("unnumbered"), &dir.join("unnumbered"));
    if bfd {
        let conf = dir.join("unnumbered");
        leaves_with_bfd(&conf);
        for h in 1..=2 {
            let path = conf.join(format!("host{h}.yaml"));
            let text = std::fs::read_to_string(&path).unwrap().replace(
                "hold_time: 3}",
                "hold_time: 3, bfd: {enabled: true, min_rx_ms: 100, min_tx_ms: 100}}",
            );
            std::fs::write(&path, text).unwrap();
        }
    }
    let text = std::fs::read_to_string(examples.join("unnumbered.clab.yml")).unwrap();
    let text = text
        .replace("name: unnumbered\n", &format!("name: {name}\n"))
        .replace("containers: 2", &format!("containers: {PER_HOST}"));
    let topo = dir.join("unnumbered.clab.yml");
    std::fs::write(&topo, text).unwrap();
    Lab {
        topo,
        state: dir.join("state"),
        name: name.to_string(),
    }
}

/// The same fabric with FRR on the hosts: each host announces its /24 over interface
/// neighbours (remote-as external, timers 1 3, multipath relax); one namespace per host holds
/// PER_HOST "container" addresses behind it.
fn frr_lab(examples: &Path, dir: &Path, name: &str, bfd: bool) -> Lab {
    let conf = dir.join("unnumbered");
    copy_dir(&examples.join("unnumbered"), &conf);
    if bfd {
        leaves_with_bfd(&conf);
    }
    let host_bfd = if bfd {
        " neighbor eth1 bfd 3 100 100\n neighbor eth2 bfd 3 100 100\n"
    } else {
        ""
    };
    for h in 1..=2 {
        std::fs::write(
            conf.join(format!("fhost{h}.conf")),
            format!(
                "hostname fhost{h}\nip route 10.244.{h}.0/24 blackhole\nrouter bgp 6510{h}\n \
                 bgp router-id 0.0.0.10{h}\n no bgp ebgp-requires-policy\n \
                 bgp bestpath as-path multipath-relax\n neighbor UP peer-group\n \
                 neighbor UP remote-as external\n neighbor UP timers 1 3\n \
                 neighbor UP timers connect 1\n neighbor eth1 interface peer-group UP\n \
                 neighbor eth2 interface peer-group UP\n{host_bfd} address-family ipv4 unicast\n  \
                 network 10.244.{h}.0/24\n  maximum-paths 8\n exit-address-family\n"
            ),
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(examples.join("unnumbered.clab.yml")).unwrap();
    let mut text = text.replace("name: unnumbered\n", &format!("name: {name}\n"));
    for h in 1..=2 {
        let lattice = format!(
            "    host{h}:\n      kind: lattice\n      startup-config: unnumbered/host{h}.yaml\n"
        );
        let extra: String = (3..=PER_HOST + 1)
            .map(|a| format!("        - ip addr add 10.244.{h}.{a}/28 dev eth1\n"))
            .collect();
        let frr = format!(
            "    host{h}:\n      kind: frr\n      startup-config: unnumbered/fhost{h}.conf\n    \
             ctr{h}:\n      kind: linux\n      exec:\n{extra}        - ip route add default via 10.244.{h}.1\n"
        );
        text = text.replace(&lattice, &frr);
        text.push_str(&format!(
            "    - endpoints: [\"host{h}:eth3\", \"ctr{h}:eth1\"]\n      ipv4: [\"10.244.{h}.1/28\", \"10.244.{h}.2/28\"]\n"
        ));
    }
    let topo = dir.join("unnumbered-frr.clab.yml");
    std::fs::write(&topo, text).unwrap();
    Lab {
        topo,
        state: dir.join("state"),
        name: name.to_string(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// The lattice lab's racks: each host's containers, from the lab's state.
fn lattice_racks(lab: &Lab) -> (Rack, Rack) {
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(lab.state.join(&lab.name).join("state.json")).unwrap(),
    )
    .unwrap();
    let rack = |host: &str| {
        let members = state["nodes"]
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
            .collect();
        let ns = lab.ns(host);
        Rack {
            host: host.to_string(),
            members,
            capture: "eth0".into(),
            host_dev: Box::new(move |addr: &str| uplink(&ip(&ns, &["route", "get", addr]))),
        }
    };
    (rack("host1"), rack("host2"))
}

/// The FRR lab's racks: one namespace per host holding PER_HOST addresses behind its eth3.
fn frr_racks(lab: &Lab) -> (Rack, Rack) {
    let rack = |h: u32| Rack {
        host: format!("host{h}"),
        members: (2..=PER_HOST + 1)
            .map(|a| (lab.ns(&format!("ctr{h}")), format!("10.244.{h}.{a}")))
            .collect(),
        capture: "eth1".into(),
        host_dev: Box::new(|_: &str| "eth3".to_string()),
    };
    (rack(1), rack(2))
}

/// Both hosts hold the other rack's /24 over both uplinks, and the spine rack 1's over both
/// of its leaves.
fn ecmp_everywhere(lab: &Lab) -> bool {
    [("host1", 2), ("host2", 1), ("spine", 1)]
        .iter()
        .all(|(h, o)| {
            ip(&lab.ns(h), &["route", "show", &format!("10.244.{o}.0/24")])
                .matches("nexthop via inet6")
                .count()
                == 2
        })
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("bench_failover needs root (network namespaces)");
        std::process::exit(2);
    }
    for tool in ["/usr/lib/frr/bgpd", "/usr/sbin/nft", "/usr/bin/ping"] {
        if !Path::new(tool).exists() {
            eprintln!("bench_failover: {tool} is missing (make deps-bench installs it)");
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
    let mut rows: BTreeMap<&str, Row> = BTreeMap::new();

    for (bfd, key) in [(false, "lattice"), (true, "lattice, BFD 100x3")] {
        let lab = lattice_lab(
            &examples,
            &dir.path().join(format!("l{bfd}")),
            &format!("bfl{pid}{}", u8::from(bfd)),
            bfd,
        );
        lab.run(&["deploy"]);
        lab.run(&["wait", "--timeout", "120"]);
        assert!(
            eventually(60, || ecmp_everywhere(&lab)),
            "lattice lab: no ECMP"
        );
        let (r1, r2) = lattice_racks(&lab);
        let row = rows.entry(key).or_default();
        for _ in 0..ROUNDS {
            measure(&lab, &r1, &r2, secs, row);
        }
        drop(lab);
    }
    for (bfd, key) in [(false, "frr"), (true, "frr, BFD 100x3")] {
        let lab = frr_lab(
            &examples,
            &dir.path().join(format!("f{bfd}")),
            &format!("bff{pid}{}", u8::from(bfd)),
            bfd,
        );
        lab.run(&["deploy"]);
        lab.run(&["wait", "--timeout", "120"]);
        assert!(eventually(60, || ecmp_everywhere(&lab)), "frr lab: no ECMP");
        let (r1, r2) = frr_racks(&lab);
        let row = rows.entry(key).or_default();
        for _ in 0..ROUNDS {
            measure(&lab, &r1, &r2, secs, row);
        }
        drop(lab);
    }

    println!(
        "failover, unnumbered fabric: one uplink of a dual-homed host fails silently (nftables \
         drop at both ends, carrier up); {n} ping streams each way between the racks at \
         {INTERVAL_MS} ms; keepalive 1 s, hold 3 s; without BFD and with BFD 100 ms x 3",
        n = PER_HOST * PER_HOST
    );
    println!(
        "{:<24}{:<13}{:<50}round trip: longest gap per round",
        "row", "failed", "one way over the surviving uplink"
    );
    let name = |k: &str| match k {
        "lattice" => "latticed on the hosts",
        "lattice, BFD 100x3" => "latticed, BFD 100x3",
        "frr, BFD 100x3" => "FRR bgpd+bfdd, BFD 100x3",
        _ => "FRR bgpd on the hosts",
    };
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    for (k, r) in &rows {
        let rounds: Vec<String> = r.round_trip.iter().map(|g| format!("{g:.0} ms")).collect();
        println!(
            "{:<24}{:<13}{:<50}{} ({} streams in {} rounds)",
            name(k),
            r.failed,
            format!(
                "{} streams, {} requests lost, longest gap {:.0} ms",
                r.surviving.len(),
                r.surviving_lost,
                max(&r.surviving)
            ),
            rounds.join(", "),
            r.streams,
            r.round_trip.len()
        );
    }
    for (k, r) in &rows {
        let shown: Vec<String> = r
            .paths
            .iter()
            .map(|((there, back), n)| format!("{there}/{back}: {n}"))
            .collect();
        println!(
            "{}: streams by uplink of host1 there/back: {}",
            name(k),
            shown.join(", ")
        );
    }
    for (l, f, what) in [
        ("lattice", "frr", "no BFD"),
        ("lattice, BFD 100x3", "frr, BFD 100x3", "BFD 100x3"),
    ] {
        if let (Some(l), Some(f)) = (rows.get(l), rows.get(f)) {
            if max(&f.round_trip) > 0.0 {
                println!(
                    "ratio latticed / FRR, round trip, worst round, {what}: {:.2}",
                    max(&l.round_trip) / max(&f.round_trip)
                );
            }
        }
    }
}
