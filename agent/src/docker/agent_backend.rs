//! The daemon's [`Backend`]: addresses through latticed's API handler, each endpoint's host
//! side through the [`Wiring`] of its network's mode (Docker moves a veth's peer or an ipvlan
//! slave into the container).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use ipnet::{Ipv4Net, Ipv6Net};

use super::backend::Backend;
use crate::api::server::Handler;
use crate::dataplane::{
    fnv1a64, ipvlan, DataplaneMode, EndpointSpec, Wiring, ENDPOINT_IFNAME as IFNAME,
};
use crate::kernel::Kernel;
use api::proto::DOCKER_ID_PREFIX;
use api::proto::{Reply, Request};

/// latticed's parts the Docker driver uses.
pub struct AgentBackend {
    handler: Arc<dyn Handler>,
    kernel: Arc<dyn Kernel>,
    mode: DataplaneMode,
    parent: Option<String>,
    block: Ipv4Net,
    block_v6: Option<Ipv6Net>,
    mtu: u32,
    counter: AtomicU64,
}

impl std::fmt::Debug for AgentBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentBackend")
            .field("block", &self.block)
            .finish_non_exhaustive()
    }
}

impl AgentBackend {
    /// A backend over the daemon's handler and kernel, for the host's blocks (`block_v6` on a
    /// dual-stack host), its `dataplane.mode` and `dataplane.parent`; endpoints get `mtu`.
    pub fn new(
        handler: Arc<dyn Handler>,
        kernel: Arc<dyn Kernel>,
        (mode, parent): (DataplaneMode, Option<String>),
        block: Ipv4Net,
        block_v6: Option<Ipv6Net>,
        mtu: u32,
    ) -> Self {
        Self {
            handler,
            kernel,
            mode,
            parent,
            block,
            block_v6,
            mtu,
            counter: AtomicU64::new(0),
        }
    }
}

fn api_error(reply: Reply) -> String {
    match reply {
        Reply::Error(e) => format!("lattice: {} ({})", e.message, e.kind),
        other => format!("lattice: unexpected reply {other:?}"),
    }
}

#[async_trait]
impl Backend for AgentBackend {
    async fn block(&self) -> Result<Ipv4Net, String> {
        Ok(self.block)
    }

    async fn block_v6(&self) -> Result<Option<Ipv6Net>, String> {
        Ok(self.block_v6)
    }

    fn fresh_key(&self) -> String {
        // Unique across restarts: the clock, the pid and a counter, hashed.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let seed = format!("{nanos}/{}/{n}", std::process::id());
        format!("{DOCKER_ID_PREFIX}{:016x}", fnv1a64(seed.as_bytes()))
    }

    async fn allocate(&self, key: &str) -> Result<(Ipv4Addr, Option<Ipv6Addr>), String> {
        let req = Request::Allocate {
            container_id: key.to_string(),
            ifname: IFNAME.to_string(),
        };
        match self.handler.handle(req).await {
            Reply::Allocated {
                address,
                address_v6,
            } => Ok((address, address_v6)),
            other => Err(api_error(other)),
        }
    }

    async fn key_of(&self, address: Ipv4Addr) -> Result<Option<String>, String> {
        match self.handler.handle(Request::List).await {
            Reply::List { attachments } => Ok(attachments
                .into_iter()
                .find(|a| a.address == address && a.container_id.starts_with(DOCKER_ID_PREFIX))
                .map(|a| a.container_id)),
            other => Err(api_error(other)),
        }
    }

    async fn key_of_v6(&self, address: Ipv6Addr) -> Result<Option<String>, String> {
        match self.handler.handle(Request::List).await {
            Reply::List { attachments } => Ok(attachments
                .into_iter()
                .find(|a| {
                    a.address_v6 == Some(address) && a.container_id.starts_with(DOCKER_ID_PREFIX)
                })
                .map(|a| a.container_id)),
            other => Err(api_error(other)),
        }
    }

    async fn release(&self, key: &str) -> Result<(), String> {
        let req = Request::Detach {
            container_id: key.to_string(),
            ifname: IFNAME.to_string(),
        };
        match self.handler.handle(req).await {
            Reply::Detached { .. } => Ok(()),
            other => Err(api_error(other)),
        }
    }

    fn host_mode(&self) -> DataplaneMode {
        self.mode
    }

    fn parent(&self) -> Option<String> {
        self.parent.clone()
    }

    async fn prepare(&self, mode: DataplaneMode) -> Result<(), String> {
        let wiring = self.wiring(mode)?;
        wiring.prepare(self.kernel.as_ref()).await.map_err(|e| {
            if ipvlan::is_unsupported(&e) {
                format!("it needs ipvlan, and this kernel has none ({e})")
            } else {
                e.to_string()
            }
        })
    }

    async fn wire(
        &self,
        mode: DataplaneMode,
        key: &str,
        address: Ipv4Addr,
        address_v6: Option<Ipv6Addr>,
    ) -> Result<String, String> {
        let spec = EndpointSpec {
            key: key.to_string(),
            address,
            address_v6,
            mtu: self.mtu,
        };
        self.wiring(mode)
            .map_err(|e| format!("lattice: {mode}: {e}"))?
            .attach_endpoint(self.kernel.as_ref(), &spec)
            .await
    }

    async fn unwire(&self, key: &str) -> Result<(), String> {
        Wiring::detach_endpoint(self.kernel.as_ref(), key).await
    }

    async fn reach(&self, mode: DataplaneMode, address: IpAddr) -> Result<(), String> {
        if self.parent.is_none() {
            return Ok(());
        }
        self.wiring(mode)
            .map_err(|e| format!("lattice: {mode}: {e}"))?
            .reach_endpoint(self.kernel.as_ref(), address)
            .await
    }

    async fn unreach(&self, address: IpAddr) -> Result<(), String> {
        Wiring::unreach_endpoint(self.kernel.as_ref(), address).await
    }
}

impl AgentBackend {
    /// The wiring of `mode` on this host (the ipvlan modes hang off `dataplane.parent`).
    fn wiring(&self, mode: DataplaneMode) -> Result<Wiring, String> {
        Wiring::for_mode(mode, self.parent.as_deref()).map_err(|_| {
            "it needs dataplane.parent (the interface ipvlan slaves hang off), and this \
             host's latticed has none; set it, or use routed-veth"
                .to_string()
        })
    }
}
