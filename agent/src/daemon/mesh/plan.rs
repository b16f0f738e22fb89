//! Which mesh peers this host should have, given every registered host (pure).
//!
//! - A route reflector peers with every host: the others of its AS are its clients, the
//!   other reflectors non-clients (RFC 4456 §6).
//! - Any other host peers with the reflectors of its AS when there are some, else with every
//!   host: an iBGP full mesh, eBGP with hosts of another AS.
//! - A host whose address is a configured `bgp.peers` entry is left to that entry; one that
//!   registered no usable address is skipped (and said so).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use bgp::driver::{Families, PeerConfig, PeerSource, ReflectRole};
use bgp::policy::ImportPolicy;
use bgp::PeerKey;

use super::record::HostRecord;

/// This host in the mesh, and what its mesh sessions are configured with.
#[derive(Debug, Clone)]
pub struct MeshSelf {
    /// What it registers.
    pub record: HostRecord,
    /// `bgp.mesh.hold_time`.
    pub hold_time: u16,
    /// `bgp.mesh.keepalive`.
    pub keepalive: Option<u16>,
    /// `bgp.mesh.connect_retry`.
    pub connect_retry: Duration,
    /// `bgp.mesh.password`.
    pub password: Option<bgp::driver::Password>,
    /// What mesh peers may send us (the cluster ranges).
    pub import: ImportPolicy,
    /// Whether the cluster has IPv6 (`cluster.cidr_v6`).
    pub ipv6: bool,
    /// Addresses of the configured peers (`bgp.peers`), which the mesh leaves alone.
    pub static_peers: BTreeSet<IpAddr>,
}

/// The peers to have, and what to know about them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Each peer's configuration.
    pub peers: BTreeMap<PeerKey, PeerConfig>,
    /// This host is a client: these peers are its reflectors (the others may go once one of
    /// them is up).
    pub reflectors: BTreeSet<PeerKey>,
    /// Hosts left out, and why (logged once).
    pub skipped: Vec<String>,
}

/// The plan for `me` among `hosts` (by name; `me` among them or not).
pub fn plan(me: &MeshSelf, hosts: &BTreeMap<String, HostRecord>) -> Plan {
    let mine = &me.record;
    let i_reflect = mine.route_reflector.is_some();
    let others: Vec<&HostRecord> = hosts.values().filter(|h| h.name != mine.name).collect();
    let reflectors: Vec<&HostRecord> = others
        .iter()
        .copied()
        .filter(|h| h.route_reflector.is_some() && h.asn == mine.asn)
        .collect();
    let peers_with: Vec<&HostRecord> = if i_reflect || reflectors.is_empty() {
        others
    } else {
        reflectors
    };
    let mut out = Plan::default();
    let Some(my_address) = mine.session_address() else {
        return out;
    };
    for h in peers_with {
        let Some(address) = h.session_address() else {
            out.skipped
                .push(format!("{}: registered no address", h.name));
            continue;
        };
        if address.is_ipv4() != my_address.is_ipv4() {
            out.skipped.push(format!(
                "{}: its address {address} is not of the family of ours ({my_address})",
                h.name
            ));
            continue;
        }
        if address == my_address {
            out.skipped
                .push(format!("{}: registered our own address {address}", h.name));
            continue;
        }
        if me.static_peers.contains(&address) {
            out.skipped.push(format!(
                "{}: {address} is configured in bgp.peers, which takes precedence",
                h.name
            ));
            continue;
        }
        let key = PeerKey::from(address);
        if !i_reflect && h.route_reflector.is_some() && h.asn == mine.asn {
            out.reflectors.insert(key.clone());
        }
        let reflect = (i_reflect && h.asn == mine.asn).then(|| {
            if h.route_reflector.is_some() {
                ReflectRole::NonClient
            } else {
                ReflectRole::Client
            }
        });
        out.peers
            .insert(key.clone(), peer_config(me, h, key, my_address, reflect));
    }
    out
}

fn peer_config(
    me: &MeshSelf,
    host: &HostRecord,
    key: PeerKey,
    local: IpAddr,
    reflect: Option<ReflectRole>,
) -> PeerConfig {
    let my_v6: Option<Ipv6Addr> = me.record.ipv6_next_hop();
    let v6_session = local.is_ipv6();
    PeerConfig {
        port: host.port,
        hold_time: me.hold_time,
        keepalive: me.keepalive,
        connect_retry: me.connect_retry,
        local_address: Some(local),
        import: me.import.clone(),
        password: me.password.clone(),
        families: Families {
            ipv4: true,
            // IPv6 routes need an IPv6 next hop at both ends (an IPv4 session's mapped
            // address is no use).
            ipv6: me.ipv6 && (v6_session || (my_v6.is_some() && host.ipv6_next_hop().is_some())),
        },
        ipv6_next_hop: my_v6.filter(|_| !v6_session),
        reflect,
        source: PeerSource::Discovered {
            host: host.name.clone(),
        },
        ..PeerConfig::new(key, host.asn)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use bgp::driver::RemoteAs;

    fn host(n: u8, asn: u32, reflector: bool) -> HostRecord {
        HostRecord {
            name: format!("h{n}"),
            asn,
            router_id: format!("10.0.0.{n}").parse().unwrap(),
            addresses: vec![format!("10.0.0.{n}").parse().unwrap()],
            port: 179,
            blocks: vec![],
            route_reflector: reflector.then(|| format!("10.0.0.{n}").parse().unwrap()),
        }
    }

    fn me(record: HostRecord) -> MeshSelf {
        MeshSelf {
            record,
            hold_time: 9,
            keepalive: None,
            connect_retry: Duration::from_secs(1),
            password: None,
            import: ImportPolicy::cluster_default(&["10.244.0.0/16".parse().unwrap()]),
            ipv6: false,
            static_peers: BTreeSet::new(),
        }
    }

    fn hosts(list: &[HostRecord]) -> BTreeMap<String, HostRecord> {
        list.iter().map(|h| (h.name.clone(), h.clone())).collect()
    }

    fn keys(p: &Plan) -> Vec<String> {
        p.peers.keys().map(ToString::to_string).collect()
    }

    #[test]
    fn without_reflectors_every_host_peers_with_every_other() {
        let all = hosts(&[
            host(1, 64512, false),
            host(2, 64512, false),
            host(3, 64600, false),
        ]);
        let p = plan(&me(host(1, 64512, false)), &all);
        assert_eq!(keys(&p), ["10.0.0.2", "10.0.0.3"]);
        let two = &p.peers[&PeerKey::from("10.0.0.2".parse::<IpAddr>().unwrap())];
        assert_eq!(two.remote_as, RemoteAs::Number(64512), "iBGP");
        assert_eq!(two.local_address, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(two.reflect, None);
        assert_eq!(two.source, PeerSource::Discovered { host: "h2".into() });
        let three = &p.peers[&PeerKey::from("10.0.0.3".parse::<IpAddr>().unwrap())];
        assert_eq!(
            three.remote_as,
            RemoteAs::Number(64600),
            "eBGP with a host of another AS"
        );
        assert!(p.reflectors.is_empty());
        // A host alone has no peers; its own record never makes one.
        assert!(
            plan(&me(host(1, 64512, false)), &hosts(&[host(1, 64512, false)]))
                .peers
                .is_empty()
        );
    }

    #[test]
    fn with_reflectors_clients_peer_with_them_only_and_reflectors_with_everyone() {
        let all = hosts(&[
            host(1, 64512, true),
            host(2, 64512, true),
            host(3, 64512, false),
            host(4, 64512, false),
        ]);
        let client = plan(&me(host(3, 64512, false)), &all);
        assert_eq!(keys(&client), ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(client.reflectors.len(), 2);
        assert!(client.peers.values().all(|p| p.reflect.is_none()));
        let rr = plan(&me(host(1, 64512, true)), &all);
        assert_eq!(keys(&rr), ["10.0.0.2", "10.0.0.3", "10.0.0.4"]);
        let role = |p: &Plan, n: u8| {
            p.peers[&PeerKey::from(format!("10.0.0.{n}").parse::<IpAddr>().unwrap())].reflect
        };
        assert_eq!(role(&rr, 2), Some(ReflectRole::NonClient));
        assert_eq!(role(&rr, 3), Some(ReflectRole::Client));
        assert!(rr.reflectors.is_empty());
        // Reflectors of another AS do not count: a host of AS 64600 stays in the full mesh.
        let other_as = plan(&me(host(5, 64600, false)), &all);
        assert_eq!(other_as.peers.len(), 4);
    }

    #[test]
    fn configured_peers_unusable_addresses_and_dual_stack() {
        let mut odd = host(7, 64512, false);
        odd.addresses = vec![];
        let mut v6only = host(8, 64512, false);
        v6only.addresses = vec!["fd00::8".parse().unwrap()];
        let mut twin = host(9, 64512, false);
        twin.addresses = vec!["10.0.0.1".parse().unwrap()];
        let all = hosts(&[
            host(2, 64512, false),
            host(3, 64512, false),
            odd,
            v6only,
            twin,
        ]);
        let mut m = me(host(1, 64512, false));
        m.static_peers.insert("10.0.0.3".parse().unwrap());
        let p = plan(&m, &all);
        assert_eq!(keys(&p), ["10.0.0.2"]);
        assert_eq!(p.skipped.len(), 4, "{:?}", p.skipped);
        // Dual stack: IPv6 routes only between hosts that both registered an IPv6 next hop.
        let mut a = host(1, 64512, false);
        a.addresses.push("fd00::1".parse().unwrap());
        let mut b = host(2, 64512, false);
        b.addresses.push("fd00::2".parse().unwrap());
        let mut m = me(a);
        m.ipv6 = true;
        let p = plan(&m, &hosts(&[b, host(3, 64512, false)]));
        let two = &p.peers[&PeerKey::from("10.0.0.2".parse::<IpAddr>().unwrap())];
        assert!(two.families.ipv6);
        assert_eq!(two.ipv6_next_hop, Some("fd00::1".parse().unwrap()));
        let three = &p.peers[&PeerKey::from("10.0.0.3".parse::<IpAddr>().unwrap())];
        assert!(!three.families.ipv6);
    }
}
