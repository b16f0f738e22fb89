//! An in-memory [`Kernel`]: deterministic indices and MACs, the kernel's cascading deletes,
//! and injectable failures, so dataplane logic is unit-tested without root.

mod events;
mod state;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use ipnet::IpNet;

pub use state::{FakeLink, Namespace};

use super::{
    validate_sysctl_key, EventReceiver, EventSender, IpvlanMode, Kernel, KernelError, KernelResult,
    LinkInfo, MacAddr, NetnsId, NetnsKind, Route,
};
use state::World;

/// The operations of [`Kernel`], to name one in [`FakeKernel::fail_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FakeOp {
    /// [`Kernel::create_veth`]
    CreateVeth,
    /// [`Kernel::create_ipvlan`]
    CreateIpvlan,
    /// [`Kernel::delete_link`]
    DeleteLink,
    /// [`Kernel::rename_link`]
    RenameLink,
    /// [`Kernel::set_link_up`]
    SetLinkUp,
    /// [`Kernel::set_link_mtu`]
    SetLinkMtu,
    /// [`Kernel::add_address`]
    AddAddress,
    /// [`Kernel::replace_route`]
    ReplaceRoute,
    /// [`Kernel::delete_route`]
    DeleteRoute,
    /// [`Kernel::add_neighbour`]
    AddNeighbour,
    /// [`Kernel::write_sysctl`]
    WriteSysctl,
}

#[derive(Debug, Default)]
struct Shared {
    world: World,
    /// Remaining injected failures: op -> how many calls from now it fails (1 = the next one).
    failures: BTreeMap<FakeOp, u32>,
    /// Every mutating call, in order, as (namespace, op).
    log: Vec<(PathBuf, FakeOp)>,
    /// Event subscribers per namespace.
    subscribers: BTreeMap<PathBuf, Vec<EventSender>>,
    /// Pretend the kernel was built without ipvlan (like this project's CI machines).
    no_ipvlan: bool,
}

/// A fake kernel bound to one namespace of a shared in-memory world.
#[derive(Debug, Clone)]
pub struct FakeKernel {
    shared: Arc<Mutex<Shared>>,
    ns: PathBuf,
}

impl Default for FakeKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeKernel {
    /// The namespace path of the kernel returned by [`FakeKernel::new`].
    pub const HOST: &'static str = "/fake/host";

    /// A world with one namespace, [`FakeKernel::HOST`], holding only `lo`.
    pub fn new() -> Self {
        let mut shared = Shared::default();
        shared.world.add_netns(Path::new(Self::HOST));
        FakeKernel {
            shared: Arc::new(Mutex::new(shared)),
            ns: PathBuf::from(Self::HOST),
        }
    }

    /// Creates another namespace (holding only `lo`) that `netns(path)` can open.
    pub fn add_netns(&self, path: impl AsRef<Path>) {
        self.lock().world.add_netns(path.as_ref());
    }

    /// Removes a namespace (veth peers elsewhere go with it, as in the kernel).
    pub fn remove_netns(&self, path: impl AsRef<Path>) {
        let mut shared = self.lock();
        let Some(ns) = shared.world.namespaces.remove(path.as_ref()) else {
            return;
        };
        for (peer_path, peer_index) in ns.links.values().filter_map(|l| l.peer.clone()) {
            // The peer's namespace may be this one; then it is already gone.
            let _ = shared.world.delete_link(&peer_path, peer_index);
        }
    }

    /// From now on `create_ipvlan` fails as on a kernel without the ipvlan driver.
    pub fn without_ipvlan(&self) {
        self.lock().no_ipvlan = true;
    }

    /// Makes the `nth` next call (1 = the very next) of `op`, in any namespace, fail.
    pub fn fail_next(&self, op: FakeOp, nth: u32) {
        self.lock().failures.insert(op, nth);
    }

    /// A copy of this kernel's namespace.
    pub fn snapshot(&self) -> Namespace {
        self.snapshot_of(&self.ns).unwrap_or_default()
    }

    /// A copy of the namespace at `path`, if it exists.
    pub fn snapshot_of(&self, path: impl AsRef<Path>) -> Option<Namespace> {
        self.lock().world.namespaces.get(path.as_ref()).cloned()
    }

    /// The mutating calls made so far, in order.
    pub fn log(&self) -> Vec<(PathBuf, FakeOp)> {
        self.lock().log.clone()
    }

    /// Clears the call log.
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panicking test thread must not turn every later call into a panic.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs `op`, fires an injected failure if one is due, else runs `f` on the world.
    fn mutate<T>(
        &self,
        op: FakeOp,
        f: impl FnOnce(&mut World, &Path) -> KernelResult<T>,
    ) -> KernelResult<T> {
        let mut shared = self.lock();
        shared.log.push((self.ns.clone(), op));
        if let Some(n) = shared.failures.get_mut(&op) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                shared.failures.remove(&op);
                return Err(KernelError::Netlink {
                    op: "injected",
                    message: format!("injected failure of {op:?}"),
                });
            }
        }
        if shared.subscribers.is_empty() {
            return f(&mut shared.world, &self.ns);
        }
        // Notify like the kernel: compare every watched namespace before and after.
        let watched: Vec<PathBuf> = shared.subscribers.keys().cloned().collect();
        let before: Vec<Option<Namespace>> = watched
            .iter()
            .map(|p| shared.world.namespaces.get(p).cloned())
            .collect();
        let result = f(&mut shared.world, &self.ns);
        for (path, old) in watched.iter().zip(before) {
            let new = shared
                .world
                .namespaces
                .get(path)
                .cloned()
                .unwrap_or_default();
            let events = events::diff_events(&old.unwrap_or_default(), &new);
            if let Some(subs) = shared.subscribers.get_mut(path) {
                for event in events {
                    subs.retain_mut(|s| s.send(event.clone()));
                }
            }
        }
        shared.subscribers.retain(|_, subs| !subs.is_empty());
        result
    }
}

#[async_trait]
impl Kernel for FakeKernel {
    async fn create_veth(&self, name: &str, peer: &str, peer_netns: &Path) -> KernelResult<()> {
        self.mutate(FakeOp::CreateVeth, |w, ns| {
            w.create_veth(ns, name, peer, peer_netns)
        })
    }

    async fn create_ipvlan(
        &self,
        parent: u32,
        name: &str,
        mode: IpvlanMode,
        netns: Option<&Path>,
    ) -> KernelResult<()> {
        if self.lock().no_ipvlan {
            return Err(KernelError::Unsupported(
                "this kernel has no ipvlan driver (Unknown device type)".into(),
            ));
        }
        self.mutate(FakeOp::CreateIpvlan, |w, ns| {
            let target = netns.unwrap_or(ns).to_path_buf();
            w.create_ipvlan(ns, parent, name, mode, &target)
        })
    }

    async fn delete_link(&self, index: u32) -> KernelResult<()> {
        self.mutate(FakeOp::DeleteLink, |w, ns| w.delete_link(ns, index))
    }

    async fn link_by_name(&self, name: &str) -> KernelResult<LinkInfo> {
        let shared = self.lock();
        let ns = shared.world.ns(&self.ns)?;
        ns.link(name)
            .map(|l| l.info.clone())
            .ok_or_else(|| KernelError::NotFound {
                what: format!("link {name}"),
            })
    }

    async fn links(&self) -> KernelResult<Vec<LinkInfo>> {
        let shared = self.lock();
        let ns = shared.world.ns(&self.ns)?;
        Ok(ns.links.values().map(|l| l.info.clone()).collect())
    }

    async fn rename_link(&self, index: u32, name: &str) -> KernelResult<()> {
        self.mutate(FakeOp::RenameLink, |w, ns| w.rename(ns, index, name))
    }

    async fn set_link_up(&self, index: u32) -> KernelResult<()> {
        self.mutate(FakeOp::SetLinkUp, |w, ns| w.set_up(ns, index))
    }

    async fn set_link_mtu(&self, index: u32, mtu: u32) -> KernelResult<()> {
        self.mutate(FakeOp::SetLinkMtu, |w, ns| w.set_mtu(ns, index, mtu))
    }

    async fn add_address(&self, index: u32, address: IpNet) -> KernelResult<()> {
        self.mutate(FakeOp::AddAddress, |w, ns| {
            w.add_address(ns, index, address)
        })
    }

    async fn addresses(&self, index: u32) -> KernelResult<Vec<IpNet>> {
        let shared = self.lock();
        let ns = shared.world.ns(&self.ns)?;
        let set = ns.addresses.get(&index);
        Ok(set.map(|s| s.iter().copied().collect()).unwrap_or_default())
    }

    async fn all_addresses(&self) -> KernelResult<Vec<(u32, IpNet)>> {
        let shared = self.lock();
        let ns = shared.world.ns(&self.ns)?;
        let all = ns.addresses.iter();
        Ok(all
            .flat_map(|(i, set)| set.iter().map(move |a| (*i, *a)))
            .collect())
    }

    async fn replace_route(&self, route: &Route) -> KernelResult<()> {
        self.mutate(FakeOp::ReplaceRoute, |w, ns| w.replace_route(ns, route))
    }

    async fn delete_route(&self, destination: IpNet, protocol: u8) -> KernelResult<()> {
        self.mutate(FakeOp::DeleteRoute, |w, ns| {
            w.delete_route(ns, destination, protocol)
        })
    }

    async fn routes(&self, protocol: u8) -> KernelResult<Vec<Route>> {
        let shared = self.lock();
        let ns = shared.world.ns(&self.ns)?;
        let routes = ns.routes.values().filter(|r| r.protocol == protocol);
        Ok(routes.cloned().collect())
    }

    async fn add_neighbour(&self, index: u32, ip: IpAddr, mac: MacAddr) -> KernelResult<()> {
        self.mutate(FakeOp::AddNeighbour, |w, ns| {
            w.add_neighbour(ns, index, ip, mac)
        })
    }

    async fn write_sysctl(&self, key: &str, value: &str) -> KernelResult<()> {
        validate_sysctl_key(key)?;
        self.mutate(FakeOp::WriteSysctl, |w, ns| w.write_sysctl(ns, key, value))
    }

    async fn read_sysctl(&self, key: &str) -> KernelResult<String> {
        validate_sysctl_key(key)?;
        let shared = self.lock();
        let ns = shared.world.ns(&self.ns)?;
        state::check_sysctl_exists(ns, key)?;
        // Unwritten sysctls read as the kernel's usual default for the flags we use.
        Ok(ns.sysctls.get(key).cloned().unwrap_or_else(|| "0".into()))
    }

    async fn subscribe(&self, quiet: &[u8]) -> KernelResult<EventReceiver> {
        let mut shared = self.lock();
        shared.world.ns(&self.ns)?;
        let (tx, rx) = EventSender::quiet_channel(quiet);
        shared
            .subscribers
            .entry(self.ns.clone())
            .or_default()
            .push(tx);
        Ok(rx)
    }

    async fn netns(&self, path: &Path) -> KernelResult<Arc<dyn Kernel>> {
        self.lock().world.ns(path)?;
        Ok(Arc::new(FakeKernel {
            shared: Arc::clone(&self.shared),
            ns: path.to_path_buf(),
        }))
    }

    /// The fake's namespaces are network namespaces (identified by their path); anything else
    /// is no namespace at all.
    async fn classify_netns(&self, path: &Path) -> KernelResult<NetnsKind> {
        if path == self.ns {
            return Ok(NetnsKind::Own);
        }
        if !self.lock().world.namespaces.contains_key(path) {
            return Ok(NetnsKind::NotNamespace);
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        path.hash(&mut h);
        Ok(NetnsKind::Network(NetnsId {
            dev: 0,
            ino: h.finish(),
        }))
    }
}

#[cfg(test)]
mod tests;
