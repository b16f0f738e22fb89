//! `etcd`: a single-member etcd (Debian's etcd-server) in the node's namespace, the cluster
//! datastore of the lab's latticed hosts (`ipam.datastore: etcd`, `bgp.mesh`).
//!
//! Clients are served on every address of the namespace, port 2379, and advertised on the
//! node's first link address; the data and the log are in the node directory. Anything else
//! is etcd's own environment (`env: {ETCD_...}`), which etcd reads for every flag: TLS files,
//! `ETCD_AUTO_COMPACTION_RETENTION` and so on. The node is ready when etcd logs that it serves
//! clients.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::Ctx;
use crate::error::LabError;
use crate::sh;
use crate::topology::{Lab, Node};

/// The etcd binary (`ETCD_BIN` overrides it).
const ETCD: &str = "/usr/bin/etcd";
/// How long etcd gets to serve clients.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// What etcd 3.4 logs once clients can connect.
const READY: &str = "ready to serve client requests";

/// The etcd binary.
pub fn binary() -> PathBuf {
    std::env::var_os("ETCD_BIN")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(ETCD), PathBuf::from)
}

/// Fails when etcd is not installed.
pub fn check_installed() -> Result<(), LabError> {
    let bin = binary();
    if bin.is_file() {
        Ok(())
    } else {
        Err(LabError::Failed(format!(
            "{} not found: the etcd kind needs Debian's etcd-server (or ETCD_BIN)",
            bin.display()
        )))
    }
}

/// The address the node advertises: its first link address, else loopback.
pub fn client_url(lab: &Lab, node: &str) -> String {
    let first = lab
        .links
        .iter()
        .flat_map(|l| [&l.a, &l.b])
        .filter(|e| e.node == node)
        .flat_map(|e| e.addrs.iter())
        .find(|a| a.addr().is_ipv4());
    match first {
        Some(a) => format!("http://{}:2379", a.addr()),
        None => "http://127.0.0.1:2379".into(),
    }
}

/// Start etcd and wait until it serves clients.
pub fn start(ctx: &mut Ctx<'_>, node: &Node) -> Result<(), LabError> {
    let ns = ctx.lab.namespace(&node.name);
    let dir = ctx.dir.node_dir(&node.name);
    std::fs::create_dir_all(&dir).map_err(LabError::io(format!("creating {}", dir.display())))?;
    let env = crate::env::environment(node)?;
    for line in &node.exec {
        sh::exec_line(&node.name, &ns, line, &env)?;
    }
    let log_path = dir.join("etcd.log");
    let log = File::create(&log_path)
        .map_err(LabError::io(format!("creating {}", log_path.display())))?;
    let log2 = log
        .try_clone()
        .map_err(LabError::io("duplicating the log file"))?;
    let advertise = client_url(ctx.lab, &node.name);
    let peer = "http://127.0.0.1:2380";
    let data = dir.join("data");
    let mut cmd = sh::in_netns(&ns, &[]);
    cmd.arg(binary())
        .args(["--name", &node.name, "--data-dir"])
        .arg(&data)
        .args(["--listen-client-urls", "http://0.0.0.0:2379"])
        .args(["--advertise-client-urls", &advertise])
        .args(["--listen-peer-urls", peer])
        .args(["--initial-advertise-peer-urls", peer])
        .args(["--initial-cluster", &format!("{}={peer}", node.name)]);
    // The node's env may reconfigure etcd (ETCD_*); a flag above wins over its variable.
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    println!("  {}: starting {}", node.name, sh::show(&cmd));
    cmd.stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0);
    let mut child = cmd.spawn().map_err(|error| LabError::Spawn {
        cmd: sh::show(&cmd),
        error,
    })?;
    ctx.state
        .add_daemon(&node.name, node.kind, &ns, "etcd", child.id());
    ctx.state.save(ctx.dir)?;
    let start = Instant::now();
    while start.elapsed() < READY_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LabError::Failed(format!(
                "node {}: etcd exited ({status}); last log lines:\n{}",
                node.name,
                sh::tail(&log_path, 10)
            )));
        }
        if std::fs::read_to_string(&log_path).is_ok_and(|t| t.contains(READY)) {
            println!("  {}: etcd serves clients at {advertise}", node.name);
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(LabError::Failed(format!(
        "node {}: etcd not serving clients within {}s; log: {}",
        node.name,
        READY_TIMEOUT.as_secs(),
        log_path.display()
    )))
}
