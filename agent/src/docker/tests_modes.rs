//! Networks wired in the host's `dataplane.mode` or their own `-o lattice.mode`, `--subnet`
//! pools held by one network at a time, and the containers of Docker's own ipvlan driver on
//! Lattice's IPAM (reached through the host slave), against the fake backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::driver::Driver;
use super::endpoints::{EndpointStore, FILE};
use super::tests::{call, Fake};
use crate::dataplane::DataplaneMode::{self, IpvlanL3, RoutedVeth};

const BLOCK: &str = "10.244.1.0/24";

/// A driver on a host in `mode` with `parent`, and the fake's call log.
fn host(mode: DataplaneMode, parent: Option<&str>) -> (Driver, Arc<Mutex<Vec<String>>>) {
    let fake = Fake {
        host_mode: mode,
        parent: parent.map(String::from),
        ..Fake::default()
    };
    let calls = fake.calls.clone();
    (Driver::new(Box::new(fake)), calls)
}

/// The failure in a network driver's (`Err`) or an IPAM driver's (`Error`) answer.
fn err(v: &Value) -> String {
    let e = v.get("Err").or_else(|| v.get("Error"));
    e.and_then(Value::as_str).unwrap_or_default().to_string()
}

fn network(d: &Driver, id: &str, pool: &str, generic: Value) -> Value {
    call(
        d,
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": id, "IPv4Data": [{"Pool": pool, "Gateway": "169.254.1.1/32"}],
            "Options": {"com.docker.network.enable_ipv6": false,
                        "com.docker.network.generic": generic}}),
    )
}

fn pool(d: &Driver, subnet: &str) -> Value {
    call(d, "/IpamDriver.RequestPool", json!({"Pool": subnet}))
}

/// RequestAddress, CreateEndpoint and Join of one container on `net`: the Join answer.
fn container(d: &Driver, pool_id: &str, net: &str, ep: &str) -> Value {
    let addr = call(d, "/IpamDriver.RequestAddress", json!({"PoolID": pool_id}));
    let address = addr["Address"].as_str().expect("an address").to_string();
    let created = call(
        d,
        "/NetworkDriver.CreateEndpoint",
        json!({"NetworkID": net, "EndpointID": ep, "Interface": {"Address": address}}),
    );
    assert!(created.get("Err").is_none(), "{created}");
    call(
        d,
        "/NetworkDriver.Join",
        json!({"NetworkID": net, "EndpointID": ep, "SandboxKey": "/x"}),
    )
}

fn log(calls: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    std::mem::take(&mut *calls.lock().unwrap())
}

#[test]
fn a_network_is_wired_in_the_host_s_mode_unless_it_names_its_own() {
    let (d, calls) = host(IpvlanL3, Some("eth1"));
    let shared = pool(&d, "");
    let id = shared["PoolID"].as_str().unwrap();
    assert_eq!(network(&d, "n1", "0.0.0.0/0", json!({})), json!({}));
    let join = container(&d, id, "n1", "e1");
    // An ipvlan slave: no gateway, connected default routes (Docker's ipvlan L3 answer).
    assert_eq!(join["InterfaceName"]["SrcName"], "peer-docker:0");
    assert!(join.get("Gateway").is_none(), "{join}");
    assert_eq!(
        join["StaticRoutes"],
        json!([{"Destination": "0.0.0.0/0", "RouteType": 1}])
    );
    assert_eq!(join["DisableGatewayService"], true);
    assert_eq!(
        log(&calls),
        ["prepare ipvlan-l3", "wire ipvlan-l3 docker:0"]
    );

    let veth = json!({"lattice.mode": "routed-veth"});
    assert_eq!(network(&d, "n2", "0.0.0.0/0", veth), json!({}));
    let join = container(&d, id, "n2", "e2");
    assert_eq!(join["Gateway"], "169.254.1.1");
    assert_eq!(log(&calls), ["wire routed-veth docker:1"]);

    // DeleteEndpoint: the interface and the ipvlan routes of its address.
    let gone = json!({"NetworkID": "n1", "EndpointID": "e1"});
    assert_eq!(call(&d, "/NetworkDriver.DeleteEndpoint", gone), json!({}));
    assert_eq!(log(&calls), ["unwire docker:0", "unreach 10.244.1.0"]);
    let released = json!({"PoolID": id, "Address": "10.244.1.0"});
    assert_eq!(call(&d, "/IpamDriver.ReleaseAddress", released), json!({}));
    assert_eq!(log(&calls), ["unreach 10.244.1.0", "unwire docker:0"]);
}

#[test]
fn a_routed_veth_host_wires_an_ipvlan_network_on_request_one_mode_per_parent() {
    let (d, calls) = host(RoutedVeth, Some("eth1"));
    let id = pool(&d, "")["PoolID"].as_str().unwrap().to_string();
    assert_eq!(network(&d, "plain", "0.0.0.0/0", json!({})), json!({}));
    let l3s = json!({"lattice.mode": "ipvlan-l3s", "parent": "eth1"});
    assert_eq!(network(&d, "n1", "0.0.0.0/0", l3s), json!({}));
    container(&d, &id, "n1", "e1");
    container(&d, &id, "plain", "e2");
    assert_eq!(
        log(&calls),
        [
            "prepare ipvlan-l3s",
            "wire ipvlan-l3s docker:0",
            "wire routed-veth docker:1"
        ]
    );
    let l3 = network(&d, "n2", "0.0.0.0/0", json!({"lattice.mode": "ipvlan-l3"}));
    assert!(
        err(&l3).contains("eth1 already carries ipvlan-l3s slaves"),
        "{l3}"
    );
    assert!(log(&calls).is_empty(), "refused before touching the host");
    call(
        &d,
        "/NetworkDriver.DeleteNetwork",
        json!({"NetworkID": "n1"}),
    );
    let l3 = network(&d, "n2", "0.0.0.0/0", json!({"lattice.mode": "ipvlan-l3"}));
    assert_eq!(l3, json!({}));
    assert_eq!(log(&calls), ["prepare ipvlan-l3"]);
}

#[test]
fn an_ipvlan_network_the_host_cannot_wire_is_refused_and_nothing_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = EndpointStore::at(dir.path().join(FILE));
    let fake = Fake {
        host_mode: RoutedVeth,
        ..Fake::default()
    };
    let d = Driver::new(Box::new(fake)).with_store(store.clone());
    let id = pool(&d, "")["PoolID"].as_str().unwrap().to_string();
    assert_eq!(network(&d, "ok", "0.0.0.0/0", json!({})), json!({}));
    container(&d, &id, "ok", "e1");
    let ipvlan = json!({"lattice.mode": "ipvlan-l3"});
    let no_parent = network(&d, "n1", "0.0.0.0/0", ipvlan.clone());
    assert!(
        err(&no_parent)
            .starts_with("lattice: -o lattice.mode=ipvlan-l3: it needs dataplane.parent"),
        "{no_parent}"
    );
    for (generic, says) in [
        (json!({"lattice.mode": "macvlan"}), "one of routed-veth"),
        (
            json!({"lattice.mode": "ipvlan-l3", "parent": "eth2"}),
            "-o parent=eth2",
        ),
        (
            json!({"lattice.parent": "eth1"}),
            "unknown option -o lattice.parent",
        ),
    ] {
        let v = network(&d, "n2", "0.0.0.0/0", generic);
        assert!(err(&v).contains(says), "{v}");
    }
    let saved = store.load();
    assert_eq!(saved.networks.keys().collect::<Vec<_>>(), ["ok"]);

    let fake = Fake {
        host_mode: RoutedVeth,
        parent: Some("eth1".into()),
        no_ipvlan: true,
        ..Fake::default()
    };
    let d = Driver::new(Box::new(fake)).with_store(store.clone());
    let v = network(&d, "n1", "0.0.0.0/0", ipvlan);
    assert!(err(&v).contains("this kernel has none"), "{v}");
    // The other network still works, in its own mode, after a restart.
    let join = container(&d, &id, "ok", "e3");
    assert_eq!(join["Gateway"], "169.254.1.1");
    assert_eq!(store.load().networks.len(), 1);
}

#[test]
fn an_ipvlan_endpoint_refuses_a_chosen_mac() {
    let (d, _) = host(IpvlanL3, Some("eth1"));
    let id = pool(&d, "")["PoolID"].as_str().unwrap().to_string();
    network(&d, "n1", "0.0.0.0/0", json!({}));
    let addr = call(&d, "/IpamDriver.RequestAddress", json!({"PoolID": id}));
    let v = call(
        &d,
        "/NetworkDriver.CreateEndpoint",
        json!({"NetworkID": "n1", "EndpointID": "e1",
            "Interface": {"Address": addr["Address"], "MacAddress": "02:42:0a:f4:01:00"}}),
    );
    assert!(err(&v).contains("--mac-address"), "{v}");
}

#[test]
fn a_subnet_is_one_network_s_pool_and_comes_back_with_release_pool() {
    let (d, _) = host(RoutedVeth, None);
    let first = pool(&d, BLOCK);
    assert_eq!(first["Pool"], BLOCK);
    let id = first["PoolID"].as_str().unwrap().to_string();
    for (subnet, says) in [
        (BLOCK, "already the pool of another network"),
        ("10.244.1.0/25", "is not this host's block 10.244.1.0/24"),
        ("10.244.0.0/16", "is not this host's block"),
        ("10.244.2.0/24", "is not this host's block"),
    ] {
        let v = pool(&d, subnet);
        assert!(err(&v).contains(says), "{subnet}: {v}");
    }
    // Networks without --subnet share the block, before and after.
    for _ in 0..2 {
        assert_eq!(pool(&d, "")["Pool"], "0.0.0.0/0");
    }
    // The network's creation failed (Docker's ipvlan driver: no such parent): Docker releases
    // the pool, and the subnet can be asked for again.
    assert_eq!(
        call(&d, "/IpamDriver.ReleasePool", json!({"PoolID": id})),
        json!({})
    );
    assert_eq!(pool(&d, BLOCK)["PoolID"], id);
}

#[test]
fn docker_s_ipvlan_containers_are_routed_through_the_host_slave_lattice_s_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = EndpointStore::at(dir.path().join(FILE));
    let fake = Fake {
        host_mode: IpvlanL3,
        parent: Some("eth1".into()),
        ..Fake::default()
    };
    let calls = fake.calls.clone();
    let d = Driver::new(Box::new(fake)).with_store(store.clone());
    // Docker's ipvlan network: RequestPool with --subnet, and no lattice CreateNetwork.
    let theirs = pool(&d, BLOCK)["PoolID"].as_str().unwrap().to_string();
    let a = call(&d, "/IpamDriver.RequestAddress", json!({"PoolID": theirs}));
    assert_eq!(a["Address"], "10.244.1.0/32");
    assert_eq!(log(&calls), ["reach ipvlan-l3 10.244.1.0"]);
    drop(d);

    // After a restart the pool is still another driver's; docker rm takes the route away.
    let fake = Fake {
        host_mode: IpvlanL3,
        parent: Some("eth1".into()),
        ..Fake::default()
    };
    fake.allocate_now("docker:0", "10.244.1.0");
    let calls = fake.calls.clone();
    let released = fake.released.clone();
    let d = Driver::new(Box::new(fake)).with_store(store.clone());
    let b = call(&d, "/IpamDriver.RequestAddress", json!({"PoolID": theirs}));
    assert_eq!(log(&calls), [format!("reach ipvlan-l3 {}", addr_of(&b))]);
    let rel = json!({"PoolID": theirs, "Address": "10.244.1.0"});
    assert_eq!(call(&d, "/IpamDriver.ReleaseAddress", rel), json!({}));
    assert_eq!(log(&calls), ["unreach 10.244.1.0", "unwire docker:0"]);
    assert_eq!(*released.lock().unwrap(), ["docker:0"]);
    call(&d, "/IpamDriver.ReleasePool", json!({"PoolID": theirs}));

    // A lattice network on --subnet: its CreateNetwork claims the pool, nothing is reached.
    let ours = pool(&d, BLOCK)["PoolID"].as_str().unwrap().to_string();
    assert_eq!(network(&d, "n1", BLOCK, json!({})), json!({}));
    log(&calls);
    container(&d, &ours, "n1", "e1");
    let wired = log(&calls);
    assert!(wired.iter().all(|c| !c.starts_with("reach")), "{wired:?}");
}

#[test]
fn a_routed_veth_host_reaches_docker_s_ipvlan_containers_in_l3() {
    let (d, calls) = host(RoutedVeth, Some("eth1"));
    let theirs = pool(&d, BLOCK)["PoolID"].as_str().unwrap().to_string();
    call(&d, "/IpamDriver.RequestAddress", json!({"PoolID": theirs}));
    assert_eq!(log(&calls), ["reach ipvlan-l3 10.244.1.0"]);
}

#[test]
fn a_dual_stack_ipvlan_endpoint_gets_both_default_routes_and_loses_both_host_routes() {
    let fake = Fake {
        host_mode: IpvlanL3,
        parent: Some("eth1".into()),
        ..Fake::dual()
    };
    let calls = fake.calls.clone();
    let d = Driver::new(Box::new(fake));
    let p4 = pool(&d, "")["PoolID"].as_str().unwrap().to_string();
    let p6 = call(&d, "/IpamDriver.RequestPool", json!({"V6": true}));
    let p6 = p6["PoolID"].as_str().unwrap().to_string();
    let net = json!({"NetworkID": "n1", "IPv4Data": [{"Pool": "0.0.0.0/0"}],
        "IPv6Data": [{"Pool": "::/0"}]});
    assert_eq!(call(&d, "/NetworkDriver.CreateNetwork", net), json!({}));
    let a4 = call(&d, "/IpamDriver.RequestAddress", json!({"PoolID": p4}));
    let a6 = call(&d, "/IpamDriver.RequestAddress", json!({"PoolID": p6}));
    let ep = json!({"NetworkID": "n1", "EndpointID": "e1",
        "Interface": {"Address": a4["Address"], "AddressIPv6": a6["Address"]}});
    assert_eq!(
        call(&d, "/NetworkDriver.CreateEndpoint", ep),
        json!({"Interface": {}})
    );
    let join = call(
        &d,
        "/NetworkDriver.Join",
        json!({"NetworkID": "n1", "EndpointID": "e1"}),
    );
    assert_eq!(
        join["StaticRoutes"],
        json!([{"Destination": "0.0.0.0/0", "RouteType": 1},
               {"Destination": "::/0", "RouteType": 1}])
    );
    assert!(join.get("GatewayIPv6").is_none(), "{join}");
    log(&calls);
    let gone = json!({"NetworkID": "n1", "EndpointID": "e1"});
    call(&d, "/NetworkDriver.DeleteEndpoint", gone);
    assert_eq!(
        log(&calls),
        ["unwire docker:0", "unreach 10.244.1.0", "unreach fd00::"]
    );
}

fn addr_of(v: &Value) -> String {
    let a = v["Address"].as_str().unwrap();
    a.split('/').next().unwrap().to_string()
}
