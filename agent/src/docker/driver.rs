//! The remote driver's logic: each Docker call onto a [`Backend`] (latticed's IPAM and kernel
//! in the daemon, a fake in tests). No HTTP here.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;
use ipnet::{Ipv4Net, Ipv6Net};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::endpoints::{Endpoint, EndpointStore, Saved};
use super::ipam_calls::{parse_v4, parse_v6, ANY_POOL, ANY_POOL_V6};
use super::proto;
use crate::dataplane::{GATEWAY, GATEWAY_V6};

/// The address space Lattice's IPAM driver answers for.
pub const ADDRESS_SPACE: &str = "lattice";

/// Prefix of the interface name Docker gives the moved interface (`eth0`, `eth1`, ...).
const DST_PREFIX: &str = "eth";

/// What the driver needs from latticed.
#[async_trait]
pub trait Backend: Send + Sync {
    /// This host's block.
    async fn block(&self) -> Result<Ipv4Net, String>;
    /// This host's IPv6 block, on a dual-stack host.
    async fn block_v6(&self) -> Result<Option<Ipv6Net>, String>;
    /// A new, never-used IPAM key for one Docker address (`docker:...`).
    fn fresh_key(&self) -> String;
    /// Reserve the addresses of `key` (IPv4, and IPv6 on a dual-stack host).
    async fn allocate(&self, key: &str) -> Result<(Ipv4Addr, Option<Ipv6Addr>), String>;
    /// The key holding `address`, if one does.
    async fn key_of(&self, address: Ipv4Addr) -> Result<Option<String>, String>;
    /// The key holding IPv6 `address`, if one does.
    async fn key_of_v6(&self, address: Ipv6Addr) -> Result<Option<String>, String>;
    /// Unwire and release `key` (idempotent).
    async fn release(&self, key: &str) -> Result<(), String>;
    /// Create the host veth for `key` routed to `address` (and `address_v6`); returns the
    /// peer Docker moves.
    async fn wire(
        &self,
        key: &str,
        address: Ipv4Addr,
        address_v6: Option<Ipv6Addr>,
    ) -> Result<String, String>;
    /// Delete the host veth of `key` (idempotent).
    async fn unwire(&self, key: &str) -> Result<(), String>;
}

/// The NetworkDriver and IpamDriver of the remote-driver protocol.
pub struct Driver {
    pub(super) backend: Box<dyn Backend>,
    /// Where each call's duration goes (`lattice_request_duration_seconds{interface="docker"}`).
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    networks: Mutex<HashSet<String>>,
    /// Endpoints and address pairing, kept in `store` across restarts.
    pub(super) state: Mutex<Saved>,
    pub(super) store: EndpointStore,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

/// A failed call: Docker gets `{"Err": message}`.
type Answer = Result<Value, String>;

impl Driver {
    /// A driver over `backend`.
    pub fn new(backend: Box<dyn Backend>) -> Self {
        Self {
            backend,
            metrics: None,
            networks: Mutex::new(HashSet::new()),
            state: Mutex::new(Saved::default()),
            store: EndpointStore::default(),
        }
    }

    /// Keep the endpoints in `store`, starting from the ones it holds (a restart).
    pub fn with_store(mut self, store: EndpointStore) -> Self {
        self.state = Mutex::new(store.load());
        self.store = store;
        self
    }

    /// Time every call into `metrics`.
    pub fn with_metrics(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Answers the call at `path` (e.g. `/NetworkDriver.Join`) with `body`; `None` when the
    /// path is not part of the protocol (HTTP 404).
    pub async fn dispatch(&self, path: &str, body: &[u8]) -> Option<Value> {
        let started = std::time::Instant::now();
        let method = path.trim_start_matches('/');
        let answer = self.answer(method, body).await?;
        if let Some(m) = &self.metrics {
            // Only protocol methods get here (others are None above): a fixed label set.
            let operation = snake_case(method.rsplit('.').next().unwrap_or(method));
            let result = if answer.is_ok() { "ok" } else { "error" };
            m.observe_request(
                crate::metrics::Interface::Docker,
                &operation,
                result,
                started.elapsed(),
            );
        }
        Some(answer.unwrap_or_else(|e| json!({ "Err": e })))
    }

    /// The answer to one protocol method; `None` for a path outside the protocol.
    async fn answer(&self, method: &str, body: &[u8]) -> Option<Answer> {
        let answer = match method {
            "Plugin.Activate" => Ok(json!({"Implements": ["NetworkDriver", "IpamDriver"]})),
            "NetworkDriver.GetCapabilities" => {
                Ok(json!({"Scope": "local", "ConnectivityScope": "local"}))
            }
            "NetworkDriver.CreateNetwork" => match parse(body) {
                Ok(r) => self.create_network(r).await,
                Err(e) => Err(e),
            },
            "NetworkDriver.DeleteNetwork" => match parse::<proto::NetworkRef>(body) {
                Ok(r) => {
                    self.networks.lock().await.remove(&r.network_id);
                    Ok(json!({}))
                }
                Err(e) => Err(e),
            },
            "NetworkDriver.CreateEndpoint" => match parse(body) {
                Ok(r) => self.create_endpoint(r).await,
                Err(e) => Err(e),
            },
            "NetworkDriver.DeleteEndpoint" => match parse(body) {
                Ok(r) => self.delete_endpoint(r).await,
                Err(e) => Err(e),
            },
            "NetworkDriver.EndpointOperInfo" => match parse(body) {
                Ok(r) => self.oper_info(r).await,
                Err(e) => Err(e),
            },
            "NetworkDriver.Join" => match parse(body) {
                Ok(r) => self.join(r).await,
                Err(e) => Err(e),
            },
            "NetworkDriver.Leave"
            | "NetworkDriver.ProgramExternalConnectivity"
            | "NetworkDriver.RevokeExternalConnectivity" => {
                parse::<proto::EndpointRef>(body).map(|_| json!({}))
            }
            // Local scope: no cluster discovery to act on.
            "NetworkDriver.DiscoverNew" | "NetworkDriver.DiscoverDelete" => Ok(json!({})),
            "IpamDriver.GetCapabilities" => Ok(json!({"RequiresMACAddress": false})),
            "IpamDriver.GetDefaultAddressSpaces" => Ok(json!({
                "LocalDefaultAddressSpace": ADDRESS_SPACE,
                "GlobalDefaultAddressSpace": ADDRESS_SPACE,
            })),
            "IpamDriver.RequestPool" => match parse(body) {
                Ok(r) => self.request_pool(r).await,
                Err(e) => Err(e),
            },
            "IpamDriver.ReleasePool" => parse::<proto::ReleasePool>(body).map(|_| json!({})),
            "IpamDriver.RequestAddress" => match parse(body) {
                Ok(r) => self.request_address(r).await,
                Err(e) => Err(e),
            },
            "IpamDriver.ReleaseAddress" => match parse(body) {
                Ok(r) => self.release_address(r).await,
                Err(e) => Err(e),
            },
            _ => return None,
        };
        Some(answer)
    }

    async fn create_network(&self, r: proto::CreateNetwork) -> Answer {
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

    async fn create_endpoint(&self, r: proto::CreateEndpoint) -> Answer {
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

    async fn delete_endpoint(&self, r: proto::EndpointRef) -> Answer {
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

    async fn oper_info(&self, r: proto::EndpointRef) -> Answer {
        let state = self.state.lock().await;
        let value = match state.endpoints.get(&r.endpoint_id) {
            Some(ep) => json!({"lattice.key": ep.key}),
            None => json!({}),
        };
        Ok(json!({ "Value": value }))
    }

    async fn join(&self, r: proto::Join) -> Answer {
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

/// Docker sends `null`, an empty body or JSON; anything else is refused with a message.
fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, String> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"null" {
        return Ok(T::default());
    }
    serde_json::from_slice(trimmed).map_err(|e| format!("lattice: malformed request body: {e}"))
}

/// `CreateEndpoint` -> `create_endpoint`: libnetwork's method names as metric labels.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod metric_names {
    #[test]
    fn methods_become_snake_case_labels() {
        assert_eq!(super::snake_case("CreateEndpoint"), "create_endpoint");
        assert_eq!(super::snake_case("Join"), "join");
        assert_eq!(super::snake_case("RequestAddress"), "request_address");
    }
}
