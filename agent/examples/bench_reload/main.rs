//! `make bench` live-reconfiguration row (issue 16): a speaker with P peers (default 100) and
//! N exported prefixes (default 10000, plus the host's block) changes the communities of one
//! peer's export, and we measure how long until that peer has every prefix with the new
//! community, and how many UPDATEs each peer was sent. In the same run, the same change by:
//! - latticed: the peer's `communities` edited in its file, then `lattice reload` (the
//!   prefixes are announced through its API, to every peer, by an export policy);
//! - FRR 8.4 bgpd (`-Z`): the prefixes as `network` statements, every neighbour's outbound
//!   route-map setting the community; the change is `vtysh` switching that neighbour to
//!   another route-map, then `clear bgp ipv4 unicast X soft out` (FRR's documented way).
//!
//! Everything runs in one namespace on loopback aliases: the speaker on 10.97.0.1 (latticed) or
//! 10.97.0.2 (FRR), the peers on 10.97.1.1 upwards, port 1179. The peers are this process
//! (`sink.rs`): the same counting for both. Each round flips the community (65100:1 <-> :2) and
//! is timed from the command's start to the last prefix seen; the command's own duration is
//! shown too. Usage (root): `bench_reload [PEERS [PREFIXES [ROUNDS]]]`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod sink;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::client::call;
use api::proto::{Reply, Request};
use ipnet::IpNet;
use sink::Seen;
use testkit::daemons::Frr;
use testkit::netns::Netns;
use testkit::process::Daemon;

const OUR_AS: u32 = 65100;
const SINK_AS: u32 = 65201;
const SINK_PORT: u16 = 1179;
const LATTICED: &str = "10.97.0.1";
const FRR: &str = "10.97.0.2";
const BLOCK: &str = "10.244.1.0/24";
const PATIENCE: Duration = Duration::from_secs(300);

fn sink_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 97, 1, 1)) + i as u32)
}

/// The i-th exported prefix: /32s from 10.100.0.0.
fn prefix(i: usize) -> IpNet {
    IpNet::V4(
        ipnet::Ipv4Net::new(
            Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 0)) + i as u32),
            32,
        )
        .unwrap(),
    )
}

fn community(tag: u32) -> u32 {
    (OUR_AS << 16) | tag
}

/// A binary built next to this one (`cargo build --release -p agent -p cli --bins`).
fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the binaries first",
        path.display()
    );
    path
}

/// One round's figures.
#[derive(Debug, Clone, Copy)]
struct Round {
    /// The command's wall time (the CLI process, start to exit).
    command: Duration,
    /// From the command's start to the changed peer holding every prefix with the new
    /// community.
    applied: Duration,
    /// UPDATEs the changed peer got.
    to_changed: u64,
    /// UPDATEs the other peers got, all together.
    to_others: u64,
}

/// Wait until `done` holds, checking every millisecond; false after `limit`.
async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

/// Every sink holds `n` prefixes (initial convergence).
async fn converged(sinks: &[Arc<Seen>], n: u64, who: &str) -> Duration {
    let t = Instant::now();
    let ok = until(PATIENCE, || {
        sinks
            .iter()
            .all(|s| s.announced.load(Ordering::SeqCst) >= n)
    })
    .await;
    let got: Vec<u64> = sinks
        .iter()
        .map(|s| s.announced.load(Ordering::SeqCst))
        .collect();
    assert!(ok, "{who}: not every peer got {n} prefixes: {got:?}");
    t.elapsed()
}

/// One round: `change` flips peer `target` to `tag`; wait for its `n` prefixes.
async fn round(
    sinks: &[Arc<Seen>],
    want: &AtomicU32,
    target: usize,
    n: u64,
    tag: u32,
    change: impl FnOnce(),
) -> Round {
    // Quiet first: nothing in flight from the previous round.
    tokio::time::sleep(Duration::from_millis(500)).await;
    want.store(community(tag), Ordering::SeqCst);
    for s in sinks {
        s.reset();
    }
    let t0 = Instant::now();
    change();
    let command = t0.elapsed();
    let ok = until(PATIENCE, || {
        sinks[target].tagged.load(Ordering::SeqCst) >= n
    })
    .await;
    let applied = t0.elapsed();
    assert!(
        ok,
        "the changed peer never got all {n} prefixes with the new community"
    );
    // Anything else the change causes, within a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let to_changed = sinks[target].updates.load(Ordering::SeqCst);
    let to_others = sinks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != target)
        .map(|(_, s)| s.updates.load(Ordering::SeqCst))
        .sum();
    Round {
        command,
        applied,
        to_changed,
        to_others,
    }
}

fn latticed_config(dir: &Path, peers: usize, target: usize, tag: u32) -> String {
    let mut t = format!(
        "node: {{name: bench, asn: {OUR_AS}, router_id: {LATTICED}}}\n\
         cluster: {{cidr: 10.244.0.0/16}}\n\
         ipam: {{state_dir: {}, block: {BLOCK}}}\n\
         api: {{socket: {}}}\n\
         metrics: {{enabled: false}}\n\
         docker: {{enabled: false}}\n\
         bgp:\n  listen: {{address: {LATTICED}}}\n  peers:\n",
        dir.join("state").display(),
        dir.join("api.sock").display()
    );
    for i in 0..peers {
        let c = if i == target { tag } else { 1 };
        t += &format!(
            "    - {{address: {}, asn: {SINK_AS}, port: {SINK_PORT}, local_address: {LATTICED}, export: out, communities: ['{OUR_AS}:{c}']}}\n",
            sink_addr(i)
        );
    }
    t += "  policies:\n    out:\n      rules:\n        - {match: {source: [block, announced]}, action: accept}\n";
    t
}

async fn lattice(
    dir: &Path,
    ns: &str,
    sinks: &[Arc<Seen>],
    want: &AtomicU32,
    n: usize,
    rounds: usize,
) -> (Duration, Vec<Round>) {
    let peers = sinks.len();
    let target = peers / 2;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("latticed.yaml");
    std::fs::write(&path, latticed_config(dir, peers, target, 1)).unwrap();
    let mut c = testkit::netns::command(ns, sibling("latticed"));
    c.args(["-c", path.to_str().unwrap(), "--log-level", "warn"]);
    let mut daemon = Daemon::spawn("latticed", c, Some(&dir.join("latticed.log")));
    let socket = dir.join("api.sock");
    assert!(
        until(Duration::from_secs(30), || socket.exists()).await,
        "latticed did not start"
    );
    let t = Instant::now();
    let all: Vec<IpNet> = (0..n).map(prefix).collect();
    for chunk in all.chunks(1000) {
        let reply = call(
            &socket,
            &Request::Announce {
                prefixes: chunk.to_vec(),
                communities: vec![],
            },
        )
        .await
        .unwrap();
        assert!(matches!(reply, Reply::Announced { .. }), "{reply:?}");
    }
    let up = converged(sinks, n as u64 + 1, "latticed").await + t.elapsed();
    let mut out = Vec::new();
    for r in 0..rounds {
        let tag = if r % 2 == 0 { 2 } else { 1 };
        std::fs::write(&path, latticed_config(dir, peers, target, tag)).unwrap();
        let lattice = sibling("lattice");
        let socket = socket.clone();
        out.push(
            round(sinks, want, target, n as u64 + 1, tag, move || {
                let o = Command::new(lattice)
                    .arg("--socket")
                    .arg(&socket)
                    .arg("reload")
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            })
            .await,
        );
    }
    daemon.stop();
    (up, out)
}

fn frr_config(peers: usize, n: usize) -> String {
    let mut c = format!(
        "router bgp {OUR_AS}\n bgp router-id {FRR}\n no bgp ebgp-requires-policy\n no bgp network import-check\n no bgp default ipv4-unicast\n"
    );
    for i in 0..peers {
        let a = sink_addr(i);
        c += &format!(" neighbor {a} remote-as {SINK_AS}\n neighbor {a} port {SINK_PORT}\n neighbor {a} update-source {FRR}\n");
    }
    c += " address-family ipv4 unicast\n";
    c += &format!("  network {BLOCK}\n");
    for i in 0..n {
        c += &format!("  network {}\n", prefix(i));
    }
    for i in 0..peers {
        let a = sink_addr(i);
        c += &format!("  neighbor {a} activate\n  neighbor {a} route-map OUT-1 out\n");
    }
    c += " exit-address-family\n";
    for tag in [1, 2] {
        c += &format!("route-map OUT-{tag} permit 10\n set community {OUR_AS}:{tag}\n");
    }
    c
}

async fn frr(
    dir: &Path,
    ns: &str,
    sinks: &[Arc<Seen>],
    want: &AtomicU32,
    n: usize,
    rounds: usize,
) -> (Duration, Vec<Round>) {
    let peers = sinks.len();
    let target = peers / 2;
    for s in sinks {
        s.reset();
    }
    let t = Instant::now();
    let frr = Frr::start_bgpd_only(ns, dir, &frr_config(peers, n));
    let up = converged(sinks, n as u64 + 1, "FRR").await + Duration::ZERO;
    let up = up.max(t.elapsed());
    let vty = frr.dir().join("run");
    let mut out = Vec::new();
    for r in 0..rounds {
        let tag = if r % 2 == 0 { 2 } else { 1 };
        let (vty, ns) = (vty.clone(), ns.to_string());
        let a = sink_addr(target);
        out.push(
            round(sinks, want, target, n as u64 + 1, tag, move || {
                let o = testkit::netns::command(&ns, "vtysh")
                    .arg("--vty_socket")
                    .arg(&vty)
                    .args([
                        "-c",
                        "configure terminal",
                        "-c",
                        &format!("router bgp {OUR_AS}"),
                        "-c",
                        "address-family ipv4 unicast",
                    ])
                    .args([
                        "-c",
                        &format!("neighbor {a} route-map OUT-{tag} out"),
                        "-c",
                        "end",
                    ])
                    .args(["-c", &format!("clear bgp ipv4 unicast {a} soft out")])
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
            })
            .await,
        );
    }
    frr.stop();
    (up, out)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let peers = args.first().copied().unwrap_or(100).clamp(2, 250);
    let n = args.get(1).copied().unwrap_or(10_000).clamp(1, 60_000);
    let rounds = args.get(2).copied().unwrap_or(5).max(1);
    let mut needs = testkit::daemons::FRR_BINARIES.to_vec();
    needs.push("/usr/sbin/ip");
    if !testkit::require(true, &needs) {
        std::process::exit(2);
    }
    let (latticed_bin, lattice_bin) = (sibling("latticed"), sibling("lattice"));
    eprintln!(
        "using {} and {}",
        latticed_bin.display(),
        lattice_bin.display()
    );
    testkit::netns::remove_all_on_signal();
    testkit::netns::remove_stale("rbench");
    let ns = Netns::new("rbench");
    for a in [LATTICED, FRR] {
        ns.addr("lo", &format!("{a}/32"));
    }
    for i in 0..peers {
        ns.addr("lo", &format!("{}/32", sink_addr(i)));
    }
    let dir = testkit::cmd::shared_tempdir();
    let d = dir.path().to_path_buf();
    let name = ns.name().to_string();
    let ((l_up, l), (f_up, f)) = testkit::netns::in_netns(ns.name(), move || async move {
        let want = Arc::new(AtomicU32::new(community(1)));
        let addrs: Vec<Ipv4Addr> = (0..peers).map(sink_addr).collect();
        let sinks = sink::start(&addrs, SINK_PORT, SINK_AS, want.clone()).await;
        let l = lattice(&d.join("latticed"), &name, &sinks, &want, n, rounds).await;
        let frr_dir = d.join("frr-bench");
        std::fs::create_dir_all(&frr_dir).unwrap();
        let f = frr(&frr_dir, &name, &sinks, &want, n, rounds).await;
        (l, f)
    });
    drop(ns);
    println!("\nLive reconfiguration: {peers} peers, {n} exported prefixes + the block; one peer's export communities changed, {rounds} rounds each\n");
    println!("| speaker | change | applied: median ms (min-max) | command ms (median) | UPDATEs to that peer (per round) | UPDATEs to the other {} peers | initial convergence s |", peers - 1);
    println!("|---|---|---|---|---|---|---|");
    for (who, how, up, rs) in [
        ("latticed", "file edited, `lattice reload`", l_up, &l),
        (
            "FRR 8.4 bgpd",
            "`vtysh` route-map change + `clear bgp ... soft out`",
            f_up,
            &f,
        ),
    ] {
        let applied: Vec<Duration> = rs.iter().map(|r| r.applied).collect();
        let (lo, hi) = (applied.iter().min().unwrap(), applied.iter().max().unwrap());
        let updates: Vec<String> = rs.iter().map(|r| r.to_changed.to_string()).collect();
        let others: u64 = rs.iter().map(|r| r.to_others).sum();
        println!(
            "| {who} | {how} | {:.1} ({:.1}-{:.1}) | {:.1} | {} | {others} | {:.1} |",
            ms(median(applied.clone())),
            ms(*lo),
            ms(*hi),
            ms(median(rs.iter().map(|r| r.command).collect())),
            updates.join(", "),
            up.as_secs_f64()
        );
    }
    let ratio = ms(median(f.iter().map(|r| r.applied).collect()))
        / ms(median(l.iter().map(|r| r.applied).collect()));
    println!("\nlatticed applies the change {ratio:.1}x as fast as FRR (median, command start to the last prefix at the peer)");
}
