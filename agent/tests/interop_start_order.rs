//! latticed's start against real FRR (RFC 4724 §4.1): a session that comes up while the
//! dataplane is still starting gets our block before our End-of-RIB, at first start and after
//! a graceful restart alike, so FRR, as graceful-restart helper, never withdraws it.
//!
//! The whole daemon runs (`daemon::run`) in a namespace of its own, with the dataplane on the
//! fake kernel whose route dumps take 1.5 s each (as on a host with a large routing table),
//! so that sessions come up while the dataplane is busy; BGP runs on real sockets. Root and
//! FRR only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agent::config::Config;
use agent::daemon::{self, Listeners, ManualClock};
use agent::kernel::{
    EventReceiver, FakeKernel, IpvlanMode, Kernel, KernelResult, LinkInfo, MacAddr, NetnsKind,
    Route,
};
use async_trait::async_trait;
use ipnet::IpNet;
use testkit::daemons::Frr;
use testkit::eventually;
use testkit::netns::Netns;

const PEER: &str = "10.99.21.1";
const OURS: &str = "10.99.21.2";
const BLOCK: &str = "10.244.9.0/24";

/// The fake kernel, with every route dump taking 1.5 s.
#[derive(Debug)]
struct SlowDumps(FakeKernel);

#[async_trait]
impl Kernel for SlowDumps {
    async fn create_veth(&self, name: &str, peer: &str, ns: &Path) -> KernelResult<()> {
        self.0.create_veth(name, peer, ns).await
    }
    async fn create_ipvlan(
        &self,
        parent: u32,
        name: &str,
        mode: IpvlanMode,
        ns: Option<&Path>,
    ) -> KernelResult<()> {
        self.0.create_ipvlan(parent, name, mode, ns).await
    }
    async fn delete_link(&self, index: u32) -> KernelResult<()> {
        self.0.delete_link(index).await
    }
    async fn link_by_name(&self, name: &str) -> KernelResult<LinkInfo> {
        self.0.link_by_name(name).await
    }
    async fn links(&self) -> KernelResult<Vec<LinkInfo>> {
        self.0.links().await
    }
    async fn rename_link(&self, index: u32, name: &str) -> KernelResult<()> {
        self.0.rename_link(index, name).await
    }
    async fn set_link_up(&self, index: u32) -> KernelResult<()> {
        self.0.set_link_up(index).await
    }
    async fn set_link_mtu(&self, index: u32, mtu: u32) -> KernelResult<()> {
        self.0.set_link_mtu(index, mtu).await
    }
    async fn add_address(&self, index: u32, address: IpNet) -> KernelResult<()> {
        self.0.add_address(index, address).await
    }
    async fn addresses(&self, index: u32) -> KernelResult<Vec<IpNet>> {
        self.0.addresses(index).await
    }
    async fn all_addresses(&self) -> KernelResult<Vec<(u32, IpNet)>> {
        self.0.all_addresses().await
    }
    async fn replace_route(&self, route: &Route) -> KernelResult<()> {
        self.0.replace_route(route).await
    }
    async fn delete_route(&self, destination: IpNet, protocol: u8) -> KernelResult<()> {
        self.0.delete_route(destination, protocol).await
    }
    async fn routes(&self, protocol: u8) -> KernelResult<Vec<Route>> {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.0.routes(protocol).await
    }
    async fn add_neighbour(&self, index: u32, ip: IpAddr, mac: MacAddr) -> KernelResult<()> {
        self.0.add_neighbour(index, ip, mac).await
    }
    async fn write_sysctl(&self, key: &str, value: &str) -> KernelResult<()> {
        self.0.write_sysctl(key, value).await
    }
    async fn read_sysctl(&self, key: &str) -> KernelResult<String> {
        self.0.read_sysctl(key).await
    }
    async fn subscribe(&self, quiet: &[u8]) -> KernelResult<EventReceiver> {
        self.0.subscribe(quiet).await
    }
    async fn netns(&self, path: &Path) -> KernelResult<Arc<dyn Kernel>> {
        self.0.netns(path).await
    }
    async fn classify_netns(&self, path: &Path) -> KernelResult<NetnsKind> {
        self.0.classify_netns(path).await
    }
}

fn config(dir: &Path) -> Config {
    let text = format!(
        "node: {{ name: order1, asn: 65101, router_id: {OURS} }}\n\
         cluster: {{ cidr: 10.244.0.0/16 }}\n\
         ipam: {{ state_dir: {}, block: {BLOCK} }}\n\
         api: {{ socket: {} }}\n\
         metrics: {{ enabled: false }}\n\
         docker: {{ enabled: false }}\n\
         bgp:\n  graceful_restart: {{ restart_time: 120 }}\n  peers:\n    - {{ address: {PEER}, asn: 65001, hold_time: 9, connect_retry: 1 }}\n",
        dir.join("state").display(),
        dir.join("api.sock").display(),
    );
    Config::from_yaml_str(&text, "order1.yaml").unwrap()
}

/// One life of latticed in namespace `ns` on `kernel`: until FRR holds our block on an
/// Established session, then a stop (graceful restart on: no NOTIFICATION).
fn one_life(ns: &str, dir: &Path, kernel: FakeKernel, frr: Arc<Frr>) {
    let config = config(dir);
    let socket = dir.join("api.sock");
    testkit::netns::in_netns(ns, move || async move {
        let listeners = Listeners {
            api: agent::api::server::bind(&socket).unwrap(),
            metrics: None,
            docker: None,
            bgp: Some(format!("{OURS}:179").parse().unwrap()),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let daemon = tokio::spawn(daemon::run(
            config,
            Arc::new(SlowDumps(kernel)),
            listeners,
            Arc::new(ManualClock::new(1_000_000)),
            async {
                let _ = stopped.await;
            },
        ));
        let held = tokio::task::block_in_place(|| {
            eventually(Duration::from_secs(40), || {
                frr_route(&frr).contains(BLOCK) && !frr_route(&frr).contains("\"stale\":true")
            })
        });
        assert!(held, "FRR never got {BLOCK}: {}", frr_route(&frr));
        let _ = stop.send(());
        daemon.await.unwrap().unwrap();
    });
}

fn frr_route(frr: &Frr) -> String {
    frr.vtysh(&[&format!("show bgp ipv4 unicast {BLOCK} json")])
}

#[test]
fn frr_gets_our_block_before_end_of_rib_at_start_and_after_a_graceful_restart() {
    if !testkit::require(true, testkit::daemons::FRR_BINARIES) {
        return;
    }
    let peer = Netns::new("so21p");
    let ours = Netns::new("so21o");
    peer.veth("p0", &ours, "o0");
    peer.addr("p0", &format!("{PEER}/30"));
    ours.addr("o0", &format!("{OURS}/30"));
    peer.up("p0");
    ours.up("o0");
    let dir = testkit::cmd::shared_tempdir();
    let frr = Arc::new(Frr::start(
        peer.name(),
        dir.path(),
        &format!(
            "debug bgp updates in\ndebug bgp graceful-restart\n\
             router bgp 65001\n bgp router-id {PEER}\n no bgp ebgp-requires-policy\n \
             no bgp default ipv4-unicast\n bgp graceful-restart\n \
             neighbor {OURS} remote-as 65101\n neighbor {OURS} timers 3 9\n \
             neighbor {OURS} timers connect 1\n address-family ipv4 unicast\n  \
             neighbor {OURS} activate\n exit-address-family\n"
        ),
    ));
    let log = frr.dir().join("bgpd.log");
    let kernel = FakeKernel::new();
    one_life(ours.name(), dir.path(), kernel.clone(), frr.clone());
    let first = std::fs::read_to_string(&log).unwrap();
    assert_routes_before_end_of_rib(&first, "first start");
    // Away (graceful restart: no NOTIFICATION): FRR keeps the block, stale.
    assert!(eventually(Duration::from_secs(20), || frr_route(&frr)
        .contains("\"stale\":true")));
    // Back, with our routes still in the (fake) kernel: Restart State set. From now on FRR's
    // kernel (zebra) must not lose the block for a moment, nor its RIB between our End-of-RIB
    // and our UPDATE.
    let monitor_log = dir.path().join("monitor.log");
    let monitor = testkit::process::Daemon::in_netns(
        peer.name(),
        &["ip", "-o", "monitor", "route"],
        &monitor_log,
    );
    one_life(ours.name(), dir.path(), kernel, frr.clone());
    drop(monitor);
    let all = std::fs::read_to_string(&log).unwrap();
    let second = all.get(first.len()..).unwrap_or_default();
    assert_routes_before_end_of_rib(second, "graceful restart");
    let monitor = std::fs::read_to_string(&monitor_log).unwrap_or_default();
    assert!(
        !monitor
            .lines()
            .any(|l| l.starts_with("Deleted") && l.contains(BLOCK)),
        "FRR's kernel lost {BLOCK} during our graceful restart:\n{monitor}"
    );
}

/// In FRR's log (`debug bgp updates in`), our block arrived before our End-of-RIB.
fn assert_routes_before_end_of_rib(log: &str, when: &str) {
    let route = log.find(&format!("{OURS}(order1) rcvd {BLOCK}"));
    let eor = log.find(&format!("rcvd End-of-RIB for IPv4 Unicast from {OURS}"));
    match (route, eor) {
        (Some(r), Some(e)) => assert!(
            r < e,
            "{when}: FRR got our End-of-RIB before {BLOCK}:\n{log}"
        ),
        _ => panic!("{when}: FRR's log lacks our block or our End-of-RIB:\n{log}"),
    }
}
