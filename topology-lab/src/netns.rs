//! Network namespaces and veths through iproute2. Nothing here touches the root namespace
//! except creating a veth pair whose both ends are placed directly in lab namespaces.

use std::path::Path;

use serde::Deserialize;

use crate::error::LabError;
use crate::sh;

/// Whether `/run/netns/NS` exists.
pub fn exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// `ip netns add NS` and bring `lo` up in it.
pub fn add(ns: &str) -> Result<(), LabError> {
    sh::ip(&["netns", "add", ns])?;
    sh::ip(&["-n", ns, "link", "set", "lo", "up"])?;
    Ok(())
}

/// `ip netns del NS`.
pub fn del(ns: &str) -> Result<(), LabError> {
    sh::ip(&["netns", "del", ns]).map(|_| ())
}

/// Pids of processes whose network namespace is NS.
pub fn pids(ns: &str) -> Result<Vec<u32>, LabError> {
    let out = sh::ip(&["netns", "pids", ns])?;
    Ok(out
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect())
}

/// A veth with end `a_if` in `a_ns` and `b_if` in `b_ns`, both up.
pub fn veth(a_ns: &str, a_if: &str, b_ns: &str, b_if: &str) -> Result<(), LabError> {
    sh::ip(&[
        "link", "add", a_if, "netns", a_ns, "type", "veth", "peer", "name", b_if, "netns", b_ns,
    ])?;
    sh::ip(&["-n", a_ns, "link", "set", a_if, "up"])?;
    sh::ip(&["-n", b_ns, "link", "set", b_if, "up"])?;
    Ok(())
}

/// Set an interface's MTU, MAC address and addresses (IPv6 without duplicate address
/// detection: a point-to-point veth has no one to clash with, and a tentative address would
/// hold up the routing that starts right after).
pub fn configure(
    ns: &str,
    ifname: &str,
    mtu: Option<u32>,
    mac: Option<&str>,
    addrs: &[ipnet::IpNet],
) -> Result<(), LabError> {
    if let Some(mtu) = mtu {
        sh::ip(&[
            "-n",
            ns,
            "link",
            "set",
            "dev",
            ifname,
            "mtu",
            &mtu.to_string(),
        ])?;
    }
    if let Some(mac) = mac {
        sh::ip(&["-n", ns, "link", "set", "dev", ifname, "address", mac])?;
    }
    for a in addrs {
        let a = a.to_string();
        let mut args = vec!["-n", ns, "addr", "add", a.as_str(), "dev", ifname];
        if a.contains(':') {
            args.push("nodad");
        }
        sh::ip(&args)?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct IpLink {
    ifname: String,
    #[serde(default)]
    addr_info: Vec<IpAddrInfo>,
}

#[derive(Deserialize)]
struct IpAddrInfo {
    local: String,
    prefixlen: u8,
}

/// `ifname=addr/len` of every IPv4 address except loopback's.
pub fn ipv4_addresses(ns: &str) -> Result<Vec<String>, LabError> {
    let out = sh::ip(&["-n", ns, "-j", "-4", "addr", "show"])?;
    Ok(parse_addresses(&out))
}

/// Parse `ip -j -4 addr show` output (pure, for tests).
pub fn parse_addresses(json: &str) -> Vec<String> {
    let links: Vec<IpLink> = serde_json::from_str(json).unwrap_or_default();
    links
        .iter()
        .filter(|l| l.ifname != "lo")
        .flat_map(|l| {
            l.addr_info
                .iter()
                .map(move |a| format!("{}={}/{}", l.ifname, a.local, a.prefixlen))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_json() {
        let j = r#"[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
            {"ifindex":2,"ifname":"eth1","addr_info":[{"family":"inet","local":"10.0.0.1","prefixlen":31}]},
            {"ifindex":3,"ifname":"eth2","addr_info":[]}]"#;
        assert_eq!(parse_addresses(j), vec!["eth1=10.0.0.1/31"]);
        assert!(parse_addresses("garbage").is_empty());
    }
}
