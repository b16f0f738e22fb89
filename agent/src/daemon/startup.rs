//! The steps before latticed serves anything: IPAM opened (with the uplinks' addresses for a
//! datastore that derives blocks from them), the host prepared, the wiring mode checked.
//! Nothing is announced or wired here.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use tracing::info;

use super::error::DaemonError;
use crate::config::{Config, UplinkAddresses};
use crate::dataplane::{self, Wiring};
use crate::kernel::Kernel;

/// The host's IPAM, opened at `now`, and its primary blocks (IPv4, and IPv6 when held).
pub(super) async fn open_ipam(
    config: &Config,
    kernel: &dyn Kernel,
    now: u64,
) -> Result<(ipam::Allocator, Ipv4Net, Option<Ipv6Net>), DaemonError> {
    let uplinks = uplink_addresses(kernel, &config.dataplane.uplinks).await;
    let settings = config.ipam_settings(UplinkAddresses::Found(&uplinks))?;
    let ipam = ipam::Allocator::open(&settings, now).await?;
    let held = ipam.ipam().blocks();
    let Some(IpNet::V4(block)) = held.first().copied() else {
        return Err(DaemonError::Ipam(ipam::IpamError::BadConfig {
            field: "ipam",
            message: "no IPv4 block is held".into(),
        }));
    };
    let block_v6 = held.iter().find_map(|b| match b {
        IpNet::V6(b) => Some(*b),
        IpNet::V4(_) => None,
    });
    Ok((ipam, block, block_v6))
}

/// The IPv4 addresses of the `uplinks` that exist, in order (a missing uplink is skipped: it
/// may come later, and only a datastore that needs an address will say it has none).
pub(super) async fn uplink_addresses(kernel: &dyn Kernel, uplinks: &[String]) -> Vec<Ipv4Addr> {
    let mut found = Vec::new();
    for uplink in uplinks {
        let Ok(link) = kernel.link_by_name(uplink).await else {
            continue;
        };
        let Ok(addrs) = kernel.addresses(link.index).await else {
            continue;
        };
        found.extend(addrs.iter().filter_map(|n| match n.addr() {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }));
    }
    found
}

/// Refuse a peer whose address is one of the uplinks' (`dataplane.uplinks` found in this
/// namespace, both families): the session would be with ourselves. The configuration alone
/// cannot tell; `latticed --check` and the start both ask the kernel.
pub async fn refuse_peers_at_uplink_addresses(
    config: &Config,
    kernel: &dyn Kernel,
) -> Result<(), DaemonError> {
    let mut own = Vec::new();
    for uplink in &config.dataplane.uplinks {
        let Ok(link) = kernel.link_by_name(uplink).await else {
            continue;
        };
        for a in kernel.addresses(link.index).await.unwrap_or_default() {
            own.push((a.addr(), format!("an address of uplink {uplink}")));
        }
    }
    crate::config::own_addresses(config, &own)
        .map_err(|p| DaemonError::Refused(format!("configuration: {p}")))
}

/// Host-wide sysctls; true when routes of a previous run are still in the kernel (a restart:
/// an upgrade, a crash), so forwarding went on and peers may keep our routes until we are back
/// (RFC 4724 restarting speaker).
pub(super) async fn prepare_host(kernel: &dyn Kernel) -> Result<bool, DaemonError> {
    dataplane::prepare_host(kernel).await?;
    let restarted = kernel
        .routes(dataplane::RTPROT_LATTICE)
        .await
        .map(|r| !r.is_empty())
        .unwrap_or(false);
    if restarted {
        info!("routes of a previous run found: announcing a graceful restart");
    }
    Ok(restarted)
}

/// The wiring `dataplane.mode` asks for, prepared on the host; a mode this host cannot do
/// (ipvlan on a kernel without it) is refused, saying what to do instead.
pub(super) async fn wiring(config: &Config, kernel: &dyn Kernel) -> Result<Wiring, DaemonError> {
    let wiring = config.wiring()?;
    if let Err(e) = wiring.prepare(kernel).await {
        let mode = config.dataplane.mode;
        return Err(if dataplane::ipvlan::is_unsupported(&e) {
            DaemonError::Refused(format!(
                "dataplane.mode {mode} needs ipvlan, and this kernel has none ({e}); \
                 use dataplane.mode routed-veth here, or load the ipvlan module"
            ))
        } else {
            DaemonError::Refused(format!("dataplane.mode {mode}: {e}"))
        });
    }
    Ok(wiring)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::kernel::FakeKernel;

    #[tokio::test]
    async fn the_uplink_address_inside_the_underlay_is_used() {
        let config = Config::from_yaml_str(
            "node: {name: h, asn: 65001, router_id: 192.0.2.1}\ncluster: {cidr: 10.244.0.0/16}\nipam: {datastore: fan, fan: {underlay: 10.0.0.0/24}}\ndataplane: {uplinks: [eth1]}\n",
            "t",
        )
        .unwrap();
        let k = FakeKernel::new();
        k.add_netns("/run/netns/tor");
        k.create_veth("eth1", "tor0", std::path::Path::new("/run/netns/tor"))
            .await
            .unwrap();
        let index = k.link_by_name("eth1").await.unwrap().index;
        k.add_address(index, "10.0.0.42/24".parse().unwrap())
            .await
            .unwrap();
        let found = uplink_addresses(&k, &config.dataplane.uplinks).await;
        let s = config
            .ipam_settings(UplinkAddresses::Found(&found))
            .unwrap();
        let f = ipam::fixed_blocks(&s).unwrap().unwrap();
        assert_eq!(f.v4.to_string(), "10.244.42.0/24");
    }
}
