//! Settings that parse and each look fine, but cannot work on a real host or together: a peer
//! that is this host, a socket path the kernel cannot bind, an IPv6 block with no IPv6 range,
//! an uplink listed twice, TTL settings that contradict each other.

use std::collections::HashSet;
use std::net::IpAddr;

use super::{Config, PeerAsn, Problem};

/// The longest unix socket path: `sun_path` holds 108 bytes, the terminating NUL included.
pub const MAX_SOCKET_PATH: usize = 107;
/// The longest Shutdown Communication (RFC 9003).
const MAX_SHUTDOWN_MESSAGE: usize = bgp::wire::MAX_SHUTDOWN_COMMUNICATION;

/// The first such problem, in file order.
pub fn check(c: &Config) -> Result<(), Problem> {
    if c.ipam.block_v6.is_some() && c.cluster.cidr_v6.is_none() {
        return Err(Problem::new(
            "ipam.block_v6",
            "needs cluster.cidr_v6 (the IPv6 range the block belongs to); without it no \
             container gets an IPv6 address",
        ));
    }
    let mut uplinks = HashSet::new();
    for (i, up) in c.dataplane.uplinks.iter().enumerate() {
        if !uplinks.insert(up) {
            return Err(Problem::new(
                format!("dataplane.uplinks[{i}]"),
                format!("{up:?} is listed twice"),
            ));
        }
    }
    for (i, p) in c.bgp.peers.iter().enumerate() {
        let key = |k: &str| format!("bgp.peers[{i}].{k}");
        if let Some(hops) = p.ebgp_multihop {
            if hops == 0 {
                return Err(Problem::new(key("ebgp_multihop"), "must be 1-255"));
            }
            if matches!(p.asn, PeerAsn::Internal)
                || matches!(p.asn, PeerAsn::Number(n) if n == c.node.asn)
            {
                return Err(Problem::new(
                    key("ebgp_multihop"),
                    "applies to eBGP only (this peer's asn is node.asn or internal: iBGP)",
                ));
            }
            if p.ttl_security {
                return Err(Problem::new(
                    key("ebgp_multihop"),
                    "cannot be combined with ttl_security (GTSM sends TTL 255)",
                ));
            }
        }
    }
    own_addresses(c, &configured_own_addresses(c))?;
    if let Some(m) = &c.bgp.shutdown_message {
        if m.is_empty() || m.len() > MAX_SHUTDOWN_MESSAGE {
            return Err(Problem::new(
                "bgp.shutdown_message",
                format!(
                    "is {} bytes; a shutdown communication is 1-{MAX_SHUTDOWN_MESSAGE} bytes of \
                     UTF-8 (RFC 9003)",
                    m.len()
                ),
            ));
        }
    }
    for (key, path) in [
        ("api.socket", &c.api.socket),
        ("docker.socket", &c.docker.socket),
    ] {
        let len = path.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(Problem::new(
                key,
                format!(
                    "is {len} bytes long; a unix socket path is at most {MAX_SOCKET_PATH} \
                     (108 with the terminating NUL)"
                ),
            ));
        }
    }
    Ok(())
}

/// This host's addresses the configuration itself names: `node.router_id`, a specific
/// `bgp.listen.address`, `ipam.fan.address`, the peers' `local_address`es.
fn configured_own_addresses(c: &Config) -> Vec<(IpAddr, String)> {
    let mut own = vec![(IpAddr::V4(c.node.router_id), "node.router_id".to_string())];
    if let Some(a) = c.bgp.listen.address.filter(|a| !a.is_unspecified()) {
        own.push((a, "bgp.listen.address".into()));
    }
    if let Some(a) = c.ipam.fan.as_ref().and_then(|f| f.address) {
        own.push((IpAddr::V4(a), "ipam.fan.address".into()));
    }
    for (i, p) in c.bgp.peers.iter().enumerate() {
        if let Some(a) = p.local_address {
            own.push((a, format!("bgp.peers[{i}].local_address")));
        }
    }
    own
}

/// Refuse a peer whose address is one of `own` (address, what it is): a session with
/// ourselves never comes up, and its routes would point at this host.
pub fn own_addresses(c: &Config, own: &[(IpAddr, String)]) -> Result<(), Problem> {
    for (i, p) in c.bgp.peers.iter().enumerate() {
        // An interface peer has no configured address: nothing to compare.
        let Some(address) = p.address else {
            continue;
        };
        let canonical = address.to_canonical();
        if let Some((_, what)) = own.iter().find(|(a, _)| a.to_canonical() == canonical) {
            return Err(Problem::new(
                format!("bgp.peers[{i}].address"),
                format!("{address} is this host's own address ({what})"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const BASE: &str = "\
node: { name: h, asn: 65101, router_id: 10.0.1.2 }
cluster: { cidr: 10.244.0.0/16 }
ipam: { block: 10.244.1.0/24 }
dataplane: { uplinks: [eth1] }
bgp:
  peers:
    - { address: 10.0.1.1, asn: 65001 }
api: { socket: /run/lattice/lattice.sock }
";

    /// The example with `from` replaced by `to`: (line, key) of the error, and its text.
    fn refused(from: &str, to: &str) -> (usize, String, String) {
        let text = BASE.replace(from, to);
        assert_ne!(text, BASE, "{from} did not apply");
        let e = Config::from_yaml_str(&text, "h.yaml").unwrap_err();
        (
            e.line().unwrap(),
            e.key().unwrap().to_string(),
            e.to_string(),
        )
    }

    #[test]
    fn what_cannot_work_is_refused_naming_key_and_line() {
        assert!(Config::from_yaml_str(BASE, "h.yaml").is_ok());
        let long = format!("/run/{}/l.sock", "x".repeat(100));
        let cases: Vec<(&str, String, usize, &str, &str)> = vec![
            (
                "block: 10.244.1.0/24",
                "block: 10.244.1.0/24, block_v6: 'fd00:244:1::/120'".into(),
                3,
                "ipam.block_v6",
                "cluster.cidr_v6",
            ),
            (
                "[eth1]",
                "[eth1, eth2, eth1]".into(),
                4,
                "dataplane.uplinks[2]",
                "twice",
            ),
            (
                "10.0.1.1",
                "10.0.1.2".into(),
                7,
                "bgp.peers[0].address",
                "node.router_id",
            ),
            (
                "bgp:\n",
                "bgp:\n  listen: { address: 10.0.1.1 }\n".into(),
                8,
                "bgp.peers[0].address",
                "bgp.listen.address",
            ),
            (
                "/run/lattice/lattice.sock",
                long.clone(),
                8,
                "api.socket",
                "108",
            ),
            (
                "asn: 65001 }",
                "asn: 65001, ebgp_multihop: 0 }".into(),
                7,
                "bgp.peers[0].ebgp_multihop",
                "1-255",
            ),
            (
                "asn: 65001 }",
                "asn: 65101, ebgp_multihop: 2 }".into(),
                7,
                "bgp.peers[0].ebgp_multihop",
                "eBGP only",
            ),
            (
                "asn: 65001 }",
                "asn: 65001, ebgp_multihop: 2, ttl_security: true }".into(),
                7,
                "bgp.peers[0].ebgp_multihop",
                "ttl_security",
            ),
            (
                "bgp:\n",
                format!("bgp:\n  shutdown_message: '{}'\n", "é".repeat(128)),
                6,
                "bgp.shutdown_message",
                "RFC 9003",
            ),
        ];
        for (from, to, line, key, says) in cases {
            let (got_line, got_key, shown) = refused(from, &to);
            assert_eq!((got_line, got_key.as_str()), (line, key), "{shown}");
            assert!(shown.contains(says), "{shown}");
        }
    }

    #[test]
    fn ttl_settings_and_the_shutdown_message_are_read() {
        let text = BASE.replace(
            "asn: 65001 }",
            "asn: 65001, ebgp_multihop: 3 }\n    - { address: 10.0.1.9, asn: 65009, ttl_security: true }",
        ) + "";
        let text = text.replace("bgp:\n", "bgp:\n  shutdown_message: 'rack 3 maintenance'\n");
        let c = Config::from_yaml_str(&text, "h.yaml").unwrap();
        assert_eq!(c.bgp.peers[0].ebgp_multihop, Some(3));
        assert!(!c.bgp.peers[0].ttl_security);
        assert!(c.bgp.peers[1].ttl_security);
        assert_eq!(
            c.bgp.shutdown_message.as_deref(),
            Some("rack 3 maintenance")
        );
    }

    #[test]
    fn a_peer_at_an_uplink_address_found_at_start_is_refused() {
        let c = Config::from_yaml_str(BASE, "h.yaml").unwrap();
        let found = [(
            "10.0.1.1".parse().unwrap(),
            "address of uplink eth1".to_string(),
        )];
        let p = own_addresses(&c, &found).unwrap_err();
        assert_eq!(p.key, "bgp.peers[0].address");
        assert!(p.message.contains("uplink eth1"), "{p}");
    }
}
