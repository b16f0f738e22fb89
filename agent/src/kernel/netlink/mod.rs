//! [`Kernel`] over rtnetlink: one request kind per file, a namespace facility for the rest.

mod addr;
mod datagram;
mod error;
mod events;
mod link;
mod link_delete;
mod neigh;
mod netns;
mod route;
mod route_batch;
mod sysctl;

pub use events::DEFAULT_EVENT_BUFFER;

use std::fs::File;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use ipnet::IpNet;

use super::{
    EventReceiver, IpvlanMode, Kernel, KernelError, KernelResult, LinkInfo, MacAddr, NetnsKind,
    Route, RouteOp,
};

/// The namespace file of the calling thread.
const THREAD_NETNS: &str = "/proc/thread-self/ns/net";

/// A [`Kernel`] talking rtnetlink to one network namespace.
///
/// Cloning is cheap and shares the socket. The socket's driver task runs on the tokio runtime
/// that created the kernel and ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct NetlinkKernel {
    handle: rtnetlink::Handle,
    /// Held for every dump: the kernel runs one dump at a time per netlink socket and answers a
    /// second one started meanwhile with EBUSY (a resync listing routes while an API request
    /// lists them too). Shared by the clones, as the socket is.
    dumps: Arc<tokio::sync::Mutex<()>>,
    /// The namespace this kernel acts in; sysctls are read and written from inside it.
    netns: Arc<File>,
    /// Receive buffer of event subscriptions, in bytes.
    event_buffer: usize,
    /// The socket for bulk route changes ([`Kernel::apply_routes`]), opened on first use (a
    /// container's namespace never needs one).
    batcher: Arc<tokio::sync::OnceCell<Arc<route_batch::RouteBatcher>>>,
}

impl NetlinkKernel {
    /// A kernel for the calling thread's namespace. Must run inside a tokio runtime.
    pub async fn current() -> KernelResult<Self> {
        Self::in_netns(Path::new(THREAD_NETNS)).await
    }

    /// A kernel for the namespace at `path` (`/run/netns/NAME`, `/proc/PID/ns/net`).
    ///
    /// The netlink socket is created on a thread that has joined that namespace (a socket
    /// belongs to the namespace it was created in) and is then used from the runtime.
    pub async fn in_netns(path: &Path) -> KernelResult<Self> {
        let file = Arc::new(netns::open(path)?);
        let what = format!("netlink socket in {}", path.display());
        let handle = netns::connect_in(Arc::clone(&file), what).await?;
        Ok(NetlinkKernel {
            handle,
            dumps: Arc::default(),
            netns: file,
            event_buffer: events::DEFAULT_EVENT_BUFFER,
            batcher: Arc::default(),
        })
    }

    /// The same kernel, its event subscriptions receiving into `bytes` of socket buffer
    /// (`dataplane.netlink_receive_buffer`; the kernel doubles it and has a floor of a few KiB).
    /// Kernels for other namespaces ([`Kernel::netns`]) inherit it.
    pub fn with_event_buffer(mut self, bytes: usize) -> Self {
        self.event_buffer = bytes;
        self
    }
}

#[async_trait]
impl Kernel for NetlinkKernel {
    async fn create_veth(&self, name: &str, peer: &str, peer_netns: &Path) -> KernelResult<()> {
        link::create_veth(&self.handle, name, peer, peer_netns).await
    }

    async fn create_ipvlan(
        &self,
        parent: u32,
        name: &str,
        mode: IpvlanMode,
        netns: Option<&Path>,
    ) -> KernelResult<()> {
        link::create_ipvlan(&self.handle, parent, name, mode, netns).await
    }

    async fn delete_link(&self, index: u32) -> KernelResult<()> {
        link_delete::delete(Arc::clone(&self.netns), index).await
    }

    async fn links(&self) -> KernelResult<Vec<LinkInfo>> {
        let _dump = self.dumps.lock().await;
        link::list(&self.handle).await
    }

    async fn link_by_name(&self, name: &str) -> KernelResult<LinkInfo> {
        let _dump = self.dumps.lock().await;
        link::by_name(&self.handle, name).await
    }

    async fn rename_link(&self, index: u32, name: &str) -> KernelResult<()> {
        let name = name.to_string();
        link::set(&self.handle, index, |b| b.name(name)).await
    }

    async fn set_link_up(&self, index: u32) -> KernelResult<()> {
        link::set(&self.handle, index, |b| b.up()).await
    }

    async fn set_link_mtu(&self, index: u32, mtu: u32) -> KernelResult<()> {
        link::set(&self.handle, index, |b| b.mtu(mtu)).await
    }

    async fn add_address(&self, index: u32, address: IpNet) -> KernelResult<()> {
        addr::add(&self.handle, index, address).await
    }

    async fn addresses(&self, index: u32) -> KernelResult<Vec<IpNet>> {
        let _dump = self.dumps.lock().await;
        let all = addr::list(&self.handle, Some(index)).await?;
        Ok(all.into_iter().map(|(_, a)| a).collect())
    }

    async fn all_addresses(&self) -> KernelResult<Vec<(u32, IpNet)>> {
        let _dump = self.dumps.lock().await;
        addr::list(&self.handle, None).await
    }

    async fn replace_route(&self, route: &Route) -> KernelResult<()> {
        route::replace(&self.handle, route).await
    }

    async fn delete_route(&self, destination: IpNet, protocol: u8) -> KernelResult<()> {
        route::delete(&self.handle, destination, protocol).await
    }

    async fn routes(&self, protocol: u8) -> KernelResult<Vec<Route>> {
        let _dump = self.dumps.lock().await;
        route::list(&self.handle, protocol).await
    }

    async fn apply_routes(&self, ops: &[RouteOp]) -> KernelResult<Vec<(usize, KernelError)>> {
        let batcher = self
            .batcher
            .get_or_try_init(|| async {
                let what = "route batch socket".to_string();
                let open = route_batch::RouteBatcher::open;
                netns::run_in(Arc::clone(&self.netns), what, open)
                    .await
                    .map(Arc::new)
            })
            .await?;
        route_batch::apply(batcher, ops).await
    }

    async fn add_neighbour(&self, index: u32, ip: IpAddr, mac: MacAddr) -> KernelResult<()> {
        neigh::add(&self.handle, index, ip, mac).await
    }

    async fn write_sysctl(&self, key: &str, value: &str) -> KernelResult<()> {
        sysctl::write(Arc::clone(&self.netns), key, value).await
    }

    async fn read_sysctl(&self, key: &str) -> KernelResult<String> {
        sysctl::read(Arc::clone(&self.netns), key).await
    }

    async fn subscribe(&self, quiet: &[u8]) -> KernelResult<EventReceiver> {
        events::subscribe(Arc::clone(&self.netns), quiet, self.event_buffer).await
    }

    async fn netns(&self, path: &Path) -> KernelResult<Arc<dyn Kernel>> {
        let kernel = NetlinkKernel::in_netns(path).await?;
        Ok(Arc::new(kernel.with_event_buffer(self.event_buffer)))
    }

    async fn classify_netns(&self, path: &Path) -> KernelResult<NetnsKind> {
        netns::classify(&self.netns, path).await
    }
}
