//! `make bench` ingest comparison (issue 3): fast senders feed the same N IPv4 prefixes to each
//! receiver in turn over TCP between two network namespaces, and we measure the seconds from the
//! first session up to all N from every sender in the receiver's RIB, and the receiver's peak RSS.
//!
//! A scenario is `N` (one sender session) or `PxN` (P sender sessions at once, each from its own
//! source address in the sender namespace, all in the same AS, each sending the same N prefixes
//! with itself as next hop: every receiver keeps P paths per prefix, P x N in all).
//!
//! Receivers: Lattice's speaker (`bench_ingest sink P`, this binary in another mode), BIRD 2,
//! FRR bgpd (`-Z`, no zebra: nothing goes to the kernel) and GoBGP. None installs routes in the
//! kernel, so this compares BGP ingest (decode, Adj-RIB-In, best path) alone.
//!
//! Usage (root): `bench_ingest run SCENARIO [SCENARIO ...]` (e.g. `run 100000 1000000
//! 10x100000`) prints a Markdown table; `bench_ingest sink P` is the Lattice receiver process.
//! Everything runs in the two namespaces the bench creates (named after the runner's pid); they
//! and every process in them are removed when a measurement ends, when the runner panics, and on
//! SIGINT, SIGTERM or SIGHUP; a later run removes those of a runner that was SIGKILLed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgp::driver::{PeerConfig, Speaker, SpeakerConfig};
use bgp::fsm::build_open;
use bgp::wire::{
    check_frame, encode, AsSegment, CodecContext, Message, Origin, PathAttribute, UpdateMsg,
};
use ipnet::Ipv4Net;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Namespaces are `lbench-tx-PID` and `lbench-rx-PID` (PID: the runner's), so two runs at once
/// (say from two worktrees) cannot delete each other's namespaces or kill each other's daemons.
const NS_PREFIX: &str = "lbench-";
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

const USAGE: &str = "usage: bench_ingest run N|PxN [N|PxN ...] | sink P";

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
                vec![Scenario {
                    peers: 1,
                    n: 100_000,
                }]
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

/// `peers` sender sessions, each announcing the same `n` prefixes.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    peers: usize,
    n: usize,
}

impl Scenario {
    /// `N` or `PxN`.
    fn parse(arg: &str) -> Option<Scenario> {
        let s = match arg.split_once('x') {
            Some((p, n)) => Scenario {
                peers: p.parse().ok()?,
                n: n.parse().ok()?,
            },
            None => Scenario {
                peers: 1,
                n: arg.parse().ok()?,
            },
        };
        ((1..=MAX_PEERS).contains(&s.peers) && s.n > 0).then_some(s)
    }

    fn label(self) -> String {
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

/// The i-th benchmark prefix: distinct /24s from 16.0.0.0 upwards.
fn prefix(i: usize) -> Ipv4Net {
    let base = u32::from(Ipv4Addr::new(16, 0, 0, 0)) + ((i as u32) << 8);
    Ipv4Net::new(Ipv4Addr::from(base), 24).unwrap()
}

/// Every UPDATE sender `i` sends, pre-encoded (4-octet AS negotiated by all receivers).
fn updates(i: usize, n: usize) -> Vec<u8> {
    let ctx = CodecContext {
        four_octet_as: true,
    };
    let attrs = vec![
        PathAttribute::Origin(Origin::Igp),
        PathAttribute::AsPath(vec![AsSegment::Sequence(vec![SENDER_AS, 64999])]),
        PathAttribute::NextHop(sender(i)),
    ];
    let mut out = Vec::new();
    let all: Vec<Ipv4Net> = (0..n).map(prefix).collect();
    for chunk in all.chunks(PER_UPDATE) {
        let u = UpdateMsg {
            withdrawn: vec![],
            attributes: attrs.clone(),
            nlri: chunk.to_vec(),
            recovered: vec![],
        };
        out.extend(encode(&Message::Update(u), ctx));
    }
    out
}

/// Sender session `i`: connect from its own address, exchange OPEN/KEEPALIVE, send everything,
/// then keep the session alive until `stop`.
async fn send(i: usize, n: usize, ready: std::sync::mpsc::Sender<Instant>, stop: Arc<AtomicBool>) {
    let payload = updates(i, n);
    let addr: SocketAddr = format!("{RECEIVER}:179").parse().unwrap();
    let mut stream = loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(sender(i).into(), 0)).unwrap();
        match socket.connect(addr).await {
            Ok(s) => break s,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    stream.set_nodelay(true).unwrap();
    let ctx = CodecContext::default();
    let open = build_open(SENDER_AS, sender(i), 240);
    stream
        .write_all(&encode(&Message::Open(open), ctx))
        .await
        .unwrap();
    // Wait for the peer's OPEN and KEEPALIVE.
    let mut buf = Vec::new();
    let mut seen = 0;
    while seen < 2 {
        let mut chunk = [0u8; 4096];
        let k = stream.read(&mut chunk).await.unwrap();
        assert!(k > 0, "receiver closed during the handshake");
        buf.extend_from_slice(&chunk[..k]);
        while let Ok(Some(len)) = check_frame(&buf, 4096) {
            buf.drain(..len);
            seen += 1;
        }
    }
    stream
        .write_all(&encode(&Message::Keepalive, ctx))
        .await
        .unwrap();
    let _ = ready.send(Instant::now());
    stream.write_all(&payload).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    tokio::spawn(async move {
        let mut sink = vec![0u8; 65536];
        while rd.read(&mut sink).await.map(|k| k > 0).unwrap_or(false) {}
    });
    let mut ticks = 0u32;
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ticks += 1;
        if ticks % 200 == 0
            && wr
                .write_all(&encode(&Message::Keepalive, ctx))
                .await
                .is_err()
        {
            return;
        }
    }
}

/// Lattice's receiver: a speaker with `peers` passive neighbours that accepts everything and
/// prints each neighbour's Adj-RIB-In count, space-separated, every 50 ms.
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
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
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

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// This run's sender namespace.
fn tx_ns() -> String {
    format!("{NS_PREFIX}tx-{}", std::process::id())
}

/// This run's receiver namespace.
fn rx_ns() -> String {
    format!("{NS_PREFIX}rx-{}", std::process::id())
}

fn in_rx(args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &rx_ns()]).args(args);
    c
}

/// Held while the namespaces are created or removed, so the signal handler's cleanup cannot
/// interleave with a measurement setting them up.
static LAB_LOCK: Mutex<()> = Mutex::new(());

/// The two namespaces and the veth between them; dropping it removes them and every process in
/// them.
struct Lab;

impl Lab {
    /// Namespaces with the receiver address and `peers` sender addresses.
    fn up(peers: usize) -> Lab {
        let _guard = LAB_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Lab::remove_stale();
        Lab::remove();
        let (tx, rx) = (tx_ns(), rx_ns());
        for ns in [&tx, &rx] {
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        sh(&[
            "ip", "link", "add", "tx0", "netns", &tx, "type", "veth", "peer", "name", "rx0",
            "netns", &rx,
        ]);
        for i in 0..peers {
            let addr = format!("{}/24", sender(i));
            sh(&["ip", "-n", &tx, "addr", "add", &addr, "dev", "tx0"]);
        }
        let addr = format!("{RECEIVER}/24");
        sh(&["ip", "-n", &rx, "addr", "add", &addr, "dev", "rx0"]);
        sh(&["ip", "-n", &tx, "link", "set", "tx0", "up"]);
        sh(&["ip", "-n", &rx, "link", "set", "rx0", "up"]);
        Lab
    }

    fn down() {
        let _guard = LAB_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Lab::remove();
    }

    /// Kill every process in this run's namespaces and delete them (`LAB_LOCK` held).
    fn remove() {
        Lab::remove_ns(&tx_ns());
        Lab::remove_ns(&rx_ns());
    }

    /// Remove namespaces left by runs that were killed (SIGKILL) and whose pid is gone.
    fn remove_stale() {
        let Ok(dir) = std::fs::read_dir("/run/netns") else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix(NS_PREFIX)
                .and_then(|r| r.strip_prefix("tx-").or_else(|| r.strip_prefix("rx-")))
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
                Lab::remove_ns(&name);
            }
        }
    }

    fn remove_ns(ns: &str) {
        for pid in sh(&["ip", "netns", "pids", ns]).split_whitespace() {
            sh(&["kill", "-9", pid]);
        }
        let _ = Command::new("ip")
            .args(["netns", "del", ns])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        Lab::down();
    }
}

/// On SIGINT, SIGTERM or SIGHUP (Ctrl-C in `make bench`, a CI timeout), remove the namespaces and
/// their processes before exiting: `Drop` does not run when a signal ends the process.
fn clean_up_on_signal() {
    std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate()).unwrap();
            let mut hup = signal(SignalKind::hangup()).unwrap();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        });
        // Holding the lock until exit: no measurement can set the namespaces up again.
        let _guard = LAB_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Lab::remove();
        eprintln!(
            "interrupted: namespaces {} and {} removed",
            tx_ns(),
            rx_ns()
        );
        std::process::exit(130);
    });
}

/// A receiver: how to start it and how to read its prefix counts.
struct Receiver {
    name: &'static str,
    child: Child,
    dir: tempfile::TempDir,
}

/// Start receiver `name` with `peers` passive neighbours (the sender sessions).
fn start(name: &'static str, peers: usize) -> Receiver {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let d = dir.path().display().to_string();
    let child = match name {
        "lattice" => in_rx(&[
            std::env::current_exe().unwrap().to_str().unwrap(),
            "sink",
            &peers.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap(),
        "bird" => {
            let mut conf = format!("router id {RECEIVER};\nprotocol device {{ }}\n");
            for i in 0..peers {
                let s = sender(i);
                conf += &format!(
                    "protocol bgp feed{i} {{\n local {RECEIVER} as {RECEIVER_AS};\n neighbor {s} as {SENDER_AS};\n \
                     passive;\n hold time 240;\n ipv4 {{ import all; export none; }};\n}}\n"
                );
            }
            std::fs::write(dir.path().join("bird.conf"), conf).unwrap();
            in_rx(&[
                "bird",
                "-f",
                "-c",
                &format!("{d}/bird.conf"),
                "-s",
                &format!("{d}/bird.ctl"),
            ])
            .spawn()
            .unwrap()
        }
        "frr" => {
            let mut conf = format!(
                "router bgp {RECEIVER_AS}\n bgp router-id {RECEIVER}\n no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n"
            );
            for i in 0..peers {
                let s = sender(i);
                conf += &format!(
                    " neighbor {s} remote-as {SENDER_AS}\n neighbor {s} passive\n neighbor {s} timers 80 240\n"
                );
            }
            conf += " address-family ipv4 unicast\n";
            for i in 0..peers {
                // Like the others, FRR does not pass what it learns on to the other senders.
                let s = sender(i);
                conf +=
                    &format!("  neighbor {s} activate\n  neighbor {s} route-map lbench-none out\n");
            }
            conf += " exit-address-family\n!\nroute-map lbench-none deny 10\n";
            std::fs::write(dir.path().join("bgpd.conf"), conf).unwrap();
            sh(&["chown", "-R", "frr:frr", &d]);
            in_rx(&[
                "/usr/lib/frr/bgpd",
                "-Z",
                "-f",
                &format!("{d}/bgpd.conf"),
                "-i",
                &format!("{d}/bgpd.pid"),
                "--vty_socket",
                &d,
                "-P",
                "0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
        }
        "gobgp" => {
            // Like the others, GoBGP does not pass what it learns on to the other senders.
            let mut conf = format!(
                "[global.config]\n  as = {RECEIVER_AS}\n  router-id = \"{RECEIVER}\"\n  port = 179\n\
                 [global.apply-policy.config]\n  default-export-policy = \"reject-route\"\n"
            );
            for i in 0..peers {
                conf += &format!(
                    "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {SENDER_AS}\n  \
                     [neighbors.transport.config]\n    passive-mode = true\n",
                    sender(i)
                );
            }
            std::fs::write(dir.path().join("gobgpd.toml"), conf).unwrap();
            in_rx(&[
                "gobgpd",
                "-f",
                &format!("{d}/gobgpd.toml"),
                "-p",
                "--api-hosts",
                "127.0.0.1:50052",
                "--pprof-disable",
                "-l",
                "error",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
        }
        other => panic!("unknown receiver {other}"),
    };
    Receiver { name, child, dir }
}

impl Receiver {
    /// The pid whose memory counts (`ip netns exec` execs the daemon, so it is the child).
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Prefixes in the receiver's RIB from each sender session, as far as it can tell yet.
    fn counts(
        &mut self,
        lines: &mut Option<BufReader<std::process::ChildStdout>>,
    ) -> Option<Vec<usize>> {
        let d = self.dir.path().display().to_string();
        let numbers = |line: &str| -> Vec<usize> {
            line.split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect()
        };
        match self.name {
            "lattice" => {
                let reader = lines.as_mut()?;
                let mut line = String::new();
                // One line per 50 ms; read one, that is fresh enough.
                if reader.read_line(&mut line).ok()? == 0 {
                    return None;
                }
                Some(numbers(&line))
            }
            "bird" => {
                // Per protocol (one per sender): "Routes: N imported, ..." in its ipv4 channel.
                let out = in_rx(&[
                    "birdc",
                    "-s",
                    &format!("{d}/bird.ctl"),
                    "show",
                    "protocols",
                    "all",
                ])
                .output()
                .ok()?;
                let text = String::from_utf8_lossy(&out.stdout);
                Some(
                    text.lines()
                        .filter_map(|l| l.trim().strip_prefix("Routes:"))
                        .filter_map(|l| numbers(l).first().copied())
                        .collect(),
                )
            }
            "frr" => {
                // Per neighbour: peers.<address>.pfxRcd (absent before the session is up).
                let out = in_rx(&[
                    "vtysh",
                    "--vty_socket",
                    &d,
                    "-c",
                    "show bgp ipv4 unicast summary json",
                ])
                .output()
                .ok()?;
                let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
                let peers = json
                    .get("peers")
                    .or_else(|| json.get("ipv4Unicast")?.get("peers"))?
                    .as_object()?;
                Some(
                    peers
                        .values()
                        .map(|p| p.get("pfxRcd").and_then(|v| v.as_u64()).unwrap_or(0) as usize)
                        .collect(),
                )
            }
            "gobgp" => {
                // Per neighbour, the last column of `gobgp neighbor`: prefixes accepted into
                // the RIB ("Peer AS Up/Down State |#Received Accepted").
                let out = in_rx(&["gobgp", "-u", "127.0.0.1", "-p", "50052", "neighbor"])
                    .output()
                    .ok()?;
                let text = String::from_utf8_lossy(&out.stdout);
                Some(
                    text.lines()
                        .filter(|l| {
                            l.split_whitespace()
                                .next()
                                .is_some_and(|a| a.parse::<std::net::IpAddr>().is_ok())
                        })
                        .filter_map(|l| l.split_whitespace().last()?.parse().ok())
                        .collect(),
                )
            }
            _ => None,
        }
    }
}

/// Peak resident set size (VmHWM) of `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One receiver, one scenario: seconds from the first session up to every sender's N prefixes
/// in the receiver's RIB, and the receiver's peak RSS in KiB.
fn measure(name: &'static str, sc: Scenario) -> Option<(f64, u64)> {
    let Scenario { peers, n } = sc;
    let lab = Lab::up(peers);
    let mut rx = start(name, peers);
    let mut lines = rx.child.stdout.take().map(BufReader::new);
    std::thread::sleep(Duration::from_millis(500));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_sender = stop.clone();
    let sender = std::thread::spawn(move || {
        let ns = std::fs::File::open(format!("/run/netns/{}", tx_ns())).unwrap();
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
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
    let finish = |mut rx: Receiver, lab: Lab, sender: std::thread::JoinHandle<()>| {
        stop.store(true, Ordering::Relaxed);
        let _ = rx.child.kill();
        let _ = rx.child.wait();
        drop(lab);
        let _ = sender.join();
    };
    // The clock starts when the first session is up.
    let Ok(up) = ready_rx.recv_timeout(Duration::from_secs(30)) else {
        eprintln!("{name}: no session within 30 s");
        finish(rx, lab, sender);
        return None;
    };
    let mut peak = 0;
    let result = loop {
        peak = peak.max(peak_rss_kib(rx.pid()).unwrap_or(0));
        if rx
            .counts(&mut lines)
            .is_some_and(|c| c.len() == peers && c.iter().all(|&k| k >= n))
        {
            break Some(up.elapsed().as_secs_f64());
        }
        if up.elapsed() > TIMEOUT {
            break None;
        }
        if name != "lattice" {
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    peak = peak.max(peak_rss_kib(rx.pid()).unwrap_or(0));
    finish(rx, lab, sender);
    eprintln!("{name}: {} {result:?} s, peak {peak} KiB", sc.label());
    result.map(|s| (s, peak))
}

fn run(scenarios: Vec<Scenario>) {
    clean_up_on_signal();
    let all = ["lattice", "bird", "frr", "gobgp"];
    let only = std::env::var("BENCH_RECEIVERS").unwrap_or_default();
    let receivers: Vec<&'static str> = all
        .into_iter()
        .filter(|r| only.is_empty() || only.split(',').any(|o| o == *r))
        .collect();
    // N is `PxN` for P sessions; bytes/prefix divides by every prefix received (P x N paths).
    println!("| N | receiver | seconds to full RIB | peak RSS (MiB) | bytes/prefix | lattice time ratio | lattice memory ratio |");
    println!("|---|---|---|---|---|---|---|");
    for sc in scenarios {
        let label = sc.label();
        let paths = (sc.peers * sc.n) as f64;
        let results: Vec<(&str, Option<(f64, u64)>)> =
            receivers.iter().map(|r| (*r, measure(r, sc))).collect();
        let ours = results
            .iter()
            .find(|(r, _)| *r == "lattice")
            .and_then(|(_, r)| *r);
        for (name, r) in &results {
            match (r, ours) {
                (Some((secs, kib)), Some((our_secs, our_kib))) => println!(
                    "| {label} | {name} | {secs:.2} | {:.1} | {:.0} | {:.2} | {:.2} |",
                    *kib as f64 / 1024.0,
                    (*kib as f64 * 1024.0) / paths,
                    our_secs / secs,
                    our_kib as f64 / *kib as f64
                ),
                (Some((secs, kib)), None) => println!(
                    "| {label} | {name} | {secs:.2} | {:.1} | {:.0} | - | - |",
                    *kib as f64 / 1024.0,
                    (*kib as f64 * 1024.0) / paths,
                ),
                (None, _) => println!("| {label} | {name} | timed out | - | - | - | - |"),
            }
        }
    }
}
