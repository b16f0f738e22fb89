//! The remote driver's IPv6: pools and addresses of the host's IPv6 block, paired with IPv4.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::driver::Driver;
use super::tests::{call, Fake};

/// A dual-stack network: IPv6 pool and addresses from the host's IPv6 block, Join with the
/// link-local IPv6 gateway; two endpoints set up interleaved hold each other's IPv6 address,
/// and no key goes back to IPAM while one of its addresses is still in use.
#[test]
fn dual_stack_endpoints_and_crossed_ipv6_addresses() {
    let fake = Fake::dual();
    let released = fake.released.clone();
    let wired_v6 = fake.wired_v6.clone();
    let d = Driver::new(Box::new(fake));
    let p4 = call(&d, "/IpamDriver.RequestPool", json!({"Pool": ""}));
    let p6 = call(
        &d,
        "/IpamDriver.RequestPool",
        json!({"Pool": "", "V6": true}),
    );
    assert_eq!(p6["Pool"], "::/0", "{p6}");
    let (id4, id6) = (
        p4["PoolID"].as_str().unwrap(),
        p6["PoolID"].as_str().unwrap(),
    );
    assert_ne!(id4, id6);
    let gw6 = call(
        &d,
        "/IpamDriver.RequestAddress",
        json!({"PoolID": id6, "Options": {"RequestAddressType": "com.docker.network.gateway"}}),
    );
    assert_eq!(gw6["Address"], "fe80::1/64");
    let net = call(
        &d,
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": "n1", "IPv4Data": [{"Pool": "0.0.0.0/0"}], "IPv6Data": [{"Pool": "::/0"}]}),
    );
    assert_eq!(net, json!({}));
    let v6_before_v4 = call(&d, "/IpamDriver.RequestAddress", json!({"PoolID": id6}));
    assert!(v6_before_v4.get("Error").is_some(), "{v6_before_v4}");

    // A's and B's IPv4 requests, then B's IPv6 request before A's.
    let addr = |pool: &str| {
        call(&d, "/IpamDriver.RequestAddress", json!({"PoolID": pool}))["Address"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a4, b4) = (addr(id4), addr(id4));
    let (b6, a6) = (addr(id6), addr(id6));
    assert_eq!(
        (a4.as_str(), b4.as_str()),
        ("10.244.1.0/32", "10.244.1.1/32")
    );
    assert_eq!((b6.as_str(), a6.as_str()), ("fd00::/128", "fd00::1/128"));
    for (ep, v4, v6) in [("ea", &a4, &a6), ("eb", &b4, &b6)] {
        let r = call(
            &d,
            "/NetworkDriver.CreateEndpoint",
            json!({"NetworkID": "n1", "EndpointID": ep,
                "Interface": {"Address": v4, "AddressIPv6": v6}}),
        );
        assert!(r.get("Err").is_none(), "{r}");
        let join = call(
            &d,
            "/NetworkDriver.Join",
            json!({"NetworkID": "n1", "EndpointID": ep}),
        );
        assert_eq!(join["GatewayIPv6"], "fe80::1", "{join}");
    }
    assert_eq!(
        *wired_v6.lock().unwrap(),
        [
            Some("fd00::1".parse().unwrap()),
            Some("fd00::".parse().unwrap())
        ]
    );

    // A goes: nothing goes back to IPAM (key 0's IPv6 is B's, key 1's IPv4 is B's).
    let release = |a: &str| {
        call(
            &d,
            "/IpamDriver.ReleaseAddress",
            json!({"PoolID": "x", "Address": a}),
        )
    };
    call(
        &d,
        "/NetworkDriver.DeleteEndpoint",
        json!({"EndpointID": "ea"}),
    );
    assert_eq!(release(&a4), json!({}));
    assert_eq!(release(&a6), json!({}));
    assert!(released.lock().unwrap().is_empty());
    // B goes: both keys do.
    call(
        &d,
        "/NetworkDriver.DeleteEndpoint",
        json!({"EndpointID": "eb"}),
    );
    assert_eq!(release(&b4), json!({}));
    assert_eq!(release(&b6), json!({}));
    assert_eq!(*released.lock().unwrap(), ["docker:1", "docker:0"]);
    assert_eq!(release("fe80::1"), json!({}));
}

#[test]
fn ipv6_on_a_host_without_an_ipv6_block_is_refused() {
    let d = Driver::new(Box::new(Fake::default()));
    let p6 = call(
        &d,
        "/IpamDriver.RequestPool",
        json!({"Pool": "", "V6": true}),
    );
    assert!(
        p6["Error"].as_str().unwrap().contains("no IPv6 block"),
        "{p6}"
    );
    let net = call(
        &d,
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": "n1", "IPv4Data": [{"Pool": "0.0.0.0/0"}], "IPv6Data": [{"Pool": "::/0"}]}),
    );
    assert!(net.get("Err").is_some(), "{net}");
}
