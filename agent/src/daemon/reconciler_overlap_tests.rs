#![allow(clippy::unwrap_used)]
//! Attaches and detaches of different containers overlap: the kernel work of one (a slow veth
//! deletion) does not hold the reconciler's lock.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::sync::Semaphore;

use super::*;
use crate::dataplane::host_ifname;
use crate::kernel::{EventReceiver, FakeKernel, IpvlanMode, LinkInfo, MacAddr, NetnsKind, Route};

/// The fake kernel, with link deletions held until the test lets them through.
#[derive(Debug)]
struct Gated {
    k: FakeKernel,
    deletes: Arc<Semaphore>,
}

#[async_trait]
impl Kernel for Gated {
    async fn create_veth(&self, name: &str, peer: &str, ns: &Path) -> KernelResult<()> {
        self.k.create_veth(name, peer, ns).await
    }
    async fn create_ipvlan(
        &self,
        parent: u32,
        name: &str,
        mode: IpvlanMode,
        ns: Option<&Path>,
    ) -> KernelResult<()> {
        self.k.create_ipvlan(parent, name, mode, ns).await
    }
    async fn delete_link(&self, index: u32) -> KernelResult<()> {
        self.deletes.acquire().await.unwrap().forget();
        self.k.delete_link(index).await
    }
    async fn link_by_name(&self, name: &str) -> KernelResult<LinkInfo> {
        self.k.link_by_name(name).await
    }
    async fn links(&self) -> KernelResult<Vec<LinkInfo>> {
        self.k.links().await
    }
    async fn rename_link(&self, index: u32, name: &str) -> KernelResult<()> {
        self.k.rename_link(index, name).await
    }
    async fn set_link_up(&self, index: u32) -> KernelResult<()> {
        self.k.set_link_up(index).await
    }
    async fn set_link_mtu(&self, index: u32, mtu: u32) -> KernelResult<()> {
        self.k.set_link_mtu(index, mtu).await
    }
    async fn add_address(&self, index: u32, address: IpNet) -> KernelResult<()> {
        self.k.add_address(index, address).await
    }
    async fn addresses(&self, index: u32) -> KernelResult<Vec<IpNet>> {
        self.k.addresses(index).await
    }
    async fn all_addresses(&self) -> KernelResult<Vec<(u32, IpNet)>> {
        self.k.all_addresses().await
    }
    async fn replace_route(&self, route: &Route) -> KernelResult<()> {
        self.k.replace_route(route).await
    }
    async fn delete_route(&self, destination: IpNet, protocol: u8) -> KernelResult<()> {
        self.k.delete_route(destination, protocol).await
    }
    async fn routes(&self, protocol: u8) -> KernelResult<Vec<Route>> {
        self.k.routes(protocol).await
    }
    async fn add_neighbour(&self, index: u32, ip: IpAddr, mac: MacAddr) -> KernelResult<()> {
        self.k.add_neighbour(index, ip, mac).await
    }
    async fn write_sysctl(&self, key: &str, value: &str) -> KernelResult<()> {
        self.k.write_sysctl(key, value).await
    }
    async fn read_sysctl(&self, key: &str) -> KernelResult<String> {
        self.k.read_sysctl(key).await
    }
    async fn subscribe(&self, quiet: &[u8]) -> KernelResult<EventReceiver> {
        self.k.subscribe(quiet).await
    }
    async fn netns(&self, path: &Path) -> KernelResult<Arc<dyn Kernel>> {
        self.k.netns(path).await
    }

    async fn classify_netns(&self, path: &Path) -> KernelResult<NetnsKind> {
        self.k.classify_netns(path).await
    }
}

fn spec(id: &str, last: u8) -> AttachSpec {
    AttachSpec {
        netns: PathBuf::from(format!("/run/netns/{id}")),
        container_id: id.into(),
        ifname: "eth0".into(),
        address: Ipv4Addr::new(10, 244, 1, last),
        address_v6: None,
        mtu: 1500,
    }
}

#[tokio::test]
async fn a_slow_detach_holds_up_neither_other_attaches_nor_resyncs() {
    let k = FakeKernel::new();
    for id in ["c1", "c2", "c3"] {
        k.add_netns(format!("/run/netns/{id}"));
    }
    let deletes = Arc::new(Semaphore::new(0));
    let gated = Gated {
        k: k.clone(),
        deletes: Arc::clone(&deletes),
    };
    let r = Arc::new(Reconciler::new(
        Arc::new(gated),
        vec!["10.244.1.0/24".parse().unwrap()],
        None,
    ));
    r.attach(&spec("c1", 5)).await.unwrap();
    r.attach(&spec("c2", 6)).await.unwrap();

    let detaching = tokio::spawn({
        let r = Arc::clone(&r);
        async move { r.detach("c1", "eth0").await }
    });
    let quick = Duration::from_secs(5);
    // The detach is now waiting inside the kernel's link deletion.
    tokio::time::timeout(quick, async {
        while r.attachments().await.len() != 1 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a detach held the lock during its kernel work");
    tokio::time::timeout(quick, r.attach(&spec("c3", 7)))
        .await
        .expect("an attach waited for another container's detach")
        .unwrap();
    // A resync meanwhile neither rewires c1 (forgotten) nor touches the others.
    tokio::time::timeout(quick, r.resync())
        .await
        .expect("a resync waited for a detach")
        .unwrap();
    assert!(!detaching.is_finished());

    deletes.add_permits(1);
    detaching.await.unwrap().unwrap();
    assert!(k.link_by_name(&host_ifname("c1", "eth0")).await.is_err());
    r.resync().await.unwrap();
    assert!(k.link_by_name(&host_ifname("c1", "eth0")).await.is_err());
    let routes = k.snapshot().routes;
    assert!(!routes.contains_key(&"10.244.1.5/32".parse().unwrap()));
    for dst in ["10.244.1.6/32", "10.244.1.7/32"] {
        assert!(routes.contains_key(&dst.parse().unwrap()), "{dst}");
    }
    let mut ids: Vec<String> = r
        .attachments()
        .await
        .into_iter()
        .map(|s| s.container_id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["c2", "c3"]);
}
