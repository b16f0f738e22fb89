#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only: two real latticed, each in its own namespace (`li-*-<pid>`), peered over a veth,
//! misconfigured with the same primary block. Checks, through the local API and the kernel:
//! the conflict shows in `status` on both sides; dual-stack attachments; a borrowed block is
//! blackholed and announced to the peer; a full host is an `exhausted` error; `gc` unwires and
//! releases what is not kept; the drained borrowed block is given back after the grace period
//! (blackhole gone, peer's route withdrawn); allocations survive a latticed restart.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;

use api::client::call;
use api::proto::{AttachmentKey, NodeStatus, Reply, Request};
use common::{run, Latticed};
use testkit::netns::Netns;

/// Namespaces and daemons this test made, removed when dropped (also on a failed assertion).
#[derive(Default)]
struct Lab {
    // Dropped in this order: the daemons, then their namespaces.
    daemons: Vec<Latticed>,
    namespaces: Vec<Netns>,
}

impl Lab {
    fn netns(&mut self, name: &str) {
        self.namespaces.push(Netns::named(name));
    }
}

struct Host {
    ns: String,
    socket: PathBuf,
    config: PathBuf,
    log: PathBuf,
}

fn write_config(dir: &Path, name: &str, me: &str, peer: &str) -> Host {
    let socket = dir.join(format!("{name}.sock"));
    let config = dir.join(format!("{name}.yaml"));
    let text = format!(
        "node: {{ name: {name}, asn: {asn}, router_id: {me} }}
cluster: {{ cidr: 10.244.0.0/16, block_prefix_len: 30, cidr_v6: 'fd00:10:244::/56', block_prefix_len_v6: 126 }}
ipam:
  state_dir: {state}
  block: 10.244.1.0/30
  block_v6: 'fd00:10:244::/126'
  blocks: [10.244.1.4/30, 'fd00:10:244::4/126']
  max_blocks_per_host: 2
  block_grace_period: 2
bgp:
  listen: {{ address: {me}, port: 179 }}
  peers:
    - {{ address: {peer}, asn: {peer_asn}, hold_time: 9, connect_retry: 1 }}
api: {{ socket: {sock} }}
docker: {{ socket: {sock}.docker }}
",
        asn = if name.ends_with('1') { 65101 } else { 65102 },
        peer_asn = if name.ends_with('1') { 65102 } else { 65101 },
        state = dir.join(format!("{name}-state")).display(),
        sock = socket.display(),
    );
    std::fs::write(&config, text).unwrap();
    Host {
        ns: String::new(),
        socket,
        config,
        log: dir.join(format!("{name}.log")),
    }
}

fn start(lab: &mut Lab, host: &Host) {
    lab.daemons
        .push(Latticed::start(&host.ns, &host.config, &host.log));
}

async fn request(host: &Host, req: Request) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match call(&host.socket, &req).await {
            Ok(r) => return r,
            Err(e) if Instant::now() > deadline => panic!(
                "{}: {e}\n{}",
                host.ns,
                std::fs::read_to_string(&host.log).unwrap_or_default()
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn status(host: &Host) -> NodeStatus {
    match request(host, Request::Status).await {
        Reply::Status(s) => s,
        other => panic!("{other:?}"),
    }
}

/// Poll `check` on the host's status for up to 30 s.
async fn wait_status(host: &Host, what: &str, check: impl Fn(&NodeStatus) -> bool) -> NodeStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = status(host).await;
        if check(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{}: never {what}: {s:?}",
            host.ns
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn routes(ns: &str, args: &[&str]) -> String {
    let mut all = vec!["ip", "-n", ns, "route", "show"];
    all.extend_from_slice(args);
    run(&all)
}

async fn wait_route(ns: &str, args: &[&str], present: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while routes(ns, args).trim().is_empty() == present {
        assert!(
            Instant::now() < deadline,
            "{ns}: route {args:?} present={present} never"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// latticed's `/metrics` in namespace `ns`, from a thread that entered it.
fn scrape(ns: &str) -> String {
    testkit::netns::on_thread_in(ns, || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect("127.0.0.1:9469").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    })
}

fn key(c: &str) -> AttachmentKey {
    AttachmentKey {
        container_id: c.into(),
        ifname: "eth0".into(),
    }
}

#[test]
fn blocks_borrowed_announced_collected_given_back_and_conflicts_shown() {
    if !testkit::require_root() {
        return;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario());
}

async fn scenario() {
    let pid = std::process::id();
    let dir = tempfile::tempdir().unwrap();
    let mut lab = Lab::default();
    let (ns1, ns2) = (format!("li-h1-{pid}"), format!("li-h2-{pid}"));
    lab.netns(&ns1);
    lab.netns(&ns2);
    run(&[
        "ip", "-n", &ns1, "link", "add", "up1", "type", "veth", "peer", "name", "up2", "netns",
        &ns2,
    ]);
    run(&[
        "ip",
        "-n",
        &ns1,
        "addr",
        "add",
        "10.0.12.1/30",
        "dev",
        "up1",
    ]);
    run(&[
        "ip",
        "-n",
        &ns2,
        "addr",
        "add",
        "10.0.12.2/30",
        "dev",
        "up2",
    ]);
    for (ns, dev) in [(&ns1, "up1"), (&ns2, "up2")] {
        run(&["ip", "-n", ns, "link", "set", dev, "up"]);
        run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    let mut h1 = write_config(dir.path(), "h1", "10.0.12.1", "10.0.12.2");
    let mut h2 = write_config(dir.path(), "h2", "10.0.12.2", "10.0.12.1");
    h1.ns = ns1.clone();
    h2.ns = ns2.clone();
    start(&mut lab, &h1);
    start(&mut lab, &h2);

    // Both hold 10.244.1.0/30: each sees the other's announcement as a conflict.
    for h in [&h1, &h2] {
        let s = wait_status(h, "shows the conflict", |s| !s.conflicts.is_empty()).await;
        assert_eq!(s.conflicts[0].prefix.to_string(), "10.244.1.0/30");
        assert_eq!(s.blocks_v6.len(), 1);
        let text = api::format::status(&s);
        assert!(text.contains("CONFLICT:    10.244.1.0/30"), "{text}");
    }
    // The metrics say so too (scraped on each namespace's loopback, metrics.listen's default).
    for h in [&h1, &h2] {
        let m = scrape(&h.ns);
        assert!(m.contains("\nlattice_ipam_block_conflicts 1\n"), "{m}");
        assert!(
            m.contains("\nlattice_ipam_block_conflicts_total 1\n"),
            "{m}"
        );
        assert!(
            m.contains("lattice_ipam_addresses_capacity{block=\"10.244.1.0/30\"} 4"),
            "{m}"
        );
    }
    // Not imported: h1's kernel has no BGP route into its own block.
    assert!(routes(&ns1, &["proto", "bgp", "10.244.1.0/30"])
        .trim()
        .is_empty());

    // Eight containers: four fill the primary /30, four more borrow 10.244.1.4/30.
    for i in 1..=9 {
        lab.netns(&format!("li-c{i}-{pid}"));
    }
    let mut v6 = std::collections::HashSet::new();
    for i in 1..=8 {
        let reply = request(
            &h1,
            Request::Attach {
                container_id: format!("c{i}"),
                ifname: "eth0".into(),
                netns: format!("/run/netns/li-c{i}-{pid}").into(),
                mtu: None,
            },
        )
        .await;
        let Reply::Attached(a) = reply else {
            panic!("c{i}: {reply:?}")
        };
        let want = if i <= 4 {
            "10.244.1.0/30"
        } else {
            "10.244.1.4/30"
        };
        assert!(
            want.parse::<ipnet::Ipv4Net>().unwrap().contains(&a.address),
            "c{i}: {a:?}"
        );
        assert!(v6.insert(a.address_v6.expect("dual stack")), "c{i}: {a:?}");
    }
    let s = status(&h1).await;
    assert_eq!(s.blocks.len(), 2, "{s:?}");
    assert_eq!(s.blocks_v6.len(), 2, "{s:?}");
    assert!(routes(&ns1, &["proto", "252", "type", "blackhole"]).contains("10.244.1.4/30"));
    wait_route(&ns2, &["proto", "bgp", "10.244.1.4/30"], true).await;

    // Full: both blocks of each family held, max_blocks_per_host 2.
    let reply = request(
        &h1,
        Request::Attach {
            container_id: "c9".into(),
            ifname: "eth0".into(),
            netns: format!("/run/netns/li-c9-{pid}").into(),
            mtu: None,
        },
    )
    .await;
    match reply {
        Reply::Error(e) => assert_eq!(e.kind, "exhausted", "{e:?}"),
        other => panic!("{other:?}"),
    }

    // GC keeping c1..c4 unwires and releases c5..c8.
    let keep = (1..=4).map(|i| key(&format!("c{i}"))).collect();
    let Reply::Collected { mut released } = request(&h1, Request::Gc { keep }).await else {
        panic!("gc")
    };
    released.sort();
    assert_eq!(
        released,
        (5..=8).map(|i| key(&format!("c{i}"))).collect::<Vec<_>>()
    );
    let links = run(&["ip", "-n", &format!("li-c5-{pid}"), "link"]);
    assert!(!links.contains("eth0"), "c5 still wired: {links}");
    let Reply::Collected { released } = request(
        &h1,
        Request::Gc {
            keep: (1..=4).map(|i| key(&format!("c{i}"))).collect(),
        },
    )
    .await
    else {
        panic!("gc")
    };
    assert!(released.is_empty(), "gc is idempotent");

    // CNI CHECK covers both families of a dual-stack attachment.
    let check = || Request::Check {
        container_id: "c4".into(),
        ifname: "eth0".into(),
        netns: format!("/run/netns/li-c4-{pid}").into(),
    };
    let v6 = match request(&h1, check()).await {
        Reply::Attached(a) => a.address_v6.expect("CHECK reports the IPv6 address"),
        other => panic!("check c4: {other:?}"),
    };
    let c4 = format!("li-c4-{pid}");
    let with_len = format!("{v6}/128");
    run(&[
        "ip", "-n", &c4, "-6", "addr", "del", &with_len, "dev", "eth0",
    ]);
    match request(&h1, check()).await {
        Reply::Error(e) => {
            assert_eq!(e.kind, "mismatch", "{e:?}");
            assert!(e.message.contains(&with_len), "{e:?}");
        }
        other => panic!("check c4 without its IPv6 address: {other:?}"),
    }
    run(&[
        "ip", "-n", &c4, "-6", "addr", "add", &with_len, "dev", "eth0", "nodad",
    ]);
    assert!(matches!(request(&h1, check()).await, Reply::Attached(_)));

    // The borrowed block drained: after the grace period it is given back and withdrawn.
    wait_status(&h1, "gives the borrowed blocks back", |s| {
        s.blocks.len() == 1 && s.blocks_v6.len() == 1
    })
    .await;
    assert!(!routes(&ns1, &["proto", "252", "type", "blackhole"]).contains("10.244.1.4/30"));
    wait_route(&ns2, &["proto", "bgp", "10.244.1.4/30"], false).await;

    // A restart keeps the four allocations at their addresses.
    let before = match request(&h1, Request::List).await {
        Reply::List { attachments } => attachments,
        other => panic!("{other:?}"),
    };
    lab.daemons.remove(0).kill();
    let _ = std::fs::remove_file(&h1.socket);
    start(&mut lab, &h1);
    let after = match request(&h1, Request::List).await {
        Reply::List { attachments } => attachments,
        other => panic!("{other:?}"),
    };
    let addrs = |l: &[api::proto::Attachment]| {
        let mut v: Vec<_> = l
            .iter()
            .map(|a| (a.container_id.clone(), a.address, a.address_v6))
            .collect();
        v.sort();
        v
    };
    assert_eq!(addrs(&after), addrs(&before));
    assert_eq!(after.len(), 4);
}
