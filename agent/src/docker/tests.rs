//! The remote driver's protocol logic against a fake backend (no root, no HTTP).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use ipnet::{Ipv4Net, Ipv6Net};
use serde_json::{json, Value};

use super::backend::Backend;
use super::driver::Driver;
use crate::dataplane::DataplaneMode;

/// Addresses handed out from 10.244.1.0/24 in order; veths recorded by key.
#[derive(Default)]
pub(super) struct Fake {
    pub(super) next: AtomicU32,
    pub(super) keys: Mutex<HashMap<String, Ipv4Addr>>,
    /// Dual stack: every key gets fd00::N with its 10.244.1.N.
    pub(super) dual: bool,
    pub(super) keys_v6: Mutex<HashMap<String, Ipv6Addr>>,
    /// Released keys, in order.
    pub(super) released: std::sync::Arc<Mutex<Vec<String>>>,
    pub(super) wired: Mutex<Vec<String>>,
    /// The IPv6 address each wire call routed.
    pub(super) wired_v6: std::sync::Arc<Mutex<Vec<Option<Ipv6Addr>>>>,
    /// Keys unwired, in order, for a test to read after the driver owns the fake.
    pub(super) unwired: std::sync::Arc<Mutex<Vec<String>>>,
    /// `dataplane.mode`, `dataplane.parent`, and a kernel without ipvlan.
    pub(super) host_mode: DataplaneMode,
    pub(super) parent: Option<String>,
    pub(super) no_ipvlan: bool,
    /// Every wiring call, in order: `prepare MODE`, `wire MODE KEY`, `unwire KEY`,
    /// `reach MODE ADDR`, `unreach ADDR`.
    pub(super) calls: std::sync::Arc<Mutex<Vec<String>>>,
}

impl Fake {
    /// A dual-stack fake.
    pub(super) fn dual() -> Self {
        Fake {
            dual: true,
            ..Fake::default()
        }
    }
}

#[async_trait]
impl Backend for Fake {
    async fn block(&self) -> Result<Ipv4Net, String> {
        Ok("10.244.1.0/24".parse().unwrap())
    }
    fn fresh_key(&self) -> String {
        format!("docker:{}", self.next.load(Ordering::SeqCst))
    }
    async fn block_v6(&self) -> Result<Option<Ipv6Net>, String> {
        Ok(self.dual.then(|| "fd00::/120".parse().unwrap()))
    }
    async fn allocate(&self, key: &str) -> Result<(Ipv4Addr, Option<Ipv6Addr>), String> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let a = Ipv4Addr::new(10, 244, 1, u8::try_from(n).unwrap());
        self.keys.lock().unwrap().insert(key.into(), a);
        let v6 = self
            .dual
            .then(|| Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::try_from(n).unwrap()));
        if let Some(v6) = v6 {
            self.keys_v6.lock().unwrap().insert(key.into(), v6);
        }
        Ok((a, v6))
    }
    async fn key_of_v6(&self, address: Ipv6Addr) -> Result<Option<String>, String> {
        Ok(self
            .keys_v6
            .lock()
            .unwrap()
            .iter()
            .find(|(_, a)| **a == address)
            .map(|(k, _)| k.clone()))
    }
    async fn key_of(&self, address: Ipv4Addr) -> Result<Option<String>, String> {
        Ok(self
            .keys
            .lock()
            .unwrap()
            .iter()
            .find(|(_, a)| **a == address)
            .map(|(k, _)| k.clone()))
    }
    async fn release(&self, key: &str) -> Result<(), String> {
        self.keys.lock().unwrap().remove(key);
        self.keys_v6.lock().unwrap().remove(key);
        self.released.lock().unwrap().push(key.into());
        self.wired.lock().unwrap().retain(|k| k != key);
        Ok(())
    }
    fn host_mode(&self) -> DataplaneMode {
        self.host_mode
    }
    fn parent(&self) -> Option<String> {
        self.parent.clone()
    }
    async fn prepare(&self, mode: DataplaneMode) -> Result<(), String> {
        self.log(format!("prepare {mode}"));
        if mode == DataplaneMode::RoutedVeth {
            Ok(())
        } else if self.parent.is_none() {
            Err("it needs dataplane.parent".into())
        } else if self.no_ipvlan {
            Err("it needs ipvlan, and this kernel has none".into())
        } else {
            Ok(())
        }
    }
    async fn wire(
        &self,
        mode: DataplaneMode,
        key: &str,
        _address: Ipv4Addr,
        address_v6: Option<Ipv6Addr>,
    ) -> Result<String, String> {
        self.log(format!("wire {mode} {key}"));
        self.wired.lock().unwrap().push(key.into());
        self.wired_v6.lock().unwrap().push(address_v6);
        Ok(format!("peer-{key}"))
    }
    async fn unwire(&self, key: &str) -> Result<(), String> {
        self.log(format!("unwire {key}"));
        self.wired.lock().unwrap().retain(|k| k != key);
        self.unwired.lock().unwrap().push(key.into());
        Ok(())
    }
    async fn reach(&self, mode: DataplaneMode, address: IpAddr) -> Result<(), String> {
        self.log(format!("reach {mode} {address}"));
        Ok(())
    }
    async fn unreach(&self, address: IpAddr) -> Result<(), String> {
        self.log(format!("unreach {address}"));
        Ok(())
    }
}

impl Fake {
    /// `key` holds `address` already (IPAM kept it across a restart).
    pub(super) fn allocate_now(&self, key: &str, address: &str) {
        let a = address.parse().unwrap();
        self.keys.lock().unwrap().insert(key.into(), a);
        self.next.fetch_add(1, Ordering::SeqCst);
    }

    fn log(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

pub(super) fn call(d: &Driver, path: &str, body: Value) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(d.dispatch(path, body.to_string().as_bytes()))
        .unwrap()
}

#[test]
fn activate_and_capabilities() {
    let d = Driver::new(Box::new(Fake::default()));
    let v = call(&d, "/Plugin.Activate", Value::Null);
    assert_eq!(v["Implements"], json!(["NetworkDriver", "IpamDriver"]));
    assert_eq!(
        call(&d, "/NetworkDriver.GetCapabilities", json!({}))["Scope"],
        "local"
    );
    assert_eq!(
        call(&d, "/IpamDriver.GetCapabilities", json!({}))["RequiresMACAddress"],
        false
    );
    let spaces = call(&d, "/IpamDriver.GetDefaultAddressSpaces", json!({}));
    assert_eq!(spaces["LocalDefaultAddressSpace"], "lattice");
}

#[test]
fn a_container_lifecycle() {
    let fake = Box::new(Fake::default());
    let d = Driver::new(fake);
    let pool = call(
        &d,
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "lattice", "Pool": "", "SubPool": "", "V6": false}),
    );
    assert_eq!(
        pool["Pool"], "0.0.0.0/0",
        "no overlap check against the host's own routes"
    );
    let chosen = call(
        &d,
        "/IpamDriver.RequestPool",
        json!({"Pool": "10.244.1.0/24"}),
    );
    assert_eq!(chosen["Pool"], "10.244.1.0/24");
    let pool_id = pool["PoolID"].as_str().unwrap().to_string();
    let gw = call(
        &d,
        "/IpamDriver.RequestAddress",
        json!({"PoolID": pool_id, "Address": "",
        "Options": {"RequestAddressType": "com.docker.network.gateway"}}),
    );
    assert_eq!(gw["Address"], "169.254.1.1/32");
    let net = call(
        &d,
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": "n1",
        "IPv4Data": [{"AddressSpace": "lattice", "Pool": "0.0.0.0/0", "Gateway": "169.254.1.1/32"}]}),
    );
    assert_eq!(net, json!({}));
    let addr = call(
        &d,
        "/IpamDriver.RequestAddress",
        json!({"PoolID": pool_id, "Address": "", "Options": {}}),
    );
    assert_eq!(addr["Address"], "10.244.1.0/32");
    let ep = call(
        &d,
        "/NetworkDriver.CreateEndpoint",
        json!({"NetworkID": "n1", "EndpointID": "e1",
        "Interface": {"Address": "10.244.1.0/32", "AddressIPv6": "", "MacAddress": ""}, "Options": {}}),
    );
    assert!(ep.get("Err").is_none(), "{ep}");
    let join = call(
        &d,
        "/NetworkDriver.Join",
        json!({"NetworkID": "n1", "EndpointID": "e1", "SandboxKey": "/var/run/docker/netns/x"}),
    );
    assert_eq!(join["InterfaceName"]["SrcName"], "peer-docker:0");
    assert_eq!(join["InterfaceName"]["DstPrefix"], "eth");
    assert_eq!(join["Gateway"], "169.254.1.1");
    assert_eq!(join["StaticRoutes"][0]["RouteType"], 1);
    assert!(call(
        &d,
        "/NetworkDriver.EndpointOperInfo",
        json!({"NetworkID": "n1", "EndpointID": "e1"})
    )["Value"]
        .is_object());
    assert_eq!(
        call(
            &d,
            "/NetworkDriver.Leave",
            json!({"NetworkID": "n1", "EndpointID": "e1"})
        ),
        json!({})
    );
    assert_eq!(
        call(
            &d,
            "/NetworkDriver.DeleteEndpoint",
            json!({"NetworkID": "n1", "EndpointID": "e1"})
        ),
        json!({})
    );
    assert_eq!(
        call(
            &d,
            "/IpamDriver.ReleaseAddress",
            json!({"PoolID": pool_id, "Address": "10.244.1.0"})
        ),
        json!({})
    );
    assert_eq!(
        call(
            &d,
            "/IpamDriver.ReleaseAddress",
            json!({"PoolID": pool_id, "Address": "169.254.1.1"})
        ),
        json!({})
    );
    assert_eq!(
        call(
            &d,
            "/NetworkDriver.DeleteNetwork",
            json!({"NetworkID": "n1"})
        ),
        json!({})
    );
    assert_eq!(
        call(&d, "/IpamDriver.ReleasePool", json!({"PoolID": pool_id})),
        json!({})
    );
    // Repeating the deletes is harmless.
    assert_eq!(
        call(
            &d,
            "/NetworkDriver.DeleteEndpoint",
            json!({"NetworkID": "n1", "EndpointID": "e1"})
        ),
        json!({})
    );
    assert_eq!(
        call(
            &d,
            "/IpamDriver.ReleaseAddress",
            json!({"PoolID": pool_id, "Address": "10.244.1.0"})
        ),
        json!({})
    );
}

#[test]
fn wrong_requests_get_err_answers() {
    let d = Driver::new(Box::new(Fake::default()));
    // libnetwork reads an IPAM failure from `Error`, a network driver's from `Err`.
    let err = |path: &str, v: Value| {
        let (field, other) = match path.starts_with("/IpamDriver.") {
            true => ("Error", "Err"),
            false => ("Err", "Error"),
        };
        assert!(v.get(other).is_none(), "{path}: {v}");
        v[field].as_str().map(String::from)
    };
    for (path, body) in [
        ("/IpamDriver.RequestPool", json!({"V6": true})),
        ("/IpamDriver.RequestPool", json!({"Pool": "192.168.0.0/16"})),
        ("/IpamDriver.RequestPool", json!({"AddressSpace": "other"})),
        ("/IpamDriver.RequestAddress", json!({"PoolID": "nope"})),
        (
            "/IpamDriver.RequestAddress",
            json!({"PoolID": "lattice-10.244.1.0/24", "Address": "10.244.1.9"}),
        ),
        ("/IpamDriver.ReleaseAddress", json!({"Address": "bogus"})),
        (
            "/NetworkDriver.CreateNetwork",
            json!({"NetworkID": "n", "IPv4Data": [{"Pool": "172.17.0.0/16"}]}),
        ),
        ("/NetworkDriver.CreateNetwork", json!({"NetworkID": "n"})),
        ("/NetworkDriver.CreateNetwork", json!({})),
        (
            "/NetworkDriver.CreateEndpoint",
            json!({"EndpointID": "e", "Interface": {"Address": "10.244.1.77/32"}}),
        ),
        ("/NetworkDriver.CreateEndpoint", json!({"EndpointID": "e"})),
        ("/NetworkDriver.Join", json!({"EndpointID": "unknown"})),
        ("/NetworkDriver.CreateNetwork", json!({"NetworkID": 5})),
    ] {
        let v = call(&d, path, body.clone());
        let e = err(path, v.clone());
        assert!(
            e.as_deref().is_some_and(|e| e.starts_with("lattice:")),
            "{path} {body}: {v}"
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(rt
        .block_on(d.dispatch("/NetworkDriver.Frobnicate", b"{}"))
        .is_none());
    let v = rt
        .block_on(d.dispatch("/NetworkDriver.CreateEndpoint", b"{not json"))
        .unwrap();
    assert!(v["Err"].as_str().unwrap().contains("malformed"));
}

proptest::proptest! {
    /// Any body on any known path gets a JSON answer, never a panic.
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256), i in 0usize..19) {
        let paths = ["/Plugin.Activate", "/NetworkDriver.GetCapabilities", "/NetworkDriver.CreateNetwork",
            "/NetworkDriver.DeleteNetwork", "/NetworkDriver.CreateEndpoint", "/NetworkDriver.EndpointOperInfo",
            "/NetworkDriver.DeleteEndpoint", "/NetworkDriver.Join", "/NetworkDriver.Leave", "/NetworkDriver.DiscoverNew",
            "/NetworkDriver.DiscoverDelete", "/NetworkDriver.ProgramExternalConnectivity",
            "/NetworkDriver.RevokeExternalConnectivity", "/IpamDriver.GetCapabilities",
            "/IpamDriver.GetDefaultAddressSpaces", "/IpamDriver.RequestPool", "/IpamDriver.RequestAddress",
            "/IpamDriver.ReleaseAddress", "/IpamDriver.ReleasePool"];
        let d = Driver::new(Box::new(Fake::default()));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let v = rt.block_on(d.dispatch(paths[i], &body));
        proptest::prop_assert!(v.is_some());
    }
}

/// A restarted latticed (a new driver over the same store) still joins, describes and deletes
/// the endpoints the previous one created, and releases nothing by itself.
#[test]
fn endpoints_outlive_a_restart() {
    use super::endpoints::{EndpointStore, FILE};
    let dir = tempfile::tempdir().unwrap();
    let store = EndpointStore::at(dir.path().join(FILE));
    let d = Driver::new(Box::new(Fake::default())).with_store(store.clone());
    let pool = call(&d, "/IpamDriver.RequestPool", json!({"Pool": ""}));
    let pool_id = pool["PoolID"].as_str().unwrap().to_string();
    let addr = call(
        &d,
        "/IpamDriver.RequestAddress",
        json!({"PoolID": pool_id, "Address": ""}),
    );
    assert_eq!(addr["Address"], "10.244.1.0/32");
    let ep = call(
        &d,
        "/NetworkDriver.CreateEndpoint",
        json!({"NetworkID": "n1", "EndpointID": "e1", "Interface": {"Address": "10.244.1.0/32"}}),
    );
    assert!(ep.get("Err").is_none(), "{ep}");
    drop(d);

    // The restarted one: its IPAM still holds the key (as latticed's does, on disk).
    let after = Fake::default();
    after
        .keys
        .lock()
        .unwrap()
        .insert("docker:0".into(), Ipv4Addr::new(10, 244, 1, 0));
    let unwired = after.unwired.clone();
    let d = Driver::new(Box::new(after)).with_store(store);
    let ep = json!({"NetworkID": "n1", "EndpointID": "e1"});
    let join = call(&d, "/NetworkDriver.Join", ep.clone());
    assert_eq!(join["InterfaceName"]["SrcName"], "peer-docker:0", "{join}");
    let info = call(&d, "/NetworkDriver.EndpointOperInfo", ep.clone());
    assert_eq!(info["Value"]["lattice.key"], "docker:0");
    assert_eq!(call(&d, "/NetworkDriver.Leave", ep.clone()), json!({}));
    assert!(unwired.lock().unwrap().is_empty(), "Leave unwires nothing");
    assert_eq!(
        call(&d, "/NetworkDriver.DeleteEndpoint", ep.clone()),
        json!({})
    );
    assert_eq!(*unwired.lock().unwrap(), ["docker:0"]);
    // Forgotten once deleted, by this driver and the next.
    let again = call(&d, "/NetworkDriver.Join", ep.clone());
    assert!(again.get("Err").is_some(), "{again}");
    let next =
        Driver::new(Box::new(Fake::default())).with_store(EndpointStore::at(dir.path().join(FILE)));
    assert!(call(&next, "/NetworkDriver.Join", ep).get("Err").is_some());
}
