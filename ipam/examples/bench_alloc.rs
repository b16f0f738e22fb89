//! IPAM benchmark: N allocations on Lattice's `local` and `etcd` datastores and with the
//! reference CNI `host-local` IPAM plugin, in the same run; prints rates, memory and disk per
//! allocation, and ratios. `bench_alloc [N]` (default 2000); `make bench` runs it.
//!
//! Lattice is measured in-process (the agent's allocator as latticed runs it: every allocation
//! journaled and fdatasynced before it returns); host-local is executed once per allocation, as
//! a container runtime does. The comparison is "one allocation as each system serves it".

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ipam::{AllocationKey, Allocator, Datastore, Ipam, IpamSettings};

const HOST_LOCAL: &str = "/usr/lib/cni/host-local";
const ETCD: &str = "/usr/bin/etcd";

struct Row {
    name: &'static str,
    rate: f64,
    mem_per_alloc: Option<f64>,
    disk_per_alloc: f64,
}

fn main() -> Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(2000);
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut rows = vec![bench_local(n, &dir.path().join("local"))?];
    match rt.block_on(bench_etcd(n, &dir.path().join("etcd"))) {
        Ok(r) => rows.push(r),
        Err(e) => println!("etcd: skipped: {e:#}"),
    }
    if Path::new(HOST_LOCAL).exists() {
        rows.push(bench_host_local(n, &dir.path().join("host-local"))?);
    } else {
        println!("host-local: skipped: {HOST_LOCAL} missing (containernetworking-plugins)");
    }
    println!("\nIPAM allocation, N = {n} addresses (one key each, IPv4)");
    println!(
        "{:<22} {:>12} {:>16} {:>14} {:>14}",
        "allocator", "allocs/s", "RSS B/alloc", "disk B/alloc", "vs host-local"
    );
    let base = rows.iter().find(|r| r.name == "host-local").map(|r| r.rate);
    for r in &rows {
        let mem = r
            .mem_per_alloc
            .map_or("-".to_string(), |m| format!("{m:.0}"));
        let ratio = base.map_or("-".to_string(), |b| format!("{:.1}x", r.rate / b));
        println!(
            "{:<22} {:>12.0} {:>16} {:>14.0} {:>14}",
            r.name, r.rate, mem, r.disk_per_alloc, ratio
        );
    }
    Ok(())
}

fn settings(dir: &Path) -> IpamSettings {
    let cluster =
        ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(10, 240, 0, 0), 12).unwrap_or_default();
    let mut s = IpamSettings::new(cluster, dir.to_path_buf());
    s.block_prefix_len = 26;
    s.max_blocks_per_host = 1 << 16;
    s
}

fn bench_local(n: usize, dir: &Path) -> Result<Row> {
    let mut s = settings(dir);
    // One block big enough for N: a local host borrows only configured blocks.
    let bits = (n.max(2) as f64).log2().ceil() as u8;
    s.block_prefix_len = 32u8.saturating_sub(bits).max(12);
    s.block = Some(ipnet::Ipv4Net::new(
        "10.240.0.0".parse()?,
        s.block_prefix_len,
    )?);
    let mut ipam = Ipam::open(&s, 0)?;
    let rss0 = rss_bytes();
    let start = Instant::now();
    for i in 0..n {
        ipam.allocate(&AllocationKey::new(&format!("container-{i:08}"), "eth0"), 0)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let rss1 = rss_bytes();
    Ok(Row {
        name: "lattice local",
        rate: n as f64 / secs,
        mem_per_alloc: Some(rss1.saturating_sub(rss0) as f64 / n as f64),
        disk_per_alloc: dir_bytes(dir) as f64 / n as f64,
    })
}

async fn bench_etcd(n: usize, dir: &Path) -> Result<Row> {
    if !Path::new(ETCD).exists() {
        bail!("{ETCD} missing (etcd-server)");
    }
    std::fs::create_dir_all(dir)?;
    let port = || -> Result<u16> { Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()) };
    let (cport, pport) = (port()?, port()?);
    let client = format!("http://127.0.0.1:{cport}");
    let peer = format!("http://127.0.0.1:{pport}");
    let child = Command::new(ETCD)
        .args(["--name", "b1", "--data-dir"])
        .arg(dir.join("data"))
        .args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", &format!("b1={peer}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting etcd")?;
    let _guard = KillOnDrop(child);
    let mut s = settings(&dir.join("state"));
    s.datastore = Datastore::Etcd {
        endpoints: vec![client],
        prefix: "/bench".into(),
        node: "bench".into(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut alloc = loop {
        match Allocator::open(&s, 0).await {
            Ok(a) => break a,
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let rss0 = rss_bytes();
    let start = Instant::now();
    for i in 0..n {
        alloc
            .allocate(&AllocationKey::new(&format!("container-{i:08}"), "eth0"), 0)
            .await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let rss1 = rss_bytes();
    println!(
        "etcd: {} /26 blocks claimed in etcd during the run",
        alloc.ipam().blocks().len()
    );
    Ok(Row {
        name: "lattice etcd (/26s)",
        rate: n as f64 / secs,
        mem_per_alloc: Some(rss1.saturating_sub(rss0) as f64 / n as f64),
        disk_per_alloc: dir_bytes(&dir.join("state")) as f64 / n as f64,
    })
}

fn bench_host_local(n: usize, dir: &Path) -> Result<Row> {
    let conf = format!(
        r#"{{"cniVersion":"0.4.0","name":"bench","ipam":{{"type":"host-local","ranges":[[{{"subnet":"10.240.0.0/12"}}]],"dataDir":"{}"}}}}"#,
        dir.display()
    );
    let start = Instant::now();
    for i in 0..n {
        let mut child = Command::new(HOST_LOCAL)
            .env_clear()
            .env("CNI_COMMAND", "ADD")
            .env("CNI_CONTAINERID", format!("container-{i:08}"))
            .env("CNI_NETNS", "/nonexistent")
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", "/usr/lib/cni")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(conf.as_bytes())?;
        if !child.wait()?.success() {
            bail!("host-local ADD {i} failed");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(Row {
        name: "host-local",
        rate: n as f64 / secs,
        mem_per_alloc: None,
        disk_per_alloc: dir_bytes(dir) as f64 / n as f64,
    })
}

/// The benchmark's own etcd, killed by its pid when the run ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident set size from /proc/self/statm (pages of 4 KiB).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Bytes in the files under `dir` (apparent size).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
