//! `make bench` ingest comparison (issue 3, and bgperf2's headline scenario): fast senders feed
//! the same N IPv4 prefixes to each receiver in turn over TCP between two network namespaces,
//! and we measure the seconds from the first session up to all N from every sender in the
//! receiver's RIB, and the receiver's peak RSS.
//!
//! A scenario is `N` (one sender session) or `PxN` (P sender sessions at once, each from its own
//! source address in the sender namespace, all in the same AS, each sending the same N prefixes
//! with itself as next hop: every receiver keeps P paths per prefix, P x N in all). `10x1000000`
//! is bgperf2's headline: 10 peers, 1M prefixes each, 10M paths. `SCENARIO:r1,r2` limits one
//! scenario to some receivers.
//!
//! Receivers: Lattice's speaker (`bench_ingest sink P`, this binary in another mode), BIRD 2,
//! FRR bgpd (`-Z`, no zebra: nothing goes to the kernel) and GoBGP. None installs routes in the
//! kernel, so this compares BGP ingest (decode, Adj-RIB-In, best path) alone. Every receiver
//! gets the same completion check on the same schedule: every 10 ms this process asks it, over
//! its own control channel, for its per-sender prefix counts (see `receivers.rs`); the table
//! shows each measurement's resolution.
//!
//! Usage (root): `bench_ingest run SCENARIO [SCENARIO ...]` prints a Markdown table;
//! `BENCH_RECEIVERS=lattice,bird` limits every scenario to some receivers. Everything runs in two
//! namespaces the bench creates (named after the runner's pid); they and every process in them
//! are removed when a measurement ends, when the runner panics, and on SIGINT, SIGTERM or SIGHUP;
//! a later run removes those of a runner that was SIGKILLed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod receivers;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp::driver::{PeerConfig, Speaker, SpeakerConfig};
use receivers::Receiver;
use testkit::bench::{completion, cpu_seconds, open_session, peak_rss_kib, Completion, Link};
use tokio::io::AsyncWriteExt;

const RECEIVER: &str = "10.98.0.2";
/// Every sender session is in this AS (equal AS paths: the paths differ only in next hop and
/// router id, as from the spines of one Clos tier).
const SENDER_AS: u32 = 65001;
/// Sender sessions per scenario at most (their addresses are 10.98.0.11 upwards in a /24).
const MAX_PEERS: usize = 200;
const RECEIVER_AS: u32 = 65002;
/// Prefixes per UPDATE: 4 bytes each for /24s keeps one UPDATE under 4096 bytes.
const PER_UPDATE: usize = 1000;
const TIMEOUT: Duration = Duration::from_secs(600);
/// How often every receiver is asked whether it is complete.
const CHECK_EVERY: Duration = Duration::from_millis(10);

const USAGE: &str = "usage: bench_ingest run N|PxN[:receiver,...] ... | sink P";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("sink") => sink(args.get(2).and_then(|p| p.parse().ok()).unwrap_or(1)),
        Some("run") => {
            let Some(scenarios) = args[2..]
                .iter()
                .map(|a| Scenario::parse(a))
                .collect::<Option<Vec<_>>>()
            else {
                eprintln!("{USAGE}");
                std::process::exit(2);
            };
            run(if scenarios.is_empty() {
                vec![Scenario::parse("100000").unwrap()]
            } else {
                scenarios
            });
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

/// `peers` sender sessions, each announcing the same `n` prefixes, to `receivers`.
#[derive(Debug, Clone)]
struct Scenario {
    peers: usize,
    n: usize,
    receivers: Vec<&'static str>,
}

impl Scenario {
    /// `N`, `PxN`, either followed by `:receiver,...`; BENCH_RECEIVERS limits them all.
    fn parse(arg: &str) -> Option<Scenario> {
        let (size, only) = arg.split_once(':').unwrap_or((arg, ""));
        let env = std::env::var("BENCH_RECEIVERS").unwrap_or_default();
        let wanted = |r: &str, list: &str| list.is_empty() || list.split(',').any(|o| o == r);
        let receivers: Vec<&'static str> = receivers::ALL
            .into_iter()
            .filter(|r| wanted(r, only) && wanted(r, &env))
            .collect();
        let (peers, n) = match size.split_once('x') {
            Some((p, n)) => (p.parse().ok()?, n.parse().ok()?),
            None => (1, size.parse().ok()?),
        };
        ((1..=MAX_PEERS).contains(&peers) && n > 0 && !receivers.is_empty()).then_some(Scenario {
            peers,
            n,
            receivers,
        })
    }

    fn label(&self) -> String {
        if self.peers == 1 {
            self.n.to_string()
        } else {
            format!("{}x{}", self.peers, self.n)
        }
    }
}

/// The address of sender session `i`.
fn sender(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 98, 0, 11 + i as u8)
}

/// Every UPDATE sender `i` sends, pre-built: N distinct /24s from 16.0.0.0 upwards, AS_PATH
/// 65001 64999, itself as next hop (4-octet AS negotiated by all receivers).
fn updates(i: usize, n: usize) -> Vec<u8> {
    let base = Ipv4Addr::new(16, 0, 0, 0);
    let prefixes = (0..n).map(|k| testkit::bgp::nth_slash24(base, k));
    testkit::bgp::announce_slash24s(prefixes, PER_UPDATE, &[SENDER_AS, 64999], sender(i))
}

/// Sender session `i`: up, everything sent, then kept alive until `stop`.
async fn send(i: usize, n: usize, ready: std::sync::mpsc::Sender<Instant>, stop: Arc<AtomicBool>) {
    let payload = updates(i, n);
    let to: SocketAddr = format!("{RECEIVER}:179").parse().unwrap();
    let patience = Duration::from_secs(30);
    let Ok(stream) = open_session(sender(i), to, SENDER_AS, 240, patience).await else {
        return;
    };
    let _ = ready.send(Instant::now());
    let (rd, mut wr) = stream.into_split();
    testkit::bench::discard(rd);
    if wr.write_all(&payload).await.is_err() {
        return;
    }
    let mut ticks = 0u32;
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ticks += 1;
        if ticks % 200 == 0 && wr.write_all(&testkit::bgp::keepalive()).await.is_err() {
            return;
        }
    }
}

/// Lattice's receiver: a speaker with `peers` passive neighbours that accepts everything and,
/// for every line on its stdin, prints each neighbour's Adj-RIB-In count, space-separated.
fn sink(peers: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let peers = (0..peers)
            .map(|i| PeerConfig {
                passive: true,
                hold_time: 240,
                ..PeerConfig::new(sender(i).into(), SENDER_AS)
            })
            .collect();
        let (handle, mut rx) = Speaker::start(SpeakerConfig {
            local_as: RECEIVER_AS,
            router_id: RECEIVER.parse().unwrap(),
            listen: Some(format!("{RECEIVER}:179").parse().unwrap()),
            peers,
            ..SpeakerConfig::new(RECEIVER_AS, RECEIVER.parse().unwrap())
        })
        .await
        .unwrap();
        // Drain Loc-RIB changes as the agent would.
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        // Requests come in on stdin, read on a thread of their own.
        let (ask, mut asks) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                if line.is_err() || ask.send(()).is_err() {
                    return;
                }
            }
        });
        while asks.recv().await.is_some() {
            let counts: Vec<String> = handle
                .status()
                .await
                .iter()
                .map(|s| s.prefixes_received.to_string())
                .collect();
            println!("{}", counts.join(" "));
            let _ = std::io::stdout().flush();
        }
    });
}

/// One receiver's figures in one scenario.
#[derive(Debug, Clone, Copy)]
struct Figures {
    /// From the first session up to the full RIB seen, with the check's resolution.
    done: Completion,
    /// Peak resident set size, KiB.
    peak_kib: u64,
    /// CPU seconds the receiver used (all its threads), start-up included.
    cpu: f64,
}

type Measured = Option<Figures>;

/// One receiver, one scenario.
fn measure(name: &'static str, sc: &Scenario) -> Measured {
    let (peers, n) = (sc.peers, sc.n);
    let senders: Vec<Ipv4Addr> = (0..peers).map(sender).collect();
    let link = Link::up("lbench", RECEIVER.parse().unwrap(), &senders);
    let dir = testkit::cmd::shared_tempdir();
    let mut rx = Receiver::start(name, &link.rx, dir.path(), peers);
    std::thread::sleep(Duration::from_millis(500));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_sender = stop.clone();
    let tx_ns = link.tx.name().to_string();
    let sender = std::thread::spawn(move || {
        testkit::netns::enter(&tx_ns);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // All sessions at once; a session that fails (a panic in its task) only stops itself.
            let tasks: Vec<_> = (0..peers)
                .map(|i| tokio::spawn(send(i, n, ready_tx.clone(), stop_sender.clone())))
                .collect();
            drop(ready_tx);
            let _ = tokio::time::timeout(TIMEOUT, async {
                for t in tasks {
                    let _ = t.await;
                }
            })
            .await;
        });
    });
    // The clock starts when the first session is up.
    let result = match ready_rx.recv_timeout(Duration::from_secs(30)) {
        Err(_) => {
            eprintln!("{name}: no session within 30 s");
            None
        }
        Ok(up) => {
            // Asked from a thread in the receiver's namespace (GoBGP's API is on its loopback).
            let rx_ns = link.rx.name().to_string();
            let (done, back) = testkit::netns::on_thread_in(&rx_ns, move || {
                let done = completion(up, CHECK_EVERY, TIMEOUT, || {
                    rx.counts()
                        .is_some_and(|c| c.len() == peers && c.iter().all(|&k| k >= n))
                });
                (done, rx)
            });
            rx = back;
            let pid = rx.pid();
            let peak_kib = pid.and_then(peak_rss_kib).unwrap_or(0);
            let cpu = pid.and_then(cpu_seconds).unwrap_or(0.0);
            done.map(|done| Figures {
                done,
                peak_kib,
                cpu,
            })
        }
    };
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    drop(link);
    let _ = sender.join();
    match &result {
        Some(f) => eprintln!(
            "{name}: {} in {:.3} s ({} checks, resolution {:.1} ms), peak {} KiB, {:.2} CPU s",
            sc.label(),
            f.done.elapsed.as_secs_f64(),
            f.done.checks,
            f.done.resolution.as_secs_f64() * 1000.0,
            f.peak_kib,
            f.cpu
        ),
        None => eprintln!("{name}: {} did not complete", sc.label()),
    }
    result
}

fn run(scenarios: Vec<Scenario>) {
    testkit::netns::remove_all_on_signal();
    // N is `PxN` for P sessions; bytes/prefix divides by every prefix received (P x N paths).
    println!("| N | receiver | seconds to full RIB | peak RSS (MiB) | bytes/prefix | lattice time ratio | lattice memory ratio | check resolution (ms) | CPU s |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for sc in scenarios {
        let label = sc.label();
        let paths = (sc.peers * sc.n) as f64;
        let results: Vec<(&str, Measured)> =
            sc.receivers.iter().map(|r| (*r, measure(r, &sc))).collect();
        let ours = results
            .iter()
            .find(|(r, _)| *r == "lattice")
            .and_then(|(_, r)| *r);
        for (name, r) in &results {
            let Some(f) = r else {
                println!("| {label} | {name} | timed out | - | - | - | - | - | - |");
                continue;
            };
            let secs = f.done.elapsed.as_secs_f64();
            let kib = f.peak_kib as f64;
            let (mib, per_path) = (kib / 1024.0, kib * 1024.0 / paths);
            let ratios = match ours {
                Some(o) => format!(
                    "{:.2} | {:.2}",
                    o.done.elapsed.as_secs_f64() / secs,
                    o.peak_kib as f64 / kib
                ),
                None => "- | -".into(),
            };
            let resolution = f.done.resolution.as_secs_f64() * 1000.0;
            let cpu = f.cpu;
            println!(
                "| {label} | {name} | {secs:.2} | {mib:.1} | {per_path:.0} | {ratios} | {resolution:.0} | {cpu:.2} |"
            );
        }
    }
}
