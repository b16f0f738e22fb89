//! The remote driver's NetworkDriver calls: a network on this host's blocks in a wiring mode
//! (the host's `dataplane.mode` or `-o lattice.mode`), an endpoint wired for an address the
//! IPAM driver gave (its host side through the backend), Join's answer for its mode.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde_json::{json, Value};

use super::driver::Driver;
use super::endpoints::{Endpoint, Network};
use super::ipam_calls::{parse_v4, parse_v6, subnet_pool_id, ANY_POOL, ANY_POOL_V6};
use super::options::{self, MODE};
use super::proto;
use crate::dataplane::{DataplaneMode, GATEWAY, GATEWAY_V6};

/// Prefix of the interface name Docker gives the moved interface (`eth0`, `eth1`, ...).
const DST_PREFIX: &str = "eth";

/// A failed call: Docker gets `{"Err": message}` (see `dispatch::failure`).
type Answer = Result<Value, String>;

impl Driver {
    pub(super) async fn create_network(&self, r: proto::CreateNetwork) -> Answer {
        if r.network_id.is_empty() {
            return Err("lattice: CreateNetwork without a NetworkID".into());
        }
        let asked = options::parse(r.options.as_ref())?;
        let mut subnet_pools = Vec::new();
        let block = self.backend.block().await?;
        let pools = r.ipv4_data.unwrap_or_default();
        let ours = |p: &str| p == ANY_POOL || p.parse::<Ipv4Net>().ok() == Some(block);
        if pools.is_empty() || pools.iter().any(|d| !ours(&d.pool)) {
            return Err(format!("lattice: the network's pool must be this host's block {block}: create it with `--ipam-driver lattice`"));
        }
        if pools.iter().any(|d| d.pool != ANY_POOL) {
            subnet_pools.push(subnet_pool_id(&block.to_string()));
        }
        let pools_v6 = r.ipv6_data.unwrap_or_default();
        if !pools_v6.is_empty() {
            let Some(b6) = self.backend.block_v6().await? else {
                return Err(
                    "lattice: this host holds no IPv6 block; create the network without --ipv6"
                        .into(),
                );
            };
            let ours = |p: &str| p == ANY_POOL_V6 || p.parse::<Ipv6Net>().ok() == Some(b6);
            if pools_v6.iter().any(|d| !ours(&d.pool)) {
                return Err(format!("lattice: the network's IPv6 pool must be this host's block {b6}: create it with `--ipam-driver lattice`"));
            }
            if pools_v6.iter().any(|d| d.pool != ANY_POOL_V6) {
                subnet_pools.push(subnet_pool_id(&b6.to_string()));
            }
        }
        let host = self.backend.host_mode();
        let (mode, whose) = match asked.mode {
            Some(m) => (m, format!("-o {MODE}={m}")),
            None => (host, format!("{host} (this host's dataplane.mode)")),
        };
        let parent = self.backend.parent();
        if let Some(p) = asked.parent.filter(|p| parent.as_ref() != Some(p)) {
            let have = parent.as_deref().unwrap_or("not set");
            return Err(format!("lattice: -o parent={p}: the lattice driver's ipvlan slaves hang off dataplane.parent ({have}); drop -o parent"));
        }
        // One lock for the check and the record: two networks created at once cannot pick
        // different ipvlan modes for one parent.
        let mut state = self.state.lock().await;
        if mode != DataplaneMode::RoutedVeth {
            let current = options::parent_mode(host, state.networks.values().map(|n| n.mode));
            let name = parent.as_deref().unwrap_or("dataplane.parent");
            options::check_mode(mode, current, name)?;
            self.backend
                .prepare(mode)
                .await
                .map_err(|e| format!("lattice: {whose}: {e}"))?;
        }
        for id in subnet_pools {
            state.pools.entry(id).or_default().network = Some(r.network_id.clone());
        }
        state.networks.insert(r.network_id, Network { mode });
        self.store.save(&state);
        Ok(json!({}))
    }

    pub(super) async fn delete_network(&self, r: proto::NetworkRef) -> Answer {
        let mut state = self.state.lock().await;
        if state.networks.remove(&r.network_id).is_some() {
            self.store.save(&state);
        }
        Ok(json!({}))
    }

    pub(super) async fn create_endpoint(&self, r: proto::CreateEndpoint) -> Answer {
        if r.endpoint_id.is_empty() {
            return Err("lattice: CreateEndpoint without an EndpointID".into());
        }
        let iface = r.interface.unwrap_or_default();
        if iface.address.is_empty() {
            return Err(
                "lattice: CreateEndpoint without an address: use `--ipam-driver lattice`".into(),
            );
        }
        let address = parse_v4(&iface.address)?;
        let v6 = match iface.address_ipv6.as_str() {
            "" => None,
            a => Some(parse_v6(a)?),
        };
        let mode = self.network_mode(&r.network_id).await;
        if mode != DataplaneMode::RoutedVeth && !iface.mac_address.is_empty() {
            return Err(format!("lattice: --mac-address {}: an ipvlan endpoint has its parent's MAC address; drop --mac-address", iface.mac_address));
        }
        let Some(key) = self.backend.key_of(address).await? else {
            return Err(format!("lattice: {address} was not assigned by the lattice IPAM driver; create the network with `--ipam-driver lattice`"));
        };
        if let Some(a) = v6 {
            if self.backend.key_of_v6(a).await?.is_none() {
                return Err(format!("lattice: {a} was not assigned by the lattice IPAM driver; create the network with `--ipam-driver lattice`"));
            }
        }
        let peer = self.backend.wire(mode, &key, address, v6).await?;
        let mut state = self.state.lock().await;
        let endpoint = Endpoint {
            key,
            peer,
            v6,
            address: Some(address),
            mode,
        };
        state.endpoints.insert(r.endpoint_id, endpoint);
        self.store.save(&state);
        Ok(json!({"Interface": {}}))
    }

    pub(super) async fn delete_endpoint(&self, r: proto::EndpointRef) -> Answer {
        let mut state = self.state.lock().await;
        // Unknown (its record lost): ReleaseAddress, which Docker sends next, unwires.
        if let Some(ep) = state.endpoints.get(&r.endpoint_id).cloned() {
            // Forgotten only once unwired, so a failed unwire can be retried.
            self.backend.unwire(&ep.key).await?;
            let addresses = [ep.address.map(IpAddr::V4), ep.v6.map(IpAddr::V6)];
            for a in addresses.into_iter().flatten() {
                self.backend.unreach(a).await?;
            }
            state.endpoints.remove(&r.endpoint_id);
            self.store.save(&state);
        }
        Ok(json!({}))
    }

    pub(super) async fn oper_info(&self, r: proto::EndpointRef) -> Answer {
        let state = self.state.lock().await;
        let value = match state.endpoints.get(&r.endpoint_id) {
            Some(ep) => json!({"lattice.key": ep.key}),
            None => json!({}),
        };
        Ok(json!({ "Value": value }))
    }

    pub(super) async fn join(&self, r: proto::Join) -> Answer {
        let state = self.state.lock().await;
        let Some(ep) = state.endpoints.get(&r.endpoint_id) else {
            return Err(format!(
                "lattice: unknown endpoint {:?} (was it created while latticed was down?)",
                r.endpoint_id
            ));
        };
        if ep.mode != DataplaneMode::RoutedVeth {
            return Ok(join_ipvlan(&ep.peer, ep.v6));
        }
        let mut answer = json!({
            "InterfaceName": {"SrcName": ep.peer, "DstPrefix": DST_PREFIX},
            "Gateway": GATEWAY.to_string(),
            // Connected route to the gateway first, so the default route via it resolves.
            "StaticRoutes": [{"Destination": format!("{GATEWAY}/32"), "RouteType": 1}],
            "DisableGatewayService": true,
        });
        if ep.v6.is_some() {
            // Link-local: on-link by definition, no static route needed.
            answer["GatewayIPv6"] = json!(GATEWAY_V6.to_string());
        }
        Ok(answer)
    }

    /// The mode `network`'s endpoints are wired in; one this driver has no record of was
    /// created by a version that wired every network in routed veth.
    async fn network_mode(&self, network: &str) -> DataplaneMode {
        let state = self.state.lock().await;
        state
            .networks
            .get(network)
            .map_or(DataplaneMode::RoutedVeth, |n| n.mode)
    }
}

/// Join's answer for an ipvlan slave: an L3 slave does no ARP, so no gateway, only connected
/// default routes (what Docker's own ipvlan driver sets in L3 mode).
fn join_ipvlan(peer: &str, v6: Option<Ipv6Addr>) -> Value {
    let mut routes = vec![json!({"Destination": "0.0.0.0/0", "RouteType": 1})];
    if v6.is_some() {
        routes.push(json!({"Destination": "::/0", "RouteType": 1}));
    }
    json!({
        "InterfaceName": {"SrcName": peer, "DstPrefix": DST_PREFIX},
        "StaticRoutes": routes,
        "DisableGatewayService": true,
    })
}
