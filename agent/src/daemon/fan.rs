//! The `fan` datastore's underlay address: `ipam.fan.address`, else `node.router_id` if it is
//! inside `ipam.fan.underlay`, else the first address of a `dataplane.uplinks` interface inside
//! it (the Fan idea: the host's uplink address decides its block).

use tracing::info;

use crate::config::Config;
use crate::kernel::Kernel;

/// The IPAM settings with the fan address looked up on the uplinks when it has to be.
pub async fn ipam_settings(config: &Config, kernel: &dyn Kernel) -> ipam::IpamSettings {
    let mut settings = config.ipam_settings();
    let explicit = config
        .ipam
        .fan
        .as_ref()
        .is_some_and(|f| f.address.is_some());
    if let ipam::Datastore::Fan { underlay, address } = &mut settings.datastore {
        if explicit || underlay.contains(&*address) {
            return settings;
        }
        for uplink in &config.dataplane.uplinks {
            let Ok(link) = kernel.link_by_name(uplink).await else {
                continue;
            };
            let Ok(addrs) = kernel.addresses(link.index).await else {
                continue;
            };
            if let Some(a) = addrs
                .iter()
                .filter_map(|n| match n.addr() {
                    std::net::IpAddr::V4(a) => Some(a),
                    std::net::IpAddr::V6(_) => None,
                })
                .find(|a| underlay.contains(a))
            {
                info!(%uplink, address = %a, "fan: this host's underlay address");
                *address = a;
                break;
            }
        }
    }
    // Not found: opening IPAM reports `ipam.fan.address` with the address it was given.
    settings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{FakeKernel, Kernel};

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
        let s = ipam_settings(&config, &k).await;
        let f = ipam::fixed_blocks(&s).unwrap().unwrap();
        assert_eq!(f.v4.to_string(), "10.244.42.0/24");
    }
}
