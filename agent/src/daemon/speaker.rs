//! The BGP speaker's view of the configuration: `node.*` and `bgp.*` as a
//! [`bgp::driver::SpeakerConfig`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::{Community, Config, NamedOr};

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
        peers: peer_configs(config)
            .into_iter()
            .zip(&config.bgp.peers)
            .map(|(c, p)| bgp::driver::PeerConfig {
                // After our graceful restart, BGP waits for BFD (daemon::bfd explains why).
                wait_for_bfd: (restarted && gr.enabled && p.bfd.enabled)
                    .then(|| super::bfd::wait_after_restart(gr.restart_time)),
                ..c
            })
            .collect(),
    }
}

/// Every `bgp.peers` entry as the speaker runs it.
pub(crate) fn peer_configs(config: &Config) -> Vec<bgp::driver::PeerConfig> {
    let policies = crate::config::policy::policies(&config.bgp);
    config
        .bgp
        .peers
        .iter()
        .map(|p| peer_config(config, p, &policies))
        .collect()
}

/// One `bgp.peers` entry as the speaker runs it, its policies taken from `policies`.
fn peer_config(
    config: &Config,
    p: &crate::config::PeerConfig,
    policies: &BTreeMap<String, Arc<bgp::policy::Policy>>,
) -> bgp::driver::PeerConfig {
    let named = |name: Option<&str>| name.and_then(|n| policies.get(n)).cloned();
    let communities = p.parsed_communities();
    bgp::driver::PeerConfig {
        peer: p.key(),
        port: p.port,
        remote_as: p.asn.into(),
        hold_time: p.hold_time,
        connect_retry: std::time::Duration::from_secs(u64::from(p.connect_retry)),
        passive: p.passive,
        local_address: p.local_address,
        keepalive: p.keepalive,
        import: match &p.import {
            // No import list: the safe default (RFC 8212's aim) of cluster range + default.
            None => bgp::policy::ImportPolicy::cluster_default(&clusters(config)),
            Some(NamedOr::List(rules)) => bgp::policy::ImportPolicy {
                rules: rules.clone(),
            },
            // A named policy decides alone.
            Some(NamedOr::Policy(_)) => bgp::policy::ImportPolicy::accept_all(),
        },
        import_policy: named(p.import.as_ref().and_then(|i| i.policy())),
        export: p.export.list().to_vec(),
        export_policy: named(p.export.policy()),
        max_prefixes: p.max_prefixes,
        allow_as_in: p.allow_as_in,
        password: p.password.clone(),
        communities: communities
            .iter()
            .filter_map(|c| match c {
                Community::Standard(v) => Some(*v),
                Community::Large(_) => None,
            })
            .collect(),
        large_communities: communities
            .iter()
            .filter_map(|c| match c {
                Community::Large(v) => Some(*v),
                Community::Standard(_) => None,
            })
            .collect(),
        families: bgp::driver::Families {
            ipv4: p.has_family("ipv4"),
            ipv6: p.has_family("ipv6"),
        },
        ipv4_next_hop: p.ipv4_next_hop,
        ipv6_next_hop: p.ipv6_next_hop,
        wait_for_bfd: None,
        reflect: None,
        source: bgp::driver::PeerSource::Configured,
        ebgp_multihop: p.ebgp_multihop,
        ttl_security: p.ttl_security,
    }
}
