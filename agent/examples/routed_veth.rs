//! Wires one container namespace with a routed veth, from a host namespace.
//!
//! ```text
//! ip netns add h; ip netns add c
//! cargo run -p agent --example routed_veth -- /run/netns/h /run/netns/c my-ctr 10.244.1.5
//! ip -n h route show proto 252; ip -n c route
//! cargo run -p agent --example routed_veth -- /run/netns/h /run/netns/c my-ctr --detach
//! ```
//! Always give it namespaces you created: it changes routes in the "host" namespace.

use std::path::Path;

use agent::dataplane::{attach, detach, prepare_host, AttachSpec};
use agent::kernel::NetlinkKernel;
use anyhow::{bail, Context};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host_ns, ctr_ns, id, what] = args.as_slice() else {
        bail!("usage: routed_veth HOST_NETNS CONTAINER_NETNS CONTAINER_ID (ADDRESS | --detach)");
    };
    let host = NetlinkKernel::in_netns(Path::new(host_ns))
        .await
        .context("open host namespace")?;
    if what == "--detach" {
        detach(&host, id, "eth0").await.context("detach")?;
        println!("detached {id}");
        return Ok(());
    }
    prepare_host(&host).await.context("prepare host")?;
    let spec = AttachSpec {
        netns: ctr_ns.into(),
        container_id: id.clone(),
        ifname: "eth0".into(),
        address: what.parse().context("address")?,
        address_v6: None,
        mtu: 1500,
    };
    let info = attach(&host, &spec).await.context("attach")?;
    println!(
        "{id}: eth0 {} <-> {} ({})",
        spec.address, info.host_ifname, info.host_mac
    );
    Ok(())
}
