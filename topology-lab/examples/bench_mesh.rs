//! Clusters without top-of-rack switches: N hosts on one L2 segment, each with its own block,
//! running Calico's default design (BIRD 2 in an iBGP full mesh, configured as Calico's confd
//! writes it), Lattice's full mesh (peers found in etcd) and Lattice with two route
//! reflectors, in one run.
//!
//! `bench_mesh [N...]` (root; default `50 100`). For each N and design, `lattice-lab generate`
//! writes the cluster (`--no-start --bird`: namespaces on a bridge, an etcd node, every host's
//! latticed and BIRD config) and `lattice-lab deploy` builds it; then the bench starts every
//! host's daemon one after the other without waiting, and measures:
//! - convergence: from the last daemon started to every host holding every other host's block
//!   in its kernel (read from /proc/PID/net/route, the same way for both);
//! - sessions Established, the daemons' resident memory (total, per host; reflectors apart)
//!   and the CPU they used, once converged;
//! - withdrawal: a host (not a reflector) killed with SIGKILL, until its block is gone from
//!   every other kernel. Both sides detect the death with the same timer: Lattice's etcd lease
//!   (`ipam.block_grace_period`) and BIRD's graceful-restart time are both `LEASE` seconds.
//!
//! The lattice-lab, latticed and BIRD used are the release binaries next to this one and the
//! system's `bird`; everything is destroyed afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The etcd lease TTL and BIRD's graceful-restart time, seconds.
const LEASE: u32 = 10;
/// How long a design gets to converge or withdraw before the bench gives up on it.
const LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Design {
    BirdMesh,
    LatticeMesh,
    LatticeReflectors,
}

impl Design {
    fn label(self) -> &'static str {
        match self {
            Design::BirdMesh => "BIRD 2 full mesh (Calico)",
            Design::LatticeMesh => "Lattice full mesh",
            Design::LatticeReflectors => "Lattice, 2 reflectors",
        }
    }
    fn tag(self) -> &'static str {
        match self {
            Design::BirdMesh => "b",
            Design::LatticeMesh => "m",
            Design::LatticeReflectors => "r",
        }
    }
    fn reflectors(self) -> u32 {
        if self == Design::LatticeReflectors {
            2
        } else {
            0
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone)]
struct Figures {
    sessions: usize,
    converge: Duration,
    withdraw: Duration,
    rss_kib: Vec<u64>,
    reflector_rss_kib: Vec<u64>,
    /// Private (anonymous) memory of every daemon: RSS less the binary's and libraries' pages.
    anon_kib: Vec<u64>,
    /// The pages of the binary and libraries each daemon has mapped (`RssFile`): code and
    /// read-only data, the same whatever the cluster's size.
    file_kib: Vec<u64>,
    cpu_secs: f64,
    etcd_rss_kib: Option<u64>,
}

/// A deployed generated lab; destroyed on drop.
struct Lab {
    dir: tempfile::TempDir,
    name: String,
    topo: PathBuf,
    daemons: Vec<Child>,
}

fn beside(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/release/examples/bench_mesh -> target/release/NAME
    exe.parent().unwrap().parent().unwrap().join(name)
}

impl Lab {
    fn lab(&self, args: &[&str]) {
        let out = Command::new(beside("lattice-lab"))
            .args(args)
            .arg("-t")
            .arg(&self.topo)
            .env("LATTICE_LAB_DIR", self.dir.path().join("state"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lattice-lab {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn new(n: u32, design: Design) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let name = format!("bm{n}{}{}", design.tag(), std::process::id());
        let out = Command::new(beside("lattice-lab"))
            .args(["generate", "--name", &name, "--hosts", &n.to_string()])
            .args(["--reflectors", &design.reflectors().to_string()])
            .args([
                "--no-start",
                "--bird",
                "--lease",
                &LEASE.to_string(),
                "--dir",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let topo = dir.path().join(format!("{name}.clab.yml"));
        let lab = Lab {
            dir,
            name,
            topo,
            daemons: Vec::new(),
        };
        lab.lab(&["deploy"]);
        lab
    }

    fn ns(&self, i: u32) -> String {
        format!("{}-host{i}", self.name)
    }

    fn host_dir(&self, i: u32) -> PathBuf {
        self.dir.path().join(&self.name).join(format!("host{i}"))
    }

    /// Start host `i`'s daemon without waiting for it.
    fn start(&mut self, design: Design, i: u32) {
        let conf = self.dir.path().join(&self.name);
        let dir = self.host_dir(i);
        std::fs::create_dir_all(dir.join("state")).unwrap();
        let log = std::fs::File::create(dir.join("daemon.log")).unwrap();
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(i)]);
        match design {
            Design::BirdMesh => {
                c.arg("bird")
                    .arg("-c")
                    .arg(conf.join(format!("host{i}.bird.conf")))
                    .arg("-s")
                    .arg(dir.join("bird.ctl"))
                    .arg("-P")
                    .arg(dir.join("bird.pid"));
            }
            _ => {
                c.arg(beside("latticed"))
                    .arg("--config")
                    .arg(conf.join(format!("host{i}.yaml")))
                    .args(["--log-level", "warn"]);
            }
        }
        c.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.daemons.push(c.spawn().unwrap());
    }

    /// The daemon's pid of host `i` (BIRD's from its pid file: it daemonizes).
    fn pid(&self, design: Design, i: u32) -> u32 {
        match design {
            Design::BirdMesh => {
                let file = self.host_dir(i).join("bird.pid");
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    if let Some(p) = std::fs::read_to_string(&file)
                        .ok()
                        .and_then(|t| t.trim().parse().ok())
                    {
                        return p;
                    }
                    assert!(Instant::now() < deadline, "no {}", file.display());
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            _ => self.daemons[i as usize - 1].id(),
        }
    }

    fn etcd_pid(&self) -> Option<u32> {
        let out = Command::new("ip")
            .args(["netns", "pids", &format!("{}-etcd", self.name)])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(beside("lattice-lab"))
            .args(["destroy", "-t"])
            .arg(&self.topo)
            .env("LATTICE_LAB_DIR", self.dir.path().join("state"))
            .output();
        for d in &mut self.daemons {
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

/// Cluster-range routes in a namespace's main table, read through a process in it:
/// (destination, gateway?) per route (`/proc/PID/net/route`, little-endian hex).
fn cluster_routes(pid: u32) -> Vec<(Ipv4Addr, bool)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/route")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let flags = u32::from_str_radix(f.get(3)?, 16).ok()?;
            let dest = Ipv4Addr::from(dest.swap_bytes());
            let o = dest.octets();
            (o[0] == 10 && o[1] == 244).then_some((dest, flags & 0x2 != 0))
        })
        .collect()
}

fn learned(pid: u32) -> usize {
    cluster_routes(pid).iter().filter(|(_, gw)| *gw).count()
}

/// A `KEY:   N kB` line of a /proc file.
fn proc_kib(file: &str, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    proc_kib(&format!("/proc/{pid}/status"), "VmRSS:")
}

fn anon_kib(pid: u32) -> u64 {
    proc_kib(&format!("/proc/{pid}/smaps_rollup"), "Anonymous:")
}

fn file_kib(pid: u32) -> u64 {
    proc_kib(&format!("/proc/{pid}/status"), "RssFile:")
}

/// Established sessions counted at both ends, halved.
fn sessions(lab: &Lab, design: Design, n: u32) -> usize {
    let mut ends = 0;
    for i in 1..=n {
        ends += match design {
            Design::BirdMesh => {
                let out = Command::new("birdc")
                    .arg("-s")
                    .arg(lab.host_dir(i).join("bird.ctl"))
                    .args(["show", "protocols"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| l.starts_with("Mesh_") && l.contains("Established"))
                    .count()
            }
            _ => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let socket = lab.host_dir(i).join("lattice.sock");
                let req = api::proto::Request::Peers { peer: None };
                match rt.block_on(api::client::call(&socket, &req)) {
                    Ok(api::proto::Reply::Peers { peers }) => peers
                        .iter()
                        .filter(|p| p.state == api::proto::PeerState::Established)
                        .count(),
                    _ => 0,
                }
            }
        };
    }
    ends / 2
}

fn cpu_secs(pid: u32) -> f64 {
    testkit::bench::cpu_seconds(pid).unwrap_or(0.0)
}

fn run(n: u32, design: Design) -> Figures {
    let mut lab = Lab::new(n, design);
    for i in 1..=n {
        lab.start(design, i);
    }
    let started = Instant::now();
    let pids: Vec<u32> = (1..=n).map(|i| lab.pid(design, i)).collect();
    let converged = loop {
        if pids.iter().all(|p| learned(*p) == n as usize - 1) {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < LIMIT,
            "{}: no convergence",
            design.label()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Settle, then what the converged cluster costs.
    std::thread::sleep(Duration::from_secs(3));
    let sessions = sessions(&lab, design, n);
    let reflectors = design.reflectors() as usize;
    let rss: Vec<u64> = pids.iter().map(|p| rss_kib(*p)).collect();
    let anon: Vec<u64> = pids.iter().map(|p| anon_kib(*p)).collect();
    let file: Vec<u64> = pids.iter().map(|p| file_kib(*p)).collect();
    let cpu: f64 = pids.iter().map(|p| cpu_secs(*p)).sum();
    let etcd_rss_kib = match design {
        Design::BirdMesh => None,
        _ => lab.etcd_pid().map(rss_kib),
    };
    // Kill the last host (a client) and wait for its block to leave every other kernel.
    let victim = pids[n as usize - 1];
    let block = cluster_routes(victim)
        .into_iter()
        .find(|(_, gw)| !*gw)
        .map(|(d, _)| d)
        .expect("the victim's blackhole");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let killed = Instant::now();
    let others = &pids[..n as usize - 1];
    let withdraw = loop {
        if others
            .iter()
            .all(|p| !cluster_routes(*p).iter().any(|(d, gw)| *gw && *d == block))
        {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < LIMIT,
            "{}: block never withdrawn",
            design.label()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(lab);
    Figures {
        sessions,
        converge: converged,
        withdraw,
        reflector_rss_kib: rss[..reflectors].to_vec(),
        rss_kib: rss[reflectors..].to_vec(),
        anon_kib: anon,
        file_kib: file,
        cpu_secs: cpu,
        etcd_rss_kib,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("bench_mesh needs root (namespaces)");
        std::process::exit(2);
    }
    for bin in ["lattice-lab", "latticed"] {
        assert!(
            beside(bin).is_file(),
            "{} is not built",
            beside(bin).display()
        );
    }
    let sizes: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("sizes are host counts"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![50, 100]
    } else {
        sizes
    };
    let designs = [
        Design::BirdMesh,
        Design::LatticeMesh,
        Design::LatticeReflectors,
    ];
    let mut results: BTreeMap<(u32, usize), Figures> = BTreeMap::new();
    for &n in &sizes {
        for (d, design) in designs.iter().enumerate() {
            eprintln!("== {n} hosts, {}", design.label());
            let f = run(n, *design);
            eprintln!("   {f:?}");
            results.insert((n, d), f);
        }
    }
    println!(
        "\n| hosts | design | sessions | converge (s) | withdraw after SIGKILL (s) | RSS total (MiB) | RSS per host mean / max (MiB) | reflectors (MiB) | private (anon) per daemon mean (MiB) | binary and libraries (RssFile) per daemon mean (MiB) | daemons' CPU (s) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for ((n, d), f) in &results {
        let all: u64 = f.rss_kib.iter().chain(&f.reflector_rss_kib).sum();
        let hosts = f.rss_kib.len().max(1) as u64;
        let mean = f.rss_kib.iter().sum::<u64>() / hosts;
        let max = f.rss_kib.iter().max().copied().unwrap_or(0);
        let rr = if f.reflector_rss_kib.is_empty() {
            "-".to_string()
        } else {
            f.reflector_rss_kib
                .iter()
                .map(|k| format!("{:.1}", mib(*k)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let anon = f.anon_kib.iter().sum::<u64>() / f.anon_kib.len().max(1) as u64;
        let file = f.file_kib.iter().sum::<u64>() / f.file_kib.len().max(1) as u64;
        println!(
            "| {n} | {} | {} | {:.2} | {:.2} | {:.1} | {:.2} / {:.2} | {rr} | {:.2} | {:.2} | {:.1} |",
            designs[*d].label(),
            f.sessions,
            f.converge.as_secs_f64(),
            f.withdraw.as_secs_f64(),
            mib(all),
            mib(mean),
            mib(max),
            mib(anon),
            mib(file),
            f.cpu_secs
        );
    }
    for &n in &sizes {
        let Some(bird) = results.get(&(n, 0)) else {
            continue;
        };
        let per_host = |f: &Figures| {
            let all: u64 = f.rss_kib.iter().chain(&f.reflector_rss_kib).sum();
            mib(all) / n as f64
        };
        let anon_per_host = |f: &Figures| mib(f.anon_kib.iter().sum::<u64>()) / n as f64;
        for d in [1, 2] {
            let Some(l) = results.get(&(n, d)) else {
                continue;
            };
            println!(
                "\n{n} hosts, {} against the BIRD mesh: converges in {:.2} s against {:.2} s \
                 (BIRD/Lattice {:.2}x); withdraws in {:.2} s against {:.2} s; RSS per host \
                 {:.2} MiB against {:.2} MiB (Lattice/BIRD {:.2}x), of which private (anonymous) \
                 {:.2} MiB against {:.2} MiB (Lattice/BIRD {:.2}x); etcd beside Lattice: {:.1} MiB",
                designs[d].label(),
                l.converge.as_secs_f64(),
                bird.converge.as_secs_f64(),
                bird.converge.as_secs_f64() / l.converge.as_secs_f64(),
                l.withdraw.as_secs_f64(),
                bird.withdraw.as_secs_f64(),
                per_host(l),
                per_host(bird),
                per_host(l) / per_host(bird),
                anon_per_host(l),
                anon_per_host(bird),
                anon_per_host(l) / anon_per_host(bird),
                l.etcd_rss_kib.map_or(0.0, mib)
            );
        }
    }
}
