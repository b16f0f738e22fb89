//! `make bench` ingest comparison (issue 3): one fast sender feeds the same N IPv4 prefixes to
//! each receiver in turn over TCP between two network namespaces, and we measure the seconds from
//! session up to all N in the receiver's RIB, and the receiver's peak RSS.
//!
//! Receivers: Lattice's speaker (`bench_ingest sink`, this binary in another mode), BIRD 2,
//! FRR bgpd (`-Z`, no zebra: nothing goes to the kernel) and GoBGP. None installs routes in the
//! kernel, so this compares BGP ingest (decode, Adj-RIB-In, best path) alone.
//!
//! Usage (root): `bench_ingest run N [N ...]` prints a Markdown table; `bench_ingest sink` is
//! the Lattice receiver process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp::driver::{PeerConfig, Speaker, SpeakerConfig};
use bgp::fsm::build_open;
use bgp::wire::{
    check_frame, encode, AsSegment, CodecContext, Message, Origin, PathAttribute, UpdateMsg,
};
use ipnet::Ipv4Net;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SENDER_NS: &str = "lbench-tx";
const RECEIVER_NS: &str = "lbench-rx";
const SENDER: &str = "10.98.0.1";
const RECEIVER: &str = "10.98.0.2";
const SENDER_AS: u32 = 65001;
const RECEIVER_AS: u32 = 65002;
/// Prefixes per UPDATE: 4 bytes each for /24s keeps one UPDATE under 4096 bytes.
const PER_UPDATE: usize = 1000;
const TIMEOUT: Duration = Duration::from_secs(600);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("sink") => sink(),
        Some("run") => {
            let sizes: Vec<usize> = args[2..].iter().map(|a| a.parse().expect("N")).collect();
            run(if sizes.is_empty() {
                vec![100_000]
            } else {
                sizes
            });
        }
        _ => eprintln!("usage: bench_ingest run N [N ...] | sink"),
    }
}

/// The i-th benchmark prefix: distinct /24s from 16.0.0.0 upwards.
fn prefix(i: usize) -> Ipv4Net {
    let base = u32::from(Ipv4Addr::new(16, 0, 0, 0)) + ((i as u32) << 8);
    Ipv4Net::new(Ipv4Addr::from(base), 24).unwrap()
}

/// Every UPDATE the sender sends, pre-encoded (4-octet AS negotiated by all receivers).
fn updates(n: usize) -> Vec<u8> {
    let ctx = CodecContext {
        four_octet_as: true,
    };
    let attrs = vec![
        PathAttribute::Origin(Origin::Igp),
        PathAttribute::AsPath(vec![AsSegment::Sequence(vec![SENDER_AS, 64999])]),
        PathAttribute::NextHop(SENDER.parse().unwrap()),
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

/// Connect, exchange OPEN/KEEPALIVE, send everything, then keep the session alive.
async fn send(n: usize, ready: std::sync::mpsc::Sender<Instant>, stop: Arc<AtomicBool>) {
    let payload = updates(n);
    let addr: SocketAddr = format!("{RECEIVER}:179").parse().unwrap();
    let mut stream = loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => break s,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    stream.set_nodelay(true).unwrap();
    let ctx = CodecContext::default();
    let open = build_open(SENDER_AS, SENDER.parse().unwrap(), 240);
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
    ready.send(Instant::now()).unwrap();
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

/// Lattice's receiver: a speaker that accepts everything and prints its Adj-RIB-In count.
fn sink() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let peer = PeerConfig {
            passive: true,
            hold_time: 240,
            ..PeerConfig::new(SENDER.parse().unwrap(), SENDER_AS)
        };
        let (handle, mut rx) = Speaker::start(SpeakerConfig {
            local_as: RECEIVER_AS,
            router_id: RECEIVER.parse().unwrap(),
            listen: Some(format!("{RECEIVER}:179").parse().unwrap()),
            peers: vec![peer],
            ..SpeakerConfig::new(RECEIVER_AS, RECEIVER.parse().unwrap())
        })
        .await
        .unwrap();
        // Drain Loc-RIB changes as the agent would.
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let n = handle.status().await[0].prefixes_received;
            println!("{n}");
            let _ = std::io::stdout().flush();
        }
    });
}

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn in_rx(args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", RECEIVER_NS]).args(args);
    c
}

struct Lab;

impl Lab {
    fn up() -> Lab {
        Lab::down();
        for ns in [SENDER_NS, RECEIVER_NS] {
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        sh(&[
            "ip",
            "link",
            "add",
            "tx0",
            "netns",
            SENDER_NS,
            "type",
            "veth",
            "peer",
            "name",
            "rx0",
            "netns",
            RECEIVER_NS,
        ]);
        sh(&[
            "ip",
            "-n",
            SENDER_NS,
            "addr",
            "add",
            &format!("{SENDER}/30"),
            "dev",
            "tx0",
        ]);
        sh(&[
            "ip",
            "-n",
            RECEIVER_NS,
            "addr",
            "add",
            &format!("{RECEIVER}/30"),
            "dev",
            "rx0",
        ]);
        sh(&["ip", "-n", SENDER_NS, "link", "set", "tx0", "up"]);
        sh(&["ip", "-n", RECEIVER_NS, "link", "set", "rx0", "up"]);
        Lab
    }

    fn down() {
        for ns in [SENDER_NS, RECEIVER_NS] {
            for pid in sh(&["ip", "netns", "pids", ns]).split_whitespace() {
                sh(&["kill", "-9", pid]);
            }
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        Lab::down();
    }
}

/// A receiver: how to start it and how to read its prefix count.
struct Receiver {
    name: &'static str,
    child: Child,
    dir: tempfile::TempDir,
}

fn start(name: &'static str) -> Receiver {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let d = dir.path().display().to_string();
    let child = match name {
        "lattice" => in_rx(&[std::env::current_exe().unwrap().to_str().unwrap(), "sink"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
        "bird" => {
            std::fs::write(
                dir.path().join("bird.conf"),
                format!(
                    "router id {RECEIVER};\nprotocol device {{ }}\nprotocol bgp feed {{\n local {RECEIVER} as {RECEIVER_AS};\n \
                     neighbor {SENDER} as {SENDER_AS};\n passive;\n hold time 240;\n ipv4 {{ import all; export none; }};\n}}\n"
                ),
            )
            .unwrap();
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
            std::fs::write(
                dir.path().join("bgpd.conf"),
                format!(
                    "router bgp {RECEIVER_AS}\n bgp router-id {RECEIVER}\n no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n \
                     neighbor {SENDER} remote-as {SENDER_AS}\n neighbor {SENDER} passive\n neighbor {SENDER} timers 80 240\n \
                     address-family ipv4 unicast\n  neighbor {SENDER} activate\n exit-address-family\n"
                ),
            )
            .unwrap();
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
            std::fs::write(
                dir.path().join("gobgpd.toml"),
                format!(
                    "[global.config]\n  as = {RECEIVER_AS}\n  router-id = \"{RECEIVER}\"\n  port = 179\n\n[[neighbors]]\n  [neighbors.config]\n    \
                     neighbor-address = \"{SENDER}\"\n    peer-as = {SENDER_AS}\n  [neighbors.transport.config]\n    passive-mode = true\n"
                ),
            )
            .unwrap();
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

    /// Prefixes in the receiver's RIB from the sender, if it can tell yet.
    fn count(&mut self, lines: &mut Option<BufReader<std::process::ChildStdout>>) -> Option<usize> {
        let d = self.dir.path().display().to_string();
        match self.name {
            "lattice" => {
                let reader = lines.as_mut()?;
                let mut last = None;
                let mut line = String::new();
                // One line per 50 ms; read one, that is fresh enough.
                if reader.read_line(&mut line).ok()? > 0 {
                    last = line.trim().parse().ok();
                }
                last
            }
            "bird" => {
                let out = in_rx(&[
                    "birdc",
                    "-s",
                    &format!("{d}/bird.ctl"),
                    "show",
                    "route",
                    "count",
                ])
                .output()
                .ok()?;
                let text = String::from_utf8_lossy(&out.stdout);
                text.split_whitespace()
                    .find_map(|w| w.parse::<usize>().ok())
            }
            "frr" => {
                let out = in_rx(&[
                    "vtysh",
                    "--vty_socket",
                    &d,
                    "-c",
                    "show bgp ipv4 unicast summary json",
                ])
                .output()
                .ok()?;
                let text = String::from_utf8_lossy(&out.stdout);
                let i = text.find("\"pfxRcd\":")?;
                text[i + 9..]
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|s| !s.is_empty())?
                    .parse()
                    .ok()
            }
            "gobgp" => {
                let out = in_rx(&[
                    "gobgp",
                    "-u",
                    "127.0.0.1",
                    "-p",
                    "50052",
                    "global",
                    "rib",
                    "summary",
                    "-a",
                    "ipv4",
                ])
                .output()
                .ok()?;
                let text = String::from_utf8_lossy(&out.stdout);
                let i = text.find("Destination:")?;
                text[i + 12..]
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|s| !s.is_empty())?
                    .parse()
                    .ok()
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

fn measure(name: &'static str, n: usize) -> Option<(f64, u64)> {
    let _lab = Lab::up();
    let mut rx = start(name);
    let mut lines = rx.child.stdout.take().map(BufReader::new);
    std::thread::sleep(Duration::from_millis(500));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_sender = stop.clone();
    let sender = std::thread::spawn(move || {
        let ns = std::fs::File::open(format!("/run/netns/{SENDER_NS}")).unwrap();
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let _ = tokio::time::timeout(TIMEOUT, send(n, ready_tx, stop_sender)).await;
        });
    });
    let Ok(up) = ready_rx.recv_timeout(Duration::from_secs(30)) else {
        eprintln!("{name}: no session within 30 s");
        stop.store(true, Ordering::Relaxed);
        let _ = rx.child.kill();
        return None; // the sender thread is left to its timeout; the process exits at the end
    };
    let mut peak = 0;
    let result = loop {
        peak = peak.max(peak_rss_kib(rx.pid()).unwrap_or(0));
        if rx.count(&mut lines).is_some_and(|c| c >= n) {
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
    stop.store(true, Ordering::Relaxed);
    let _ = rx.child.kill();
    let _ = rx.child.wait();
    drop(_lab);
    let _ = sender.join();
    eprintln!("{name}: N={n} {result:?} s, peak {peak} KiB");
    result.map(|s| (s, peak))
}

fn run(sizes: Vec<usize>) {
    let all = ["lattice", "bird", "frr", "gobgp"];
    let only = std::env::var("BENCH_RECEIVERS").unwrap_or_default();
    let receivers: Vec<&'static str> = all
        .into_iter()
        .filter(|r| only.is_empty() || only.split(',').any(|o| o == *r))
        .collect();
    println!("| N | receiver | seconds to full RIB | peak RSS (MiB) | bytes/prefix | lattice time ratio | lattice memory ratio |");
    println!("|---|---|---|---|---|---|---|");
    for n in sizes {
        let results: Vec<(&str, Option<(f64, u64)>)> =
            receivers.iter().map(|r| (*r, measure(r, n))).collect();
        let ours = results
            .iter()
            .find(|(r, _)| *r == "lattice")
            .and_then(|(_, r)| *r);
        for (name, r) in &results {
            match (r, ours) {
                (Some((secs, kib)), Some((our_secs, our_kib))) => println!(
                    "| {n} | {name} | {secs:.2} | {:.1} | {:.0} | {:.2} | {:.2} |",
                    *kib as f64 / 1024.0,
                    (*kib as f64 * 1024.0) / n as f64,
                    our_secs / secs,
                    our_kib as f64 / *kib as f64
                ),
                (Some((secs, kib)), None) => println!(
                    "| {n} | {name} | {secs:.2} | {:.1} | - | - | - |",
                    *kib as f64 / 1024.0
                ),
                (None, _) => println!("| {n} | {name} | timed out | - | - | - | - |"),
            }
        }
    }
}
