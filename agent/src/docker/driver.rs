//! The remote driver's logic: each Docker call onto a [`Backend`] (latticed's IPAM and kernel
//! in the daemon, a fake in tests). No HTTP here.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use async_trait::async_trait;
use ipnet::Ipv4Net;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::endpoints::{Endpoint, EndpointStore};
use super::proto;
use crate::dataplane::GATEWAY;

/// The address space Lattice's IPAM driver answers for.
pub const ADDRESS_SPACE: &str = "lattice";

/// The pool reported when the user names none (see `request_pool`).
const ANY_POOL: &str = "0.0.0.0/0";

/// `RequestAddressType` value with which Docker asks for a network's gateway.
const GATEWAY_REQUEST: &str = "com.docker.network.gateway";

/// Prefix of the interface name Docker gives the moved interface (`eth0`, `eth1`, ...).
const DST_PREFIX: &str = "eth";

/// What the driver needs from latticed.
#[async_trait]
pub trait Backend: Send + Sync {
    /// This host's block.
    async fn block(&self) -> Result<Ipv4Net, String>;
    /// A new, never-used IPAM key for one Docker address (`docker:...`).
    fn fresh_key(&self) -> String;
    /// Reserve an address for `key`.
    async fn allocate(&self, key: &str) -> Result<Ipv4Addr, String>;
    /// The key holding `address`, if one does.
    async fn key_of(&self, address: Ipv4Addr) -> Result<Option<String>, String>;
    /// Unwire and release `key` (idempotent).
    async fn release(&self, key: &str) -> Result<(), String>;
    /// Create the host veth for `key` routed to `address`; returns the peer Docker moves.
    async fn wire(&self, key: &str, address: Ipv4Addr) -> Result<String, String>;
    /// Delete the host veth of `key` (idempotent).
    async fn unwire(&self, key: &str) -> Result<(), String>;
}

/// The NetworkDriver and IpamDriver of the remote-driver protocol.
pub struct Driver {
    backend: Box<dyn Backend>,
    /// Where each call's duration goes (`lattice_request_duration_seconds{interface="docker"}`).
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    networks: Mutex<HashSet<String>>,
    endpoints: Mutex<HashMap<String, Endpoint>>,
    /// Where `endpoints` is kept across restarts.
    store: EndpointStore,
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
            endpoints: Mutex::new(HashMap::new()),
            store: EndpointStore::default(),
        }
    }

    /// Keep the endpoints in `store`, starting from the ones it holds (a restart).
    pub fn with_store(mut self, store: EndpointStore) -> Self {
        self.endpoints = Mutex::new(store.load());
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

    async fn request_pool(&self, r: proto::RequestPool) -> Answer {
        if r.v6 {
            return Err(
                "lattice: IPv6 pools are not supported yet; create the network without --ipv6"
                    .into(),
            );
        }
        if !r.address_space.is_empty() && r.address_space != ADDRESS_SPACE {
            return Err(format!(
                "lattice: unknown address space {:?}; use {ADDRESS_SPACE:?}",
                r.address_space
            ));
        }
        let block = self.backend.block().await?;
        for (flag, asked) in [("--subnet", &r.pool), ("--ip-range", &r.sub_pool)] {
            if !asked.is_empty() && asked.parse::<Ipv4Net>().ok() != Some(block) {
                return Err(format!("lattice: {flag} {asked} is not this host's block {block}; omit it, Lattice assigns the host's block"));
            }
        }
        // Without --subnet, libnetwork checks a local pool against the host's routes and asks
        // again on overlap; the host routes its own block, so it would ask forever. It skips
        // the check for 0.0.0.0/0 (as for Calico's pool): addresses still come from the block.
        let pool = if r.pool.is_empty() {
            ANY_POOL.to_string()
        } else {
            block.to_string()
        };
        Ok(json!({
            "PoolID": pool_id(block),
            "Pool": pool,
            "Data": {"com.docker.network.gateway": format!("{GATEWAY}/32")},
        }))
    }

    async fn request_address(&self, r: proto::RequestAddress) -> Answer {
        let gateway = r
            .options
            .as_ref()
            .and_then(|o| o.get("RequestAddressType"))
            .is_some_and(|t| t == GATEWAY_REQUEST);
        if gateway {
            // Every container's gateway is the link-local address the host veth answers for.
            return Ok(json!({"Address": format!("{GATEWAY}/32"), "Data": {}}));
        }
        self.check_pool(&r.pool_id).await?;
        if !r.address.is_empty() {
            return Err(format!("lattice: a chosen address ({}) is not supported; Lattice assigns addresses from the host's block", r.address));
        }
        let key = self.backend.fresh_key();
        let address = self.backend.allocate(&key).await?;
        Ok(json!({"Address": format!("{address}/32"), "Data": {}}))
    }

    async fn release_address(&self, r: proto::ReleaseAddress) -> Answer {
        let address = parse_addr(&r.address)?;
        if address == GATEWAY {
            return Ok(json!({}));
        }
        if let Some(key) = self.backend.key_of(address).await? {
            self.backend.release(&key).await?;
        }
        Ok(json!({}))
    }

    async fn create_network(&self, r: proto::CreateNetwork) -> Answer {
        if r.network_id.is_empty() {
            return Err("lattice: CreateNetwork without a NetworkID".into());
        }
        if r.ipv6_data.as_ref().is_some_and(|d| !d.is_empty()) {
            return Err("lattice: IPv6 networks are not supported yet".into());
        }
        let block = self.backend.block().await?;
        let pools = r.ipv4_data.unwrap_or_default();
        let ours = |p: &str| p == ANY_POOL || p.parse::<Ipv4Net>().ok() == Some(block);
        if pools.is_empty() || pools.iter().any(|d| !ours(&d.pool)) {
            return Err(format!("lattice: the network's pool must be this host's block {block}: create it with `--ipam-driver lattice`"));
        }
        self.networks.lock().await.insert(r.network_id);
        Ok(json!({}))
    }

    async fn create_endpoint(&self, r: proto::CreateEndpoint) -> Answer {
        if r.endpoint_id.is_empty() {
            return Err("lattice: CreateEndpoint without an EndpointID".into());
        }
        let iface = r.interface.unwrap_or_default();
        if !iface.address_ipv6.is_empty() {
            return Err("lattice: IPv6 endpoints are not supported yet".into());
        }
        if iface.address.is_empty() {
            return Err(
                "lattice: CreateEndpoint without an address: use `--ipam-driver lattice`".into(),
            );
        }
        let address = parse_addr(&iface.address)?;
        let Some(key) = self.backend.key_of(address).await? else {
            return Err(format!("lattice: {address} was not assigned by the lattice IPAM driver; create the network with `--ipam-driver lattice`"));
        };
        let peer = self.backend.wire(&key, address).await?;
        let mut eps = self.endpoints.lock().await;
        eps.insert(r.endpoint_id, Endpoint { key, peer });
        self.store.save(&eps);
        Ok(json!({"Interface": {}}))
    }

    async fn delete_endpoint(&self, r: proto::EndpointRef) -> Answer {
        let mut eps = self.endpoints.lock().await;
        // Unknown (its record lost): ReleaseAddress, which Docker sends next, unwires.
        if let Some(ep) = eps.get(&r.endpoint_id).cloned() {
            // Forgotten only once unwired, so a failed unwire can be retried.
            self.backend.unwire(&ep.key).await?;
            eps.remove(&r.endpoint_id);
            self.store.save(&eps);
        }
        Ok(json!({}))
    }

    async fn oper_info(&self, r: proto::EndpointRef) -> Answer {
        let eps = self.endpoints.lock().await;
        let value = match eps.get(&r.endpoint_id) {
            Some(ep) => json!({"lattice.key": ep.key}),
            None => json!({}),
        };
        Ok(json!({ "Value": value }))
    }

    async fn join(&self, r: proto::Join) -> Answer {
        let eps = self.endpoints.lock().await;
        let Some(ep) = eps.get(&r.endpoint_id) else {
            return Err(format!(
                "lattice: unknown endpoint {:?} (was it created while latticed was down?)",
                r.endpoint_id
            ));
        };
        Ok(json!({
            "InterfaceName": {"SrcName": ep.peer, "DstPrefix": DST_PREFIX},
            "Gateway": GATEWAY.to_string(),
            // Connected route to the gateway first, so the default route via it resolves.
            "StaticRoutes": [{"Destination": format!("{GATEWAY}/32"), "RouteType": 1}],
            "DisableGatewayService": true,
        }))
    }

    async fn check_pool(&self, pool: &str) -> Result<(), String> {
        let block = self.backend.block().await?;
        if pool == pool_id(block) {
            Ok(())
        } else {
            Err(format!(
                "lattice: unknown pool {pool:?}; this host's pool is {:?}",
                pool_id(block)
            ))
        }
    }
}

fn pool_id(block: Ipv4Net) -> String {
    format!("{ADDRESS_SPACE}-{block}")
}

/// `10.244.1.5` or `10.244.1.5/32`.
fn parse_addr(s: &str) -> Result<Ipv4Addr, String> {
    let bare = s.split_once('/').map_or(s, |(a, _)| a);
    bare.parse()
        .map_err(|_| format!("lattice: {s:?} is not an IPv4 address"))
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
