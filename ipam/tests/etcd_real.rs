//! The etcd datastore against a real etcd server (Debian's etcd-server) that the test starts on
//! loopback and stops: 20 agents racing for blocks end with disjoint blocks, an agent's death
//! (its lease no longer kept alive) frees its blocks after the grace period, and an etcd
//! restart mid-run loses no claim.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipam::{AllocationKey, Allocator, Datastore, IpamSettings};
use ipnet::IpNet;

const ETCD: &str = "/usr/bin/etcd";
const AGENTS: usize = 20;
const GRACE: u64 = 3;

/// One etcd server on loopback, killed (by its own pid) when dropped.
struct EtcdServer {
    child: Option<Child>,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
}

impl EtcdServer {
    fn start(dir: &Path) -> EtcdServer {
        let mut s = EtcdServer {
            child: None,
            dir: dir.to_path_buf(),
            client_port: free_port(),
            peer_port: free_port(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::File::create(self.dir.join("etcd.log")).unwrap();
        let child = Command::new(ETCD)
            .args(["--name", "t1", "--data-dir"])
            .arg(self.dir.join("data"))
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
            .args(["--initial-cluster", &format!("t1={peer}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn settings(dir: &Path, node: &str, endpoint: &str) -> IpamSettings {
    let mut s = IpamSettings::new("10.244.0.0/20".parse().unwrap(), dir.join(node));
    s.block_prefix_len = 26;
    s.max_blocks_per_host = 3;
    s.grace_period_secs = GRACE;
    s.datastore = Datastore::Etcd {
        endpoints: vec![endpoint.to_string()],
        prefix: "/lattice-test".into(),
        node: node.to_string(),
    };
    s
}

/// Open an agent, retrying while etcd starts.
async fn open(s: &IpamSettings) -> Allocator {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Allocator::open(s, 0).await {
            Ok(a) => return a,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("opening {:?}: {e}", s.state_dir),
        }
    }
}

async fn claims(agent: &Allocator) -> HashMap<IpNet, String> {
    agent
        .etcd()
        .unwrap()
        .claims()
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Every agent's blocks are disjoint and each is claimed in etcd by that agent.
async fn check_disjoint(agents: &[(String, Allocator)]) {
    let claimed = claims(&agents[0].1).await;
    let mut seen = HashSet::new();
    for (node, a) in agents {
        for b in a.ipam().blocks() {
            assert!(seen.insert(b), "{b} held by two agents");
            assert_eq!(
                claimed.get(&b),
                Some(node),
                "{b} of {node} not claimed by it in etcd"
            );
        }
    }
}

async fn allocate_n(agent: &mut Allocator, n: usize) {
    for i in 0..n {
        agent
            .allocate(&AllocationKey::new(&format!("c{i}"), "eth0"), 0)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_agents_get_disjoint_blocks_dead_agents_free_theirs_and_restarts_lose_nothing() {
    if !Path::new(ETCD).exists() {
        println!("SKIPPED: {ETCD} is missing (Debian package etcd-server)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = EtcdServer::start(dir.path());
    let endpoint = etcd.endpoint();

    // 20 agents start at once and race for their primary blocks, then borrow one more each.
    let mut tasks = Vec::new();
    for i in 0..AGENTS {
        let s = settings(dir.path(), &format!("n{i}"), &endpoint);
        tasks.push(tokio::spawn(async move {
            let mut a = open(&s).await;
            allocate_n(&mut a, 70).await;
            (format!("n{i}"), a)
        }));
    }
    let mut agents = Vec::new();
    for t in tasks {
        agents.push(t.await.unwrap());
    }
    for (_, a) in &agents {
        assert_eq!(
            a.ipam().blocks().len(),
            2,
            "70 addresses need two /26 blocks"
        );
    }
    check_disjoint(&agents).await;
    assert_eq!(claims(&agents[0].1).await.len(), 2 * AGENTS);

    // etcd restarts mid-run: no claim is lost, and agents go on claiming blocks afterwards.
    etcd.stop();
    etcd.spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match agents[0].1.etcd().unwrap().claims().await {
            Ok(c) if c.len() == 2 * AGENTS => break,
            Ok(c) => panic!(
                "after the restart {} of {} claims are left",
                c.len(),
                2 * AGENTS
            ),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("etcd did not come back: {e}"),
        }
    }
    for (_, a) in agents.iter_mut().take(5) {
        allocate_n(a, 140).await;
        assert_eq!(a.ipam().blocks().len(), 3);
    }
    check_disjoint(&agents).await;
    // Leases kept alive across the restart: after more than a grace period every claim is there.
    tokio::time::sleep(Duration::from_secs(GRACE + 2)).await;
    assert_eq!(claims(&agents[0].1).await.len(), 2 * AGENTS + 5);

    // Agent n0 dies: no more keep-alives. Its blocks stay claimed for the grace period, then go.
    let (_, dead) = agents.remove(0);
    let dead_blocks = dead.ipam().blocks();
    drop(dead);
    let owned_by_n0 = |c: &HashMap<IpNet, String>| c.values().filter(|n| *n == "n0").count();
    assert_eq!(
        owned_by_n0(&claims(&agents[0].1).await),
        3,
        "still within the grace period"
    );
    let deadline = Instant::now() + Duration::from_secs(GRACE * 10);
    loop {
        let c = claims(&agents[0].1).await;
        if owned_by_n0(&c) == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "n0's blocks were never freed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A new host takes the lowest free block: one of n0's.
    let newcomer = open(&settings(dir.path(), "n20", &endpoint)).await;
    let got = newcomer.ipam().blocks();
    assert_eq!(got.len(), 1);
    assert!(
        dead_blocks.contains(&got[0]),
        "{got:?} not among {dead_blocks:?}"
    );
    agents.push(("n20".into(), newcomer));
    check_disjoint(&agents).await;

    // n0 coming back finds one of its blocks taken: a clear error, not two owners.
    let err = Allocator::open(&settings(dir.path(), "n0", &endpoint), 0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("claimed by n20"), "{err}");
}

#[tokio::test]
async fn a_full_cluster_range_is_a_clear_error() {
    if !Path::new(ETCD).exists() {
        println!("SKIPPED: {ETCD} is missing (Debian package etcd-server)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let etcd = EtcdServer::start(dir.path());
    let mut s = settings(dir.path(), "a", &etcd.endpoint());
    s.cluster = "10.244.0.0/25".parse().unwrap();
    let mut a = open(&s).await;
    allocate_n(&mut a, 128).await;
    let mut s = settings(dir.path(), "b", &etcd.endpoint());
    s.cluster = "10.244.0.0/25".parse().unwrap();
    let err = Allocator::open(&s, 0).await.unwrap_err();
    assert!(matches!(err, ipam::IpamError::Exhausted { .. }), "{err}");
    let err = a
        .allocate(&AllocationKey::new("one-too-many", "eth0"), 0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("every /26 block"), "{err}");
}
