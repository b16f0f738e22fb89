//! The remote driver's IpamDriver calls: the host's blocks as Docker's pools, addresses as
//! fresh `docker:...` IPAM keys, IPv6 paired with IPv4 through [`Pairing`].
//!
//! Without `--subnet` every network shares the host's block (pool `0.0.0.0/0`, the lattice
//! driver's way). A `--subnet` naming the host's block is one network's at a time, as Docker's
//! own IPAM hands out a subnet once: it is how Docker's ipvlan driver, which refuses
//! `0.0.0.0/0`, gets the block. The containers of such a network that no lattice
//! `CreateNetwork` claimed are another driver's: latticed routes their addresses out of the
//! ipvlan host slave so the host reaches them.
//!
//! [`Pairing`]: super::pairing::Pairing

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde_json::{json, Value};
use tracing::warn;

use super::driver::Driver;
use super::endpoints::Pool;
use super::options;
use super::proto;
use crate::dataplane::{GATEWAY, GATEWAY_V6};

/// The address space Lattice's IPAM driver answers for.
pub const ADDRESS_SPACE: &str = "lattice";

/// The pools reported when the user names none (see `request_pool`).
pub(super) const ANY_POOL: &str = "0.0.0.0/0";
pub(super) const ANY_POOL_V6: &str = "::/0";

/// `RequestAddressType` value with which Docker asks for a network's gateway.
const GATEWAY_REQUEST: &str = "com.docker.network.gateway";

type Answer = Result<Value, String>;

impl Driver {
    pub(super) async fn request_pool(&self, r: proto::RequestPool) -> Answer {
        if !r.address_space.is_empty() && r.address_space != ADDRESS_SPACE {
            return Err(format!(
                "lattice: unknown address space {:?}; use {ADDRESS_SPACE:?}",
                r.address_space
            ));
        }
        if r.v6 {
            return self.request_pool_v6(r).await;
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
        if r.pool.is_empty() {
            return Ok(json!({
                "PoolID": pool_id(&block.to_string()),
                "Pool": ANY_POOL,
                "Data": {"com.docker.network.gateway": format!("{GATEWAY}/32")},
            }));
        }
        let id = self.claim_subnet(&block.to_string()).await?;
        Ok(json!({
            "PoolID": id,
            "Pool": block.to_string(),
            "Data": {"com.docker.network.gateway": format!("{GATEWAY}/32")},
        }))
    }

    /// Hands `block` out as one network's `--subnet` pool; refused while another holds it.
    async fn claim_subnet(&self, block: &str) -> Result<String, String> {
        let id = subnet_pool_id(block);
        let mut state = self.state.lock().await;
        if state.pools.contains_key(&id) {
            return Err(format!("lattice: --subnet {block} is already the pool of another network on this host, and a subnet is one network's; remove that network first, or create lattice-driver networks without --subnet (they share the host's block)"));
        }
        state.pools.insert(id.clone(), Pool::default());
        self.store.save(&state);
        Ok(id)
    }

    pub(super) async fn release_pool(&self, r: proto::ReleasePool) -> Answer {
        let mut state = self.state.lock().await;
        if state.pools.remove(&r.pool_id).is_some() {
            self.store.save(&state);
        }
        Ok(json!({}))
    }

    async fn request_pool_v6(&self, r: proto::RequestPool) -> Answer {
        let Some(block) = self.backend.block_v6().await? else {
            return Err("lattice: this host holds no IPv6 block (set cluster.cidr_v6); create the network without --ipv6".into());
        };
        for (flag, asked) in [("--subnet", &r.pool), ("--ip-range", &r.sub_pool)] {
            if !asked.is_empty() && asked.parse::<Ipv6Net>().ok() != Some(block) {
                return Err(format!("lattice: {flag} {asked} is not this host's IPv6 block {block}; omit it, Lattice assigns the host's block"));
            }
        }
        // As for IPv4: no overlap check against the host's own routes, and the link-local
        // gateway lies inside the pool.
        let (id, pool) = if r.pool.is_empty() {
            (pool_id(&block.to_string()), ANY_POOL_V6.to_string())
        } else {
            (
                self.claim_subnet(&block.to_string()).await?,
                block.to_string(),
            )
        };
        Ok(json!({
            "PoolID": id,
            "Pool": pool,
            "Data": {"com.docker.network.gateway": format!("{GATEWAY_V6}/64")},
        }))
    }

    pub(super) async fn request_address(&self, r: proto::RequestAddress) -> Answer {
        let v6 = self.check_pool(&r.pool_id).await?;
        let foreign = self.foreign_mode(&r.pool_id).await;
        let gateway = r
            .options
            .as_ref()
            .and_then(|o| o.get("RequestAddressType"))
            .is_some_and(|t| t == GATEWAY_REQUEST);
        if gateway {
            // Every container's gateway is the link-local address the host veth answers for.
            let gw = if v6 {
                format!("{GATEWAY_V6}/64")
            } else {
                format!("{GATEWAY}/32")
            };
            return Ok(json!({"Address": gw, "Data": {}}));
        }
        if !r.address.is_empty() {
            return Err(format!("lattice: a chosen address ({}) is not supported; Lattice assigns addresses from the host's block", r.address));
        }
        if v6 {
            // Reserved with the endpoint's IPv4 address, which Docker asks for first.
            let mut state = self.state.lock().await;
            let Some((_, address)) = state.pairing.hand_out_v6() else {
                return Err("lattice: no IPv6 address is reserved: Docker asks for an endpoint's IPv4 address first".into());
            };
            self.store.save(&state);
            drop(state);
            self.reach(foreign, address.into()).await;
            return Ok(json!({"Address": format!("{address}/128"), "Data": {}}));
        }
        let key = self.backend.fresh_key();
        let (address, address_v6) = self.backend.allocate(&key).await?;
        self.reach(foreign, address.into()).await;
        let mut state = self.state.lock().await;
        state.pairing.reserved(&key, address_v6);
        Ok(json!({"Address": format!("{address}/32"), "Data": {}}))
    }

    /// The ipvlan mode to reach the containers of pool `id` in, if another driver wires them
    /// (a `--subnet` pool no lattice network claimed: Docker's ipvlan driver).
    async fn foreign_mode(&self, id: &str) -> Option<crate::dataplane::DataplaneMode> {
        let state = self.state.lock().await;
        let pool = state.pools.get(id)?;
        if pool.network.is_some() {
            return None;
        }
        let modes = state.networks.values().map(|n| n.mode);
        let current = options::parent_mode(self.backend.host_mode(), modes);
        Some(options::foreign_mode(current))
    }

    /// Routes another driver's container `address` through the ipvlan host slave. A failure
    /// costs only the host's own path to it (other hosts reach it through the parent), so it
    /// is logged, not passed to Docker.
    async fn reach(&self, mode: Option<crate::dataplane::DataplaneMode>, address: IpAddr) {
        let Some(mode) = mode else { return };
        if let Err(e) = self.backend.reach(mode, address).await {
            warn!(%address, error = %e, "no host route to a container of another Docker driver");
        }
    }

    pub(super) async fn release_address(&self, r: proto::ReleaseAddress) -> Answer {
        let key = match parse_ip(&r.address)? {
            IpAddr::V4(a) if a == GATEWAY => return Ok(json!({})),
            IpAddr::V6(a) if a == GATEWAY_V6 => return Ok(json!({})),
            IpAddr::V4(a) => self.backend.key_of(a).await?.map(|k| (k, false)),
            IpAddr::V6(a) => self.backend.key_of_v6(a).await?.map(|k| (k, true)),
        };
        // Not (or no longer) a Docker address: nothing of ours to remove.
        let Some((key, v6)) = key else {
            return Ok(json!({}));
        };
        let address = parse_ip(&r.address)?;
        let mut state = self.state.lock().await;
        let free = if v6 {
            state.pairing.v6_released(&key)
        } else {
            state.pairing.v4_released(&key)
        };
        // Its route through the ipvlan host slave (another driver's container; an ipvlan
        // endpoint whose record was lost) and, for IPv4, the key's interfaces, which its
        // DeleteEndpoint has removed unless the record was lost. The key itself stays while its
        // IPv6 address is still another endpoint's.
        self.backend.unreach(address).await?;
        if !v6 {
            self.backend.unwire(&key).await?;
        }
        if free {
            self.backend.release(&key).await?;
        }
        self.store.save(&state);
        Ok(json!({}))
    }

    /// Whether `pool` is this host's IPv6 pool (`false`: its IPv4 pool); an error if neither.
    async fn check_pool(&self, pool: &str) -> Result<bool, String> {
        let ours = |b: String| pool == pool_id(&b) || pool == subnet_pool_id(&b);
        let block = self.backend.block().await?;
        if ours(block.to_string()) {
            return Ok(false);
        }
        if let Some(b6) = self.backend.block_v6().await? {
            if ours(b6.to_string()) {
                return Ok(true);
            }
        }
        Err(format!(
            "lattice: unknown pool {pool:?}; this host's pool is {:?}",
            pool_id(&block.to_string())
        ))
    }
}

/// The pool every network without `--subnet` shares.
fn pool_id(block: &str) -> String {
    format!("{ADDRESS_SPACE}-{block}")
}

/// The pool of the one network whose `--subnet` is `block`.
pub(super) fn subnet_pool_id(block: &str) -> String {
    format!("{ADDRESS_SPACE}-subnet-{block}")
}

/// `10.244.1.5`, `10.244.1.5/32`, `fd00::5` or `fd00::5/128`.
fn parse_ip(s: &str) -> Result<IpAddr, String> {
    let bare = s.split_once('/').map_or(s, |(a, _)| a);
    bare.parse()
        .map_err(|_| format!("lattice: {s:?} is not an IP address"))
}

/// An IPv4 address, with or without its prefix length.
pub(super) fn parse_v4(s: &str) -> Result<Ipv4Addr, String> {
    match parse_ip(s)? {
        IpAddr::V4(a) => Ok(a),
        IpAddr::V6(_) => Err(format!("lattice: {s:?} is not an IPv4 address")),
    }
}

/// An IPv6 address, with or without its prefix length.
pub(super) fn parse_v6(s: &str) -> Result<Ipv6Addr, String> {
    match parse_ip(s)? {
        IpAddr::V6(a) => Ok(a),
        IpAddr::V4(_) => Err(format!("lattice: {s:?} is not an IPv6 address")),
    }
}
