//! The fake kernel's state: namespaces holding links, addresses, routes, neighbours, sysctls,
//! with the kernel's cascading deletes and errno-like failures.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::kernel::{IpvlanMode, KernelError, KernelResult, LinkInfo, MacAddr, Route, RouteTarget};

/// One link of the fake kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeLink {
    /// What `link_by_name` reports.
    pub info: LinkInfo,
    /// For a veth: the peer's namespace and index.
    pub peer: Option<(PathBuf, u32)>,
    /// For an ipvlan slave: its mode (its parent is `info.peer_index`, in another namespace).
    pub ipvlan: Option<IpvlanMode>,
}

/// Everything one fake network namespace holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespace {
    /// Links by index.
    pub links: BTreeMap<u32, FakeLink>,
    /// IPv4 addresses by link index.
    pub addresses: BTreeMap<u32, BTreeSet<IpNet>>,
    /// Main-table routes by destination.
    pub routes: BTreeMap<IpNet, Route>,
    /// Neighbour entries by (link index, address).
    pub neighbours: BTreeMap<(u32, IpAddr), MacAddr>,
    /// Sysctls written, by key.
    pub sysctls: BTreeMap<String, String>,
}

impl Namespace {
    /// A link by name.
    pub fn link(&self, name: &str) -> Option<&FakeLink> {
        self.links.values().find(|l| l.info.name == name)
    }

    fn link_mut(&mut self, index: u32) -> KernelResult<&mut FakeLink> {
        self.links
            .get_mut(&index)
            .ok_or_else(|| not_found_index(index))
    }

    /// Removes a link and what the kernel removes with it; returns its veth peer.
    fn remove_link(&mut self, index: u32) -> Option<(PathBuf, u32)> {
        let link = self.links.remove(&index)?;
        self.addresses.remove(&index);
        self.neighbours.retain(|(i, _), _| *i != index);
        self.routes.retain(|_, r| !route_uses(r, index));
        // Per-interface sysctl directories vanish with the interface.
        let name = link.info.name.as_str();
        self.sysctls
            .retain(|key, _| sysctl_device(key) != Some(name));
        link.peer
    }
}

/// True if the route goes out of `index` (the kernel flushes such routes with the link).
fn route_uses(route: &Route, index: u32) -> bool {
    match &route.target {
        RouteTarget::Device { ifindex } => *ifindex == index,
        RouteTarget::Gateways(hops) => hops.iter().any(|h| h.ifindex == Some(index)),
        RouteTarget::Blackhole => false,
    }
}

fn not_found_index(index: u32) -> KernelError {
    KernelError::NotFound {
        what: format!("link index {index}"),
    }
}

/// All namespaces plus deterministic counters for indices and MACs.
#[derive(Debug, Default)]
pub(super) struct World {
    pub(super) namespaces: BTreeMap<PathBuf, Namespace>,
    next_index: u32,
    next_mac: u32,
}

impl World {
    /// Adds an empty namespace holding only a down `lo`.
    pub(super) fn add_netns(&mut self, path: &Path) {
        let index = self.alloc_index();
        let mut ns = Namespace::default();
        let lo = LinkInfo {
            index,
            name: "lo".into(),
            mac: Some(MacAddr::default()),
            mtu: 65536,
            up: false,
            peer_index: None,
        };
        ns.links.insert(
            index,
            FakeLink {
                info: lo,
                peer: None,
                ipvlan: None,
            },
        );
        self.namespaces.insert(path.to_path_buf(), ns);
    }

    pub(super) fn ns(&self, path: &Path) -> KernelResult<&Namespace> {
        self.namespaces
            .get(path)
            .ok_or_else(|| KernelError::NotFound {
                what: format!("netns {}", path.display()),
            })
    }

    pub(super) fn ns_mut(&mut self, path: &Path) -> KernelResult<&mut Namespace> {
        self.namespaces
            .get_mut(path)
            .ok_or_else(|| KernelError::NotFound {
                what: format!("netns {}", path.display()),
            })
    }

    fn alloc_index(&mut self) -> u32 {
        self.next_index = self.next_index.wrapping_add(1);
        self.next_index
    }

    fn new_link(&mut self, name: &str) -> LinkInfo {
        self.next_mac = self.next_mac.wrapping_add(1);
        let [a, b, c, d] = self.next_mac.to_be_bytes();
        LinkInfo {
            index: self.alloc_index(),
            name: name.to_string(),
            mac: Some(MacAddr([0x02, 0xfa, a, b, c, d])),
            mtu: 1500,
            up: false,
            peer_index: None,
        }
    }

    pub(super) fn create_veth(
        &mut self,
        here: &Path,
        name: &str,
        peer_name: &str,
        peer_ns: &Path,
    ) -> KernelResult<()> {
        for (path, n) in [(here, name), (peer_ns, peer_name)] {
            check_ifname(n)?;
            if self.ns(path)?.link(n).is_some() {
                return Err(KernelError::Exists {
                    what: format!("link {n}"),
                });
            }
        }
        if here == peer_ns && name == peer_name {
            return Err(KernelError::Exists {
                what: format!("link {name}"),
            });
        }
        let mut a = self.new_link(name);
        let mut b = self.new_link(peer_name);
        a.peer_index = Some(b.index);
        b.peer_index = Some(a.index);
        let (ai, bi) = (a.index, b.index);
        let fa = FakeLink {
            info: a,
            peer: Some((peer_ns.to_path_buf(), bi)),
            ipvlan: None,
        };
        let fb = FakeLink {
            info: b,
            peer: Some((here.to_path_buf(), ai)),
            ipvlan: None,
        };
        self.ns_mut(here)?.links.insert(ai, fa);
        self.ns_mut(peer_ns)?.links.insert(bi, fb);
        Ok(())
    }

    pub(super) fn create_ipvlan(
        &mut self,
        here: &Path,
        parent: u32,
        name: &str,
        mode: IpvlanMode,
        target: &Path,
    ) -> KernelResult<()> {
        check_ifname(name)?;
        let parent_link = self.ns(here)?.links.get(&parent).cloned();
        let parent_link = parent_link.ok_or_else(|| not_found_index(parent))?;
        if self.ns(target)?.link(name).is_some() {
            return Err(KernelError::Exists {
                what: format!("link {name}"),
            });
        }
        let mut info = self.new_link(name);
        // ipvlan slaves share the parent's MAC.
        info.mac = parent_link.info.mac;
        info.mtu = parent_link.info.mtu;
        info.peer_index = Some(parent);
        let index = info.index;
        let link = FakeLink {
            info,
            peer: None,
            ipvlan: Some(mode),
        };
        self.ns_mut(target)?.links.insert(index, link);
        Ok(())
    }

    pub(super) fn delete_link(&mut self, here: &Path, index: u32) -> KernelResult<()> {
        let ns = self.ns_mut(here)?;
        if !ns.links.contains_key(&index) {
            return Err(not_found_index(index));
        }
        if let Some((peer_path, peer_index)) = ns.remove_link(index) {
            if let Some(peer_ns) = self.namespaces.get_mut(&peer_path) {
                peer_ns.remove_link(peer_index);
            }
        }
        Ok(())
    }

    pub(super) fn rename(&mut self, here: &Path, index: u32, name: &str) -> KernelResult<()> {
        check_ifname(name)?;
        let ns = self.ns_mut(here)?;
        if ns.link(name).is_some_and(|l| l.info.index != index) {
            return Err(KernelError::Exists {
                what: format!("link {name}"),
            });
        }
        let link = ns.link_mut(index)?;
        if link.info.up {
            return Err(KernelError::Netlink {
                op: "RTM_SETLINK",
                message: "Device or resource busy".into(),
            });
        }
        let old = std::mem::replace(&mut link.info.name, name.to_string());
        // /proc/sys/net/*/conf/<dev> follows the rename.
        let moved: Vec<String> = ns
            .sysctls
            .keys()
            .filter(|k| sysctl_device(k) == Some(old.as_str()))
            .cloned()
            .collect();
        for key in moved {
            if let Some(v) = ns.sysctls.remove(&key) {
                let new_key = key.replacen(&format!("/{old}/"), &format!("/{name}/"), 1);
                ns.sysctls.insert(new_key, v);
            }
        }
        Ok(())
    }

    pub(super) fn set_up(&mut self, here: &Path, index: u32) -> KernelResult<()> {
        self.ns_mut(here)?.link_mut(index)?.info.up = true;
        Ok(())
    }

    pub(super) fn set_mtu(&mut self, here: &Path, index: u32, mtu: u32) -> KernelResult<()> {
        if !(68..=65535).contains(&mtu) {
            return Err(KernelError::Netlink {
                op: "RTM_SETLINK",
                message: "Invalid argument".into(),
            });
        }
        self.ns_mut(here)?.link_mut(index)?.info.mtu = mtu;
        Ok(())
    }

    pub(super) fn add_address(&mut self, here: &Path, index: u32, a: IpNet) -> KernelResult<()> {
        let ns = self.ns_mut(here)?;
        ns.link_mut(index)?;
        ns.addresses.entry(index).or_default().insert(a);
        Ok(())
    }

    pub(super) fn replace_route(&mut self, here: &Path, route: &Route) -> KernelResult<()> {
        let ns = self.ns_mut(here)?;
        let missing = match &route.target {
            RouteTarget::Device { ifindex } => Some(*ifindex),
            RouteTarget::Gateways(hops) if hops.is_empty() => {
                return Err(KernelError::Invalid("route without next hops".into()))
            }
            RouteTarget::Gateways(hops) => {
                // The kernel's rules: a link-local gateway needs its device; an IPv6 route
                // cannot go via an IPv4 gateway (the other way round is RTA_VIA, RFC 8950).
                for h in hops {
                    let v6_via_v4 = route.destination.addr().is_ipv6() && h.gateway.is_ipv4();
                    if (h.is_link_local() && h.ifindex.is_none()) || v6_via_v4 {
                        return Err(KernelError::Netlink {
                            op: "RTM_NEWROUTE",
                            message: format!("Nexthop has invalid gateway ({})", h.gateway),
                        });
                    }
                }
                hops.iter()
                    .filter_map(|h| h.ifindex)
                    .find(|i| !ns.links.contains_key(i))
            }
            RouteTarget::Blackhole => None,
        };
        if let Some(index) = missing.filter(|i| !ns.links.contains_key(i)) {
            return Err(not_found_index(index));
        }
        if route.destination.trunc() != route.destination {
            return Err(KernelError::Netlink {
                op: "RTM_NEWROUTE",
                message: "Invalid prefix for given prefix length".into(),
            });
        }
        ns.routes.insert(route.destination, route.clone());
        Ok(())
    }

    pub(super) fn delete_route(&mut self, here: &Path, dst: IpNet, proto: u8) -> KernelResult<()> {
        let ns = self.ns_mut(here)?;
        match ns.routes.get(&dst) {
            Some(r) if r.protocol == proto => {
                ns.routes.remove(&dst);
                Ok(())
            }
            _ => Err(KernelError::NotFound {
                what: format!("route {dst} proto {proto}"),
            }),
        }
    }

    pub(super) fn add_neighbour(
        &mut self,
        here: &Path,
        index: u32,
        ip: IpAddr,
        mac: MacAddr,
    ) -> KernelResult<()> {
        let ns = self.ns_mut(here)?;
        ns.link_mut(index)?;
        ns.neighbours.insert((index, ip), mac);
        Ok(())
    }

    pub(super) fn write_sysctl(&mut self, here: &Path, key: &str, value: &str) -> KernelResult<()> {
        let ns = self.ns_mut(here)?;
        check_sysctl_exists(ns, key)?;
        ns.sysctls.insert(key.to_string(), value.to_string());
        Ok(())
    }
}

/// Per-interface sysctls exist only while the interface does, as in /proc/sys.
pub(super) fn check_sysctl_exists(ns: &Namespace, key: &str) -> KernelResult<()> {
    let Some(dev) = sysctl_device(key) else {
        return Ok(());
    };
    if ns.link(dev).is_some() {
        Ok(())
    } else {
        Err(KernelError::NotFound {
            what: format!("sysctl {key}"),
        })
    }
}

/// The interface a per-interface sysctl (`net/<af>/{conf,neigh}/<dev>/...`) belongs to;
/// `None` for global keys and the `all`/`default` pseudo-interfaces.
fn sysctl_device(key: &str) -> Option<&str> {
    let mut parts = key.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("net"), Some(_), Some("conf" | "neigh"), Some(dev))
            if dev != "all" && dev != "default" =>
        {
            Some(dev)
        }
        _ => None,
    }
}

/// The kernel's interface name rule: 1..=15 bytes, no `/`, no whitespace.
fn check_ifname(name: &str) -> KernelResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && !name.contains(['/', ':'])
        && !name.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(KernelError::Invalid(format!("interface name {name:?}")))
    }
}
