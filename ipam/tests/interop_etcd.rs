//! The etcd datastore against a real etcd server (Debian's etcd-server) that the test starts on
//! loopback and stops: 20 agents racing for blocks end with disjoint blocks, an agent's death
//! (its lease no longer kept alive) frees its blocks after the grace period, and an etcd
//! restart mid-run loses no claim.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use ipam::{AllocationKey, Allocator, Datastore, IpamSettings};
use ipnet::IpNet;
use testkit::daemons::{Etcd, ETCD_BINARIES};

const AGENTS: usize = 20;
const GRACE: u64 = 3;

fn settings(dir: &Path, node: &str, endpoint: &str) -> IpamSettings {
    let mut s = IpamSettings::new("10.244.0.0/20".parse().unwrap(), dir.join(node));
    s.block_prefix_len = 26;
    s.max_blocks_per_host = 3;
    s.grace_period_secs = GRACE;
    s.datastore = Datastore::Etcd {
        endpoints: vec![endpoint.to_string()],
        prefix: "/lattice-test".into(),
        node: node.to_string(),
        security: Default::default(),
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
    if !testkit::require(false, ETCD_BINARIES) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = Etcd::start(dir.path());
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
    etcd.restart();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_block_key_is_claimed_again_and_a_revoked_lease_replaced() {
    if !testkit::require(false, ETCD_BINARIES) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start(dir.path());
    let a = open(&settings(dir.path(), "a", &etcd.endpoint())).await;
    let block = a.ipam().blocks()[0];
    let key = format!(
        "/lattice-test/ipam/blocks/{}",
        block.to_string().replace('/', "-")
    );
    let mut raw = etcd_client::Client::connect([etcd.endpoint()], None)
        .await
        .unwrap();
    let wait_owned = |what: &'static str| {
        let a = &a;
        async move {
            let deadline = Instant::now() + Duration::from_secs(GRACE * 5);
            loop {
                if claims(a).await.get(&block).map(String::as_str) == Some("a") {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "{what}: {block} never claimed again"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    raw.delete(key.clone(), None).await.unwrap();
    wait_owned("after a delete").await;
    let old = a.etcd().unwrap().lease();
    raw.lease_revoke(old).await.unwrap();
    wait_owned("after a lease revoke").await;
    let deadline = Instant::now() + Duration::from_secs(GRACE * 5);
    while a.etcd().unwrap().lease() == old {
        assert!(Instant::now() < deadline, "no new lease");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The claim now lives on the new lease: it outlasts the grace period.
    tokio::time::sleep(Duration::from_secs(GRACE + 1)).await;
    assert_eq!(claims(&a).await.get(&block).map(String::as_str), Some("a"));
}

#[tokio::test]
async fn a_full_cluster_range_is_a_clear_error() {
    if !testkit::require(false, ETCD_BINARIES) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start(dir.path());
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
