#![allow(clippy::unwrap_used)]
//! The reconciler with ipvlan wiring on the fake kernel: a slave deleted inside the container
//! is rewired from that namespace's notifications alone (the period is an hour).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::daemon::reconciler::{Reconciler, Timing};
use crate::dataplane::{AttachSpec, IpvlanWiring, Wiring, IPVLAN_HOST_IFNAME};
use crate::kernel::{FakeKernel, IpvlanMode, Kernel};

const C1: &str = "/run/netns/c1";

fn spec() -> AttachSpec {
    AttachSpec {
        netns: PathBuf::from(C1),
        container_id: "c1".into(),
        ifname: "eth0".into(),
        address: Ipv4Addr::new(10, 244, 1, 5),
        address_v6: None,
        mtu: 1500,
    }
}

async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

async fn wait(d: Duration) {
    tokio::time::sleep(d).await;
    settle().await;
}

async fn start() -> (
    FakeKernel,
    Arc<Reconciler>,
    mpsc::Sender<Vec<crate::dataplane::LearnedRoute>>,
) {
    let k = FakeKernel::new();
    k.add_netns(C1);
    k.add_netns("/run/netns/tor");
    k.create_veth("eth1", "x", Path::new("/run/netns/tor"))
        .await
        .unwrap();
    let wiring = Wiring::Ipvlan(IpvlanWiring {
        parent: "eth1".into(),
        mode: IpvlanMode::L3,
        host_address: Ipv4Addr::new(169, 254, 1, 1),
    });
    let blocks = vec!["10.244.1.0/24".parse().unwrap()];
    let r = Arc::new(Reconciler::with_wiring(
        Arc::new(k.clone()),
        blocks,
        None,
        wiring,
    ));
    let timing = Timing {
        debounce: Duration::from_millis(100),
        resync: Duration::from_secs(3600),
        adopt_window: Duration::from_secs(3600),
    };
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(r.clone().run(rx, timing));
    settle().await;
    (k, r, tx)
}

#[tokio::test(start_paused = true)]
async fn a_slave_deleted_in_the_container_is_rewired_within_the_debounce() {
    let (k, r, _learned) = start().await;
    r.attach(&spec()).await.unwrap();
    wait(Duration::from_secs(1)).await;
    let repairs = r.stats.repairs.load(Ordering::Relaxed);
    let ctr = k.netns(Path::new(C1)).await.unwrap();
    let host_slave = k.link_by_name(IPVLAN_HOST_IFNAME).await.unwrap();

    let eth0 = ctr.link_by_name("eth0").await.unwrap();
    ctr.delete_link(eth0.index).await.unwrap();
    settle().await;
    assert!(ctr.link_by_name("eth0").await.is_err());
    wait(Duration::from_millis(150)).await;
    let again = ctr.link_by_name("eth0").await.unwrap();
    assert!(again.up);
    assert_ne!(again.index, eth0.index, "a new slave");
    let addrs = ctr.addresses(again.index).await.unwrap();
    assert!(
        addrs.contains(&"10.244.1.5/32".parse().unwrap()),
        "{addrs:?}"
    );
    // One repair (the attach), and the host side was left alone.
    assert_eq!(r.stats.repairs.load(Ordering::Relaxed), repairs + 1);
    assert_eq!(
        k.link_by_name(IPVLAN_HOST_IFNAME).await.unwrap(),
        host_slave
    );

    // Rewiring's own changes in the container settle: no further repair.
    wait(Duration::from_secs(1)).await;
    assert_eq!(r.stats.repairs.load(Ordering::Relaxed), repairs + 1);
}

#[tokio::test(start_paused = true)]
async fn a_detached_container_is_neither_watched_nor_rewired() {
    let (k, r, _learned) = start().await;
    r.attach(&spec()).await.unwrap();
    wait(Duration::from_secs(1)).await;
    r.detach("c1", "eth0").await.unwrap();
    wait(Duration::from_secs(1)).await;
    let resyncs = r.stats.resyncs.load(Ordering::Relaxed);
    let ctr = k.netns(Path::new(C1)).await.unwrap();
    assert!(ctr.link_by_name("eth0").await.is_err());
    // A change in the former container's namespace wakes nothing.
    let lo = ctr.link_by_name("lo").await.unwrap();
    ctr.set_link_up(lo.index).await.unwrap();
    wait(Duration::from_secs(1)).await;
    assert_eq!(r.stats.resyncs.load(Ordering::Relaxed), resyncs);
    assert!(ctr.link_by_name("eth0").await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_container_whose_namespace_went_away_is_forgotten() {
    let (k, r, _learned) = start().await;
    r.attach(&spec()).await.unwrap();
    wait(Duration::from_secs(1)).await;
    k.remove_netns(C1);
    // Nothing in the host changes: the next resync (any trigger) probes and forgets it.
    r.resync().await.unwrap();
    assert!(r.attachments().await.is_empty());
    assert!(!k
        .snapshot()
        .routes
        .contains_key(&"10.244.1.5/32".parse().unwrap()));
}
