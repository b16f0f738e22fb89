//! The remote driver's NetworkDriver calls: a network on this host's blocks, an endpoint wired
//! for an address the IPAM driver gave (its host side through the backend), Join's answer
//! with the link-local gateway.

use ipnet::{Ipv4Net, Ipv6Net};
use serde_json::{json, Value};

use super::driver::Driver;
use super::endpoints::Endpoint;
use super::ipam_calls::{parse_v4, parse_v6, ANY_POOL, ANY_POOL_V6};
use super::proto;
use crate::dataplane::{GATEWAY, GATEWAY_V6};

/// Prefix of the interface name Docker gives the moved interface (`eth0`, `eth1`, ...).
const DST_PREFIX: &str = "eth";

/// A failed call: Docker gets `{"Err": message}`.
type Answer = Result<Value, String>;

impl Driver {
    pub(super) async fn create_network(&self, r: proto::CreateNetwork) -> Answer {
        if r.network_id.is_empty() {
            return Err("lattice: CreateNetwork without a NetworkID".into());
        }
        let block = self.backend.block().await?;
        let pools = r.ipv4_data.unwrap_or_default();
        let ours = |p: &str| p == ANY_POOL || p.parse::<Ipv4Net>().ok() == Some(block);
        if pools.is_empty() || pools.iter().any(|d| !ours(&d.pool)) {
            return Err(format!("lattice: the network's pool must be this host's block {block}: create it with `--ipam-driver lattice`"));
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
        }
        self.networks.lock().await.insert(r.network_id);
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
        let Some(key) = self.backend.key_of(address).await? else {
            return Err(format!("lattice: {address} was not assigned by the lattice IPAM driver; create the network with `--ipam-driver lattice`"));
        };
        if let Some(a) = v6 {
            if self.backend.key_of_v6(a).await?.is_none() {
                return Err(format!("lattice: {a} was not assigned by the lattice IPAM driver; create the network with `--ipam-driver lattice`"));
            }
        }
        let peer = self.backend.wire(&key, address, v6).await?;
        let mut state = self.state.lock().await;
        state
            .endpoints
            .insert(r.endpoint_id, Endpoint { key, peer, v6 });
        self.store.save(&state);
        Ok(json!({"Interface": {}}))
    }

    pub(super) async fn delete_endpoint(&self, r: proto::EndpointRef) -> Answer {
        let mut state = self.state.lock().await;
        // Unknown (its record lost): ReleaseAddress, which Docker sends next, unwires.
        if let Some(ep) = state.endpoints.get(&r.endpoint_id).cloned() {
            // Forgotten only once unwired, so a failed unwire can be retried.
            self.backend.unwire(&ep.key).await?;
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
}
