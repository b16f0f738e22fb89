//! The remote driver's IpamDriver calls: the host's blocks as Docker's pools, addresses as
//! fresh `docker:...` IPAM keys, IPv6 paired with IPv4 through [`Pairing`].
//!
//! [`Pairing`]: super::pairing::Pairing

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde_json::{json, Value};

use super::driver::Driver;
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
        let pool = if r.pool.is_empty() {
            ANY_POOL.to_string()
        } else {
            block.to_string()
        };
        Ok(json!({
            "PoolID": pool_id(&block.to_string()),
            "Pool": pool,
            "Data": {"com.docker.network.gateway": format!("{GATEWAY}/32")},
        }))
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
        let pool = if r.pool.is_empty() {
            ANY_POOL_V6.to_string()
        } else {
            block.to_string()
        };
        Ok(json!({
            "PoolID": pool_id(&block.to_string()),
            "Pool": pool,
            "Data": {"com.docker.network.gateway": format!("{GATEWAY_V6}/64")},
        }))
    }

    pub(super) async fn request_address(&self, r: proto::RequestAddress) -> Answer {
        let v6 = self.check_pool(&r.pool_id).await?;
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
            return Ok(json!({"Address": format!("{address}/128"), "Data": {}}));
        }
        let key = self.backend.fresh_key();
        let (address, address_v6) = self.backend.allocate(&key).await?;
        let mut state = self.state.lock().await;
        state.pairing.reserved(&key, address_v6);
        Ok(json!({"Address": format!("{address}/32"), "Data": {}}))
    }

    pub(super) async fn release_address(&self, r: proto::ReleaseAddress) -> Answer {
        let key = match parse_ip(&r.address)? {
            IpAddr::V4(a) if a == GATEWAY => return Ok(json!({})),
            IpAddr::V6(a) if a == GATEWAY_V6 => return Ok(json!({})),
            IpAddr::V4(a) => self.backend.key_of(a).await?.map(|k| (k, false)),
            IpAddr::V6(a) => self.backend.key_of_v6(a).await?.map(|k| (k, true)),
        };
        let Some((key, v6)) = key else {
            return Ok(json!({}));
        };
        let mut state = self.state.lock().await;
        let free = if v6 {
            state.pairing.v6_released(&key)
        } else {
            state.pairing.v4_released(&key)
        };
        if free {
            self.backend.release(&key).await?;
        } else if !v6 {
            // Its IPv6 address is still another endpoint's: keep the key, drop the veth (its
            // DeleteEndpoint has done so, unless the endpoint's record was lost).
            self.backend.unwire(&key).await?;
        }
        self.store.save(&state);
        Ok(json!({}))
    }

    /// Whether `pool` is this host's IPv6 pool (`false`: its IPv4 pool); an error if neither.
    async fn check_pool(&self, pool: &str) -> Result<bool, String> {
        let block = self.backend.block().await?;
        if pool == pool_id(&block.to_string()) {
            return Ok(false);
        }
        if let Some(b6) = self.backend.block_v6().await? {
            if pool == pool_id(&b6.to_string()) {
                return Ok(true);
            }
        }
        Err(format!(
            "lattice: unknown pool {pool:?}; this host's pool is {:?}",
            pool_id(&block.to_string())
        ))
    }
}

fn pool_id(block: &str) -> String {
    format!("{ADDRESS_SPACE}-{block}")
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
