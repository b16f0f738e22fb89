//! The BGP speaker's view of the configuration: `node.*` and `bgp.*` as a
//! [`bgp::driver::SpeakerConfig`].

use std::net::SocketAddr;

use crate::config::{Community, Config};

/// The cluster ranges learned routes may fall in: `cluster.cidr` and `cluster.cidr_v6`.
pub(super) fn clusters(config: &Config) -> Vec<ipnet::IpNet> {
    let v6 = config.cluster.cidr_v6.map(ipnet::IpNet::V6);
    std::iter::once(ipnet::IpNet::V4(config.cluster.cidr))
        .chain(v6)
        .collect()
}

/// The speaker's configuration, accepting sessions on `listen`; `restarted` when routes of a
/// previous run are still in the kernel, so the OPEN says so (RFC 4724 Restart State and
/// Forwarding State).
pub(super) fn speaker_config(
    config: &Config,
    restarted: bool,
    listen: Option<SocketAddr>,
) -> bgp::driver::SpeakerConfig {
    let gr = &config.bgp.graceful_restart;
    bgp::driver::SpeakerConfig {
        local_as: config.node.asn,
        router_id: config.node.router_id,
        listen,
        graceful_restart: gr.enabled.then_some(bgp::fsm::GrOptions {
            restart_time: gr.restart_time,
            restarting: restarted,
            forwarding: restarted,
        }),
        hostname: Some(config.node.name.clone()),
        route_reflector: config.cluster_id(),
        multipath: bgp::driver::Multipath {
            relax: config.bgp.multipath.relax,
            maximum_paths: usize::from(config.bgp.multipath.maximum_paths),
        },
        peers: config
            .bgp
            .peers
            .iter()
            .map(|p| bgp::driver::PeerConfig {
                peer: p.key(),
                port: p.port,
                remote_as: p.asn.into(),
                hold_time: p.hold_time,
                connect_retry: std::time::Duration::from_secs(u64::from(p.connect_retry)),
                passive: p.passive,
                local_address: p.local_address,
                keepalive: p.keepalive,
                // No import list: the safe default (RFC 8212's aim) of cluster range + default.
                import: match &p.import {
                    Some(rules) => bgp::policy::ImportPolicy {
                        rules: rules.clone(),
                    },
                    None => bgp::policy::ImportPolicy::cluster_default(&clusters(config)),
                },
                export: p.export.clone(),
                max_prefixes: p.max_prefixes,
                allow_as_in: p.allow_as_in,
                password: p.password.clone(),
                communities: p
                    .parsed_communities()
                    .into_iter()
                    .filter_map(|c| match c {
                        Community::Standard(v) => Some(v),
                        Community::Large(_) => None,
                    })
                    .collect(),
                large_communities: p
                    .parsed_communities()
                    .into_iter()
                    .filter_map(|c| match c {
                        Community::Large(v) => Some(v),
                        Community::Standard(_) => None,
                    })
                    .collect(),
                families: bgp::driver::Families {
                    ipv4: p.has_family("ipv4"),
                    ipv6: p.has_family("ipv6"),
                },
                ipv4_next_hop: p.ipv4_next_hop,
                ipv6_next_hop: p.ipv6_next_hop,
                // After our graceful restart, BGP waits for BFD (daemon::bfd explains why).
                wait_for_bfd: (restarted && gr.enabled && p.bfd.enabled)
                    .then(|| super::bfd::wait_after_restart(gr.restart_time)),
                reflect: None,
                source: bgp::driver::PeerSource::Configured,
                ebgp_multihop: p.ebgp_multihop,
                ttl_security: p.ttl_security,
            })
            .collect(),
    }
}
