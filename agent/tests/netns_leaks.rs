#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only: leaked attachments (issue 20). A container whose namespace is deleted without a
//! DEL keeps its address only for `ipam.leak_grace_period`; a live one is never touched; a leak
//! that happened while latticed was down (so the restarted latticed has no namespace on record
//! for it) is found by its missing host veth; a late DEL still succeeds. Everything lives in
//! namespaces this test creates and deletes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use api::proto::{Reply, Request};
use common::{eventually, netns_path, run, Namespaces};

const PATIENCE: Duration = Duration::from_secs(30);

/// latticed in a namespace; killed when dropped.
struct Latticed(Option<Child>);

impl Latticed {
    fn start(ns: &str, config: &Path, log: &Path) -> Latticed {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_latticed"), "-c"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Latticed(Some(child))
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Latticed {
    fn drop(&mut self) {
        self.kill();
    }
}

fn call(socket: &Path, req: &Request) -> Option<Reply> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(api::client::call(socket, req)).ok()
}

fn held(socket: &Path) -> Vec<String> {
    match call(socket, &Request::List) {
        Some(Reply::List { attachments }) => {
            attachments.into_iter().map(|a| a.container_id).collect()
        }
        other => panic!("list: {other:?}"),
    }
}

fn attach(socket: &Path, id: &str, netns: PathBuf) -> String {
    let req = Request::Attach {
        container_id: id.into(),
        ifname: "eth0".into(),
        netns,
        mtu: None,
    };
    match call(socket, &req) {
        Some(Reply::Attached(a)) => a.host_ifname,
        other => panic!("attach {id}: {other:?}"),
    }
}

#[test]
fn a_container_gone_without_del_is_released_after_the_grace_period_only() {
    if !testkit::require_root() {
        return;
    }
    let pid = std::process::id();
    let [host, c1, c2, c3] = ["h", "c1", "c2", "c3"].map(|n| format!("lk-{n}-{pid}"));
    let mut ns = Namespaces::create(&[host.clone(), c1.clone(), c2.clone(), c3.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let socket = d.join("lattice.sock");
    let config = d.join("latticed.yaml");
    std::fs::write(
        &config,
        format!(
            "node: {{name: h, asn: 65101, router_id: 10.0.12.1}}\n\
             cluster: {{cidr: 10.244.0.0/16, block_prefix_len: 24}}\n\
             ipam: {{datastore: local, state_dir: {state}, block: 10.244.1.0/24, leak_grace_period: 2}}\n\
             bgp:\n  peers:\n    - {{address: 10.0.12.2, asn: 65102}}\n\
             api: {{socket: {sock}}}\n\
             docker: {{enabled: false}}\n",
            state = d.join("state").display(),
            sock = socket.display(),
        ),
    )
    .unwrap();
    let log = d.join("latticed.log");
    let mut latticed = Latticed::start(&host, &config, &log);
    assert!(
        eventually(PATIENCE, || call(&socket, &Request::Status).is_some()),
        "latticed did not start:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let veth1 = attach(&socket, "c1", netns_path(&c1));
    attach(&socket, "c2", netns_path(&c2));

    // c1's namespace goes, no DEL comes: released after the grace period, logged once.
    // Dropping its guard deletes the namespace.
    ns.0.retain(|n| n.name() != c1);
    assert!(
        held(&socket).contains(&"c1".to_string()),
        "released at once"
    );
    assert!(
        eventually(PATIENCE, || !held(&socket).contains(&"c1".to_string())),
        "c1 was never released:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let links = run(&["ip", "-n", &host, "-o", "link"]);
    assert!(!links.contains(&veth1), "{veth1} left:\n{links}");
    // c2's namespace lives: it stays, however long.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(held(&socket), vec!["c2".to_string()]);
    // A DEL that comes late still succeeds.
    let del = Request::Detach {
        container_id: "c1".into(),
        ifname: "eth0".into(),
    };
    assert!(matches!(call(&socket, &del), Some(Reply::Detached { .. })));

    // A leak while latticed is down: the restarted latticed forgets the gone container's
    // record at its first resync, and still finds the leak by the missing host veth.
    attach(&socket, "c3", netns_path(&c3));
    latticed.kill();
    // Dropping its guard deletes the namespace.
    ns.0.retain(|n| n.name() != c3);
    let mut latticed = Latticed::start(&host, &config, &log);
    assert!(eventually(PATIENCE, || call(&socket, &Request::Status).is_some()));
    assert!(
        eventually(PATIENCE, || held(&socket) == vec!["c2".to_string()]),
        "c3 was never released: {:?}\n{}",
        held(&socket),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("released a leaked attachment").count(),
        2,
        "one line per leak:\n{text}"
    );
    latticed.kill();
}
