//! CPU cost of many BFD sessions: our driver with N single-hop sessions at 100 ms x 3 against
//! FRR's bfdd with the same N peers and timers, in two namespaces joined by a veth. Once every
//! session is Up on both sides, both processes' CPU time (user + system, /proc) is read over
//! the same window; the figure is CPU seconds per wall second (1.0 = one core).
//!
//! `bench_bfd_sessions [SESSIONS] [SECONDS]` (root, FRR; default 100 sessions, 30 s).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use bfd::driver::{Bfd, DriverConfig, SessionSpec};
use bfd::packet::State;
use bfd::session::Params;
use common::frr::Frr;
use common::Lab;

fn ours(i: usize) -> String {
    format!("10.98.{}.{}", 1 + i / 200, 1 + i % 200)
}

fn theirs(i: usize) -> String {
    format!("10.98.{}.{}", 101 + i / 200, 1 + i % 200)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !nix::unistd::geteuid().is_root() || !std::path::Path::new("/usr/lib/frr/bfdd").exists() {
        eprintln!("bench_bfd_sessions needs root and FRR's bfdd (make deps-bench)");
        std::process::exit(2);
    }
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(30);
    let lab = Lab::direct(&format!("c{}", std::process::id() % 10000));
    for i in 0..n {
        lab.ours.addr("o0", &format!("{}/16", ours(i)));
        lab.peer.addr("p0", &format!("{}/16", theirs(i)));
    }
    let block: String = (0..n)
        .map(|i| {
            format!(
                " peer {} local-address {} interface p0\n  receive-interval 100\n  \
                 transmit-interval 100\n  detect-multiplier 3\n !\n",
                ours(i),
                theirs(i)
            )
        })
        .collect();
    let frr = Frr::start(&lab, &format!("bfd\n{block}!\n"));
    let (bfd, mut events) = lab.in_ours(|| Bfd::start(DriverConfig::default()).unwrap());
    let params = Params::from_millis(100, 100, 3).unwrap();
    let keys: Vec<&'static str> = (0..n)
        .map(|i| &*Box::leak(format!("s{i}").into_boxed_str()))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        let mut spec = SessionSpec::single_hop(*key, addr(&theirs(i)), params);
        spec.local = Some(addr(&ours(i)));
        spec.interface = Some("o0".into());
        bfd.add_session(spec).await.unwrap();
    }
    common::all_reach(&mut events, &keys, State::Up, Duration::from_secs(60)).await;
    let frr_up = common::eventually(Duration::from_secs(60), || {
        frr.peers().iter().filter(|p| p["status"] == "up").count() == n
    });
    assert!(frr_up, "FRR: not all {n} sessions up");
    // Drain events so the channel does not grow; count any fall.
    let falls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = falls.clone();
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            if e.change.from == State::Up {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                eprintln!("{}: {:?}", e.key, e.change);
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let bfdd: u32 = std::fs::read_to_string(lab.dir.path().join("frr/run/bfdd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let me = std::process::id();
    let cpu = |pid| testkit::bench::cpu_seconds(pid).unwrap();
    let (ours0, frr0, t0) = (cpu(me), cpu(bfdd), Instant::now());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (ours1, frr1, wall) = (cpu(me), cpu(bfdd), t0.elapsed().as_secs_f64());
    let (o, f) = ((ours1 - ours0) / wall, (frr1 - frr0) / wall);
    println!(
        "{n} BFD sessions at 100 ms x 3, single hop IPv4, all Up, {wall:.0} s measured \
         ({} falls):",
        falls.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "  Lattice bfd driver (this process): {:.2}% of a core ({:.1} ms CPU per second)",
        o * 100.0,
        o * 1000.0
    );
    println!(
        "  FRR bfdd:                          {:.2}% of a core ({:.1} ms CPU per second)",
        f * 100.0,
        f * 1000.0
    );
    if f > 0.0 {
        println!("  ratio Lattice / FRR bfdd: {:.2}", o / f);
    }
    drop(bfd);
}

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}
