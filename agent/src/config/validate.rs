//! Checks on values that parse but are not acceptable. Each failure is (key path, message).

use std::collections::HashSet;

use super::{Config, Problem, UplinkAddresses};

type Failure = (String, String);

impl From<Problem> for Failure {
    fn from(p: Problem) -> Failure {
        (p.key, p.message)
    }
}

/// The first problem found, in file order.
pub fn validate(c: &Config) -> Result<(), Failure> {
    node(c)?;
    cluster(c)?;
    ipam(c)?;
    dataplane(c)?;
    bgp(c)?;
    if !c.api.socket.is_absolute() {
        return fail("api.socket", "must be an absolute path");
    }
    if !c.docker.socket.is_absolute() {
        return fail("docker.socket", "must be an absolute path");
    }
    if c.docker.enabled && c.docker.socket == c.api.socket {
        return fail("docker.socket", "must differ from api.socket");
    }
    super::sanity::check(c)?;
    Ok(())
}

fn fail<T>(key: impl Into<String>, message: impl Into<String>) -> Result<T, Failure> {
    Err((key.into(), message.into()))
}

fn node(c: &Config) -> Result<(), Failure> {
    let name = &c.node.name;
    if name.is_empty()
        || name.len() > 63
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
    {
        return fail(
            "node.name",
            "must be 1-63 characters of letters, digits, '-', '_' or '.'",
        );
    }
    asn("node.asn", c.node.asn)?;
    if c.node.router_id.is_unspecified() {
        return fail("node.router_id", "must not be 0.0.0.0 (RFC 6286)");
    }
    Ok(())
}

fn asn(key: &str, asn: u32) -> Result<(), Failure> {
    match asn {
        0 => fail(key, "AS 0 is reserved (RFC 7607)"),
        23456 => fail(key, "AS 23456 is AS_TRANS, reserved (RFC 6793)"),
        _ => Ok(()),
    }
}

fn cluster(c: &Config) -> Result<(), Failure> {
    let cidr = c.cluster.cidr;
    if cidr.addr() != cidr.network() {
        return fail(
            "cluster.cidr",
            format!("{cidr} has host bits set (did you mean {}?)", cidr.trunc()),
        );
    }
    let len = c.cluster.block_prefix_len;
    if len < cidr.prefix_len() || len > 32 {
        return fail(
            "cluster.block_prefix_len",
            format!(
                "must be between /{} (cluster.cidr) and /32",
                cidr.prefix_len()
            ),
        );
    }
    Ok(())
}

fn ipam(c: &Config) -> Result<(), Failure> {
    // The datastore and its section (and, for fan, whether this host can have an address).
    let settings = c.ipam_settings(UplinkAddresses::NotLookedUp)?;
    if !c.ipam.state_dir.is_absolute() {
        return fail("ipam.state_dir", "must be an absolute path");
    }
    if c.ipam.max_blocks_per_host == 0 {
        return fail("ipam.max_blocks_per_host", "must be at least 1");
    }
    if c.ipam.block_grace_period < 2 {
        return fail(
            "ipam.block_grace_period",
            "must be at least 2 seconds (it is also the etcd lease TTL)",
        );
    }
    if let Some(c6) = c.cluster.cidr_v6 {
        if c6.addr() != c6.network() {
            return fail(
                "cluster.cidr_v6",
                format!("{c6} has host bits set (did you mean {}?)", c6.trunc()),
            );
        }
    }
    match ipam::fixed_blocks(&settings) {
        Ok(_) => Ok(()),
        Err(ipam::IpamError::BadConfig { field, message }) => fail(field, message),
        Err(e) => fail("ipam", e.to_string()),
    }
}

fn dataplane(c: &Config) -> Result<(), Failure> {
    c.wiring()?;
    if let Some(p) = &c.dataplane.parent {
        if p.is_empty() || p.len() > 15 || p.contains('/') || p.contains(char::is_whitespace) {
            return fail(
                "dataplane.parent",
                format!("{p:?} is not an interface name"),
            );
        }
    }
    if !(1..=3600).contains(&c.dataplane.resync_interval) {
        return fail(
            "dataplane.resync_interval",
            "must be between 1 and 3600 seconds",
        );
    }
    if !(4096..=1 << 30).contains(&c.dataplane.netlink_receive_buffer) {
        return fail(
            "dataplane.netlink_receive_buffer",
            "must be between 4096 and 1073741824 bytes",
        );
    }
    for (i, up) in c.dataplane.uplinks.iter().enumerate() {
        if up.is_empty() || up.len() > 15 || up.contains('/') || up.contains(char::is_whitespace) {
            return fail(
                format!("dataplane.uplinks[{i}]"),
                format!("{up:?} is not an interface name"),
            );
        }
    }
    if let Some(mtu) = c.dataplane.mtu {
        if !(68..=65535).contains(&mtu) {
            return fail("dataplane.mtu", "must be between 68 and 65535");
        }
    }
    Ok(())
}

fn bgp(c: &Config) -> Result<(), Failure> {
    super::policy::check_policies(&c.bgp)?;
    let mut seen = HashSet::new();
    let ipv4_listener = matches!(c.bgp.listen.address, Some(a) if a.is_ipv4());
    for (i, p) in c.bgp.peers.iter().enumerate() {
        let key = |k: &str| format!("bgp.peers[{i}].{k}");
        neighbour(p, ipv4_listener, &key)?;
        if !seen.insert(p.key()) {
            return match (&p.interface, p.address) {
                (Some(name), _) => fail(key("interface"), format!("{name} is listed twice")),
                (None, a) => fail(
                    key("address"),
                    format!(
                        "{} is listed twice",
                        a.map(|a| a.to_string()).unwrap_or_default()
                    ),
                ),
            };
        }
        if let super::PeerAsn::Number(n) = p.asn {
            asn(&key("asn"), n)?;
        }
        if matches!(p.hold_time, 1 | 2) {
            return fail(
                key("hold_time"),
                "must be 0 or at least 3 seconds (RFC 4271 §4.2)",
            );
        }
        if p.port == 0 {
            return fail(key("port"), "must not be 0");
        }
        if p.connect_retry == 0 {
            return fail(key("connect_retry"), "must be at least 1 second");
        }
        if let Some(k) = p.keepalive {
            if k == 0 || (p.hold_time > 0 && k >= p.hold_time) {
                return fail(
                    key("keepalive"),
                    "must be at least 1 second and below hold_time",
                );
            }
        }
        if p.allow_as_in > 10 {
            return fail(key("allow_as_in"), "must be between 0 and 10");
        }
        if p.max_prefixes == Some(0) {
            return fail(
                key("max_prefixes"),
                "must be at least 1 (leave it out for no limit)",
            );
        }
        if let Some(name) = p.import.as_ref().and_then(|i| i.policy()) {
            super::policy::check_reference(&c.bgp, &key("import"), name)?;
        }
        for (j, rule) in p.import.iter().flat_map(|i| i.list()).enumerate() {
            if let Err(m) = rule.check() {
                return fail(key(&format!("import[{j}]")), m);
            }
        }
        if let Some(name) = p.export.policy() {
            super::policy::check_reference(&c.bgp, &key("export"), name)?;
        }
        if let Some(password) = p.password.as_ref().map(|p| p.expose()) {
            // The kernel's limit (TCP_MD5SIG_MAXKEYLEN); the key itself is never echoed.
            if password.is_empty() || password.len() > 80 {
                return fail(
                    key("password"),
                    format!(
                        "is {} bytes long; a TCP MD5 key is 1-80 bytes (leave it out for none)",
                        password.len()
                    ),
                );
            }
        }
        for (j, prefix) in p.export.list().iter().enumerate() {
            if prefix.addr() != prefix.network() {
                return fail(
                    key(&format!("export[{j}]")),
                    format!("{prefix} has host bits set"),
                );
            }
        }
        if let (Some(local), Some(address)) = (p.local_address, p.address) {
            if local.is_ipv4() != address.is_ipv4() {
                return fail(
                    key("local_address"),
                    "must be of the same family as address",
                );
            }
        }
        for (j, c) in p.communities.iter().enumerate() {
            if let Err(m) = c.parse::<super::Community>() {
                return fail(key(&format!("communities[{j}]")), m);
            }
        }
        if let Some(families) = &p.address_families {
            if families.is_empty() {
                return fail(
                    key("address_families"),
                    "must name at least one of ipv4, ipv6",
                );
            }
            for (j, f) in families.iter().enumerate() {
                if f != "ipv4" && f != "ipv6" {
                    return fail(
                        key(&format!("address_families[{j}]")),
                        format!("unknown family {f:?} (supported: ipv4, ipv6)"),
                    );
                }
            }
        }
    }
    if c.bgp.graceful_restart.restart_time > 4095 {
        return fail(
            "bgp.graceful_restart.restart_time",
            "must be at most 4095 seconds (RFC 4724: 12 bits)",
        );
    }
    if c.bgp.listen.port == 0 {
        return fail("bgp.listen.port", "must not be 0");
    }
    if !(1..=64).contains(&c.bgp.multipath.maximum_paths) {
        return fail("bgp.multipath.maximum_paths", "must be between 1 and 64");
    }
    super::bfd::check(&c.bgp)?;
    super::mesh::validate(c)
}

/// `address` or `interface`, exactly one, and what goes with each.
fn neighbour(
    p: &super::PeerConfig,
    ipv4_listener: bool,
    key: &dyn Fn(&str) -> String,
) -> Result<(), Failure> {
    match (&p.interface, p.address) {
        (Some(_), Some(_)) => fail(
            key("interface"),
            "give either address or interface, not both",
        ),
        (None, None) => fail(
            key("address"),
            "missing: give the neighbour's address, or the interface it is on (interface: eth1)",
        ),
        (None, Some(a)) => {
            let broadcast = matches!(a, std::net::IpAddr::V4(v4) if v4.is_broadcast());
            if a.is_unspecified() || broadcast || a.is_multicast() {
                return fail(key("address"), format!("{a} cannot be a BGP neighbour"));
            }
            if matches!(a, std::net::IpAddr::V6(v6) if v6.is_unicast_link_local()) {
                return fail(
                    key("address"),
                    format!(
                        "{a} is link-local: it means nothing without its interface; \
                         use interface: IFNAME (the neighbour's link-local address is learned)"
                    ),
                );
            }
            Ok(())
        }
        (Some(name), None) => {
            if !bgp::is_interface_name(name) {
                return fail(
                    key("interface"),
                    format!("{name:?} is not an interface name"),
                );
            }
            if p.password.is_some() {
                return fail(
                    key("password"),
                    "is not supported on interface peers yet (the neighbour's address is learned)",
                );
            }
            if p.local_address.is_some() {
                return fail(
                    key("local_address"),
                    "an interface peer's sessions run from the interface's link-local address",
                );
            }
            if ipv4_listener {
                return fail(
                    "bgp.listen.address",
                    format!(
                        "interface peer {name} connects over IPv6 link-local addresses: listen \
                         on :: (or leave bgp.listen.address out)"
                    ),
                );
            }
            Ok(())
        }
    }
}
