#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only: bad `docker network create` input against a real latticed on the real kernel,
//! driven through its plugin socket with the calls dockerd makes (libnetwork's remote driver
//! protocol). An ipvlan network on a parent that does not exist, on a kernel without ipvlan
//! (this machine's), a `--subnet` outside the host's block and a second network on the same
//! pool each get a clear `Err`; nothing is half-created (no network kept, no interface left in
//! the host) and the network that was there before still takes containers.
//!
//! The same refusals through a real dockerd, on a kernel with ipvlan: `make test-ipvlan`
//! (scripts/ipvlan-vm/docker.sh).

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use api::client::call;
use api::proto::{Reply, Request};
use common::{eventually, ns, Latticed, Namespaces};
use serde_json::{json, Value};

const PATIENCE: Duration = Duration::from_secs(20);
const BLOCK: &str = "10.244.7.0/24";

/// One plugin call over the socket, as dockerd makes it; the JSON answer.
fn plugin(socket: &Path, path: &str, body: &Value) -> Value {
    let body = body.to_string();
    let mut s = UnixStream::connect(socket).expect("the plugin socket answers");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: plugin\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (_, json) = out.split_once("\r\n\r\n").expect("an HTTP answer");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{path}: {e}: {out}"))
}

fn err(v: &Value) -> String {
    let e = v.get("Err").or_else(|| v.get("Error"));
    e.and_then(Value::as_str).unwrap_or_default().to_string()
}

/// `CreateNetwork` as libnetwork sends it for `docker network create -d lattice -o ...`.
fn create_network(socket: &Path, id: &str, pool: &str, generic: Value) -> Value {
    plugin(
        socket,
        "/NetworkDriver.CreateNetwork",
        &json!({"NetworkID": id,
            "IPv4Data": [{"AddressSpace": "lattice", "Pool": pool, "Gateway": "169.254.1.1/32"}],
            "Options": {"com.docker.network.enable_ipv6": false,
                        "com.docker.network.generic": generic}}),
    )
}

fn request_pool(socket: &Path, subnet: &str) -> Value {
    plugin(
        socket,
        "/IpamDriver.RequestPool",
        &json!({"AddressSpace": "lattice", "Pool": subnet, "Options": {}, "V6": false}),
    )
}

/// Whether this kernel makes ipvlan links (the project's machines do not; a CI kernel might).
fn kernel_has_ipvlan(ns_name: &str) -> bool {
    let probe = format!("ltprobe{}", std::process::id() % 100_000);
    let made = std::process::Command::new("ip")
        .args(["-n", ns_name, "link", "add", &probe, "link", "eth1", "type"])
        .args(["ipvlan", "mode", "l3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if made {
        ns(ns_name, &["ip", "link", "del", &probe]);
    }
    made
}

fn links(ns_name: &str) -> String {
    ns(ns_name, &["ip", "-o", "link"])
}

/// The names of the namespace's interfaces.
fn link_names(ns_name: &str) -> Vec<String> {
    links(ns_name)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

#[test]
fn bad_network_input_is_refused_whole_and_leaves_the_other_networks_alone() {
    if !testkit::require_root() {
        return;
    }
    let name = format!("lt-dbi-{}", std::process::id());
    let _ns = Namespaces::create(std::slice::from_ref(&name));
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("plugins/lattice.sock");
    let api = dir.path().join("api.sock");
    let config = dir.path().join("h.yaml");
    // A routed-veth host whose dataplane.parent does not exist yet.
    std::fs::write(
        &config,
        format!(
            "node: {{name: h, asn: 65101, router_id: 10.0.0.1}}\n\
             cluster: {{cidr: 10.244.0.0/16, block_prefix_len: 24}}\n\
             ipam: {{datastore: local, state_dir: {}, block: {BLOCK}}}\n\
             dataplane: {{mode: routed-veth, parent: eth1}}\n\
             bgp: {{listen: {{address: 127.0.0.1, port: 179}}, peers: []}}\n\
             api: {{socket: {}}}\n\
             docker: {{socket: {}}}\n",
            dir.path().join("state").display(),
            api.display(),
            socket.display(),
        ),
    )
    .unwrap();
    let l = Latticed::start(&name, &config, &dir.path().join("h.log"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let up = eventually(PATIENCE, || {
        socket.exists()
            && matches!(
                rt.block_on(call(&api, &Request::Status)),
                Ok(Reply::Status(_))
            )
    });
    assert!(up, "latticed did not come up:\n{}", l.log_text());

    // The network that must stay untouched: the lattice driver's, the host's block shared.
    let shared = request_pool(&socket, "");
    let shared_id = shared["PoolID"].as_str().expect("a pool").to_string();
    assert_eq!(
        create_network(&socket, "good", "0.0.0.0/0", json!({})),
        json!({})
    );

    // -o lattice.mode=ipvlan-l3 on a parent that does not exist.
    let ipvlan = json!({"lattice.mode": "ipvlan-l3"});
    let v = create_network(&socket, "nopar", "0.0.0.0/0", ipvlan.clone());
    assert!(
        err(&v).contains("dataplane.parent \"eth1\" does not exist"),
        "{v}"
    );
    // The parent appears; on a kernel without ipvlan the network is still refused, saying so.
    ns(
        &name,
        &[
            "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
        ],
    );
    ns(&name, &["ip", "link", "set", "eth1", "up"]);
    let before = link_names(&name);
    let v = create_network(&socket, "noipvl", "0.0.0.0/0", ipvlan);
    if kernel_has_ipvlan(&name) {
        assert_eq!(v, json!({}), "a kernel with ipvlan takes the network");
    } else {
        assert!(
            err(&v).contains("it needs ipvlan, and this kernel has none"),
            "{v}"
        );
        assert!(
            !links(&name).contains("latipvl0"),
            "a host slave was left behind:\n{}",
            links(&name)
        );
    }
    // Another -o parent than dataplane.parent, and a mode that does not exist.
    let v = create_network(
        &socket,
        "other",
        "0.0.0.0/0",
        json!({"lattice.mode": "ipvlan-l3", "parent": "eth9"}),
    );
    assert!(err(&v).contains("-o parent=eth9"), "{v}");
    let v = create_network(&socket, "bogus", "0.0.0.0/0", json!({"lattice.mode": "l2"}));
    assert!(
        err(&v).contains("one of routed-veth, ipvlan-l3, ipvlan-l3s"),
        "{v}"
    );

    // A subnet outside the host's block, and the block asked for by two networks.
    for outside in [
        "10.244.8.0/24",
        "10.244.7.0/25",
        "10.244.0.0/16",
        "192.168.120.0/24",
    ] {
        let v = request_pool(&socket, outside);
        assert!(
            err(&v).contains(&format!("{outside} is not this host's block {BLOCK}")),
            "{outside}: {v}"
        );
    }
    let first = request_pool(&socket, BLOCK);
    let first_id = first["PoolID"].as_str().expect("the block as a pool");
    assert_eq!(first["Pool"], BLOCK);
    let v = request_pool(&socket, BLOCK);
    assert!(
        err(&v).contains("is already the pool of another network on this host"),
        "{v}"
    );
    // Released (Docker does so when a network goes, or its creation failed): free again.
    let released = plugin(
        &socket,
        "/IpamDriver.ReleasePool",
        &json!({"PoolID": first_id}),
    );
    assert_eq!(released, json!({}));
    let again = request_pool(&socket, BLOCK);
    assert_eq!(again["Pool"], BLOCK, "{again}");

    // Nothing half-created: no interface, and the good network still takes a container.
    assert_eq!(link_names(&name), before, "interfaces were left behind");
    let addr = plugin(
        &socket,
        "/IpamDriver.RequestAddress",
        &json!({"PoolID": shared_id, "Address": "", "Options": {}}),
    );
    let address = addr["Address"].as_str().expect("an address").to_string();
    assert!(address.starts_with("10.244.7."), "{addr}");
    let created = plugin(
        &socket,
        "/NetworkDriver.CreateEndpoint",
        &json!({"NetworkID": "good", "EndpointID": "e1", "Interface": {"Address": address}}),
    );
    assert!(err(&created).is_empty(), "{created}");
    let joined = plugin(
        &socket,
        "/NetworkDriver.Join",
        &json!({"NetworkID": "good", "EndpointID": "e1", "SandboxKey": "/x"}),
    );
    assert_eq!(joined["Gateway"], "169.254.1.1", "{joined}");
    // No refused network reached the driver's record (kept in ipam.state_dir), and the good
    // one's endpoint goes cleanly.
    let saved = std::fs::read_to_string(dir.path().join("state/docker-endpoints.json")).unwrap();
    let saved: Value = serde_json::from_str(&saved).unwrap();
    let networks: Vec<&String> = saved["networks"].as_object().unwrap().keys().collect();
    assert_eq!(networks, ["good"], "{saved}");
    for (path, body) in [
        (
            "/NetworkDriver.Leave",
            json!({"NetworkID": "good", "EndpointID": "e1"}),
        ),
        (
            "/NetworkDriver.DeleteEndpoint",
            json!({"NetworkID": "good", "EndpointID": "e1"}),
        ),
        ("/NetworkDriver.DeleteNetwork", json!({"NetworkID": "good"})),
    ] {
        let v = plugin(&socket, path, &body);
        assert!(err(&v).is_empty(), "{path}: {v}");
    }
}
