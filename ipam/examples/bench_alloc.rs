//! IPAM benchmark: N allocations on Lattice's `local` and `etcd` datastores and with the
//! reference CNI `host-local` IPAM plugin, in the same run; prints rates, memory and disk per
//! allocation, and ratios. `bench_alloc [N]` (default 2000); `make bench` runs it.
//!
//! Lattice is measured in-process (the agent's allocator as latticed runs it: every allocation
//! journaled and fdatasynced before it returns), and also with one fresh process per allocation
//! (start, lock, replay, allocate, exit: the cost structure of a CNI plugin); host-local is
//! executed once per allocation, as a container runtime does.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ipam::{AllocationKey, Allocator, Datastore, Ipam, IpamSettings};
use testkit::bench::{dir_bytes, own_rss_bytes};
use testkit::daemons::{Etcd, ETCD_BINARIES};

const HOST_LOCAL: &str = "/usr/lib/cni/host-local";

struct Row {
    name: &'static str,
    rate: f64,
    mem_per_alloc: Option<f64>,
    disk_per_alloc: f64,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, one, dir, n, key] = args.as_slice() {
        if one == "one" {
            // A fresh process opening the store for one allocation, like a CNI plugin would.
            let mut ipam = Ipam::open(&local_settings(n.parse()?, Path::new(dir))?, 0)?;
            ipam.allocate(&AllocationKey::new(key, "eth0"), 0)?;
            return Ok(());
        }
    }
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
    rows.push(bench_local_processes(n, &dir.path().join("local-proc"))?);
    // Under `make bench` (LATTICE_TEST_STRICT=1) a comparison that cannot run is a failure.
    if testkit::require(false, ETCD_BINARIES) {
        rows.push(rt.block_on(bench_etcd(n, &dir.path().join("etcd")))?);
    }
    if testkit::require(false, &[HOST_LOCAL]) {
        rows.push(bench_host_local(n, &dir.path().join("host-local"))?);
    }
    println!("\nIPAM allocation, N = {n} addresses (one key each, IPv4)");
    println!(
        "{:<26} {:>10} {:>12} {:>13} {:>14}",
        "allocator", "allocs/s", "RSS B/alloc", "disk B/alloc", "vs host-local"
    );
    let base = rows.iter().find(|r| r.name == "host-local").map(|r| r.rate);
    for r in &rows {
        let mem = r
            .mem_per_alloc
            .map_or("-".to_string(), |m| format!("{m:.0}"));
        let ratio = base.map_or("-".to_string(), |b| format!("{:.1}x", r.rate / b));
        println!(
            "{:<26} {:>10.0} {:>12} {:>13.0} {:>14}",
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

/// A local host with one block big enough for `n` (a local host borrows only configured blocks).
fn local_settings(n: usize, dir: &Path) -> Result<IpamSettings> {
    let mut s = settings(dir);
    let bits = (n.max(2) as f64).log2().ceil() as u8;
    s.block_prefix_len = 32u8.saturating_sub(bits).max(12);
    s.block = Some(ipnet::Ipv4Net::new(
        "10.240.0.0".parse()?,
        s.block_prefix_len,
    )?);
    Ok(s)
}

/// One process per allocation (start, lock, replay the journal, allocate, exit).
fn bench_local_processes(n: usize, dir: &Path) -> Result<Row> {
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    for i in 0..n {
        let status = Command::new(&exe)
            .arg("one")
            .arg(dir)
            .arg(n.to_string())
            .arg(format!("container-{i:08}"))
            .status()?;
        if !status.success() {
            bail!("allocation {i} in a fresh process failed");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(Row {
        name: "lattice local, proc/call",
        rate: n as f64 / secs,
        mem_per_alloc: None,
        disk_per_alloc: dir_bytes(dir) as f64 / n as f64,
    })
}

fn bench_local(n: usize, dir: &Path) -> Result<Row> {
    let s = local_settings(n, dir)?;
    let mut ipam = Ipam::open(&s, 0)?;
    let rss0 = own_rss_bytes();
    let start = Instant::now();
    for i in 0..n {
        ipam.allocate(&AllocationKey::new(&format!("container-{i:08}"), "eth0"), 0)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let rss1 = own_rss_bytes();
    Ok(Row {
        name: "lattice local",
        rate: n as f64 / secs,
        mem_per_alloc: Some(rss1.saturating_sub(rss0) as f64 / n as f64),
        disk_per_alloc: dir_bytes(dir) as f64 / n as f64,
    })
}

async fn bench_etcd(n: usize, dir: &Path) -> Result<Row> {
    std::fs::create_dir_all(dir)?;
    let etcd = Etcd::start(dir);
    let client = etcd.endpoint();
    let mut s = settings(&dir.join("state"));
    s.datastore = Datastore::Etcd {
        endpoints: vec![client],
        prefix: "/bench".into(),
        node: "bench".into(),
        security: Default::default(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut alloc = loop {
        match Allocator::open(&s, 0).await {
            Ok(a) => break a,
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let rss0 = own_rss_bytes();
    let start = Instant::now();
    for i in 0..n {
        alloc
            .allocate(&AllocationKey::new(&format!("container-{i:08}"), "eth0"), 0)
            .await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let rss1 = own_rss_bytes();
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
