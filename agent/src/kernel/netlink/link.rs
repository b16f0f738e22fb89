//! Link requests: `RTM_NEWLINK` (veth, ipvlan), `RTM_GETLINK`, `RTM_SETLINK` (`RTM_DELLINK`
//! has a file of its own).

use std::os::fd::AsRawFd;
use std::path::Path;
use std::pin::pin;

use futures::TryStreamExt;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, IpVlanMode, LinkAttribute, LinkFlags, LinkMessage,
};
use nix::errno::Errno;
use rtnetlink::{Handle, LinkIpVlan, LinkMessageBuilder, LinkUnspec, LinkVeth};

use super::{error::map, netns};
use crate::kernel::{IpvlanMode, KernelError, KernelResult, LinkInfo, MacAddr};

/// Creates veth `name` here with its peer `peer` created directly in the namespace `peer_ns`.
pub(super) async fn create_veth(
    handle: &Handle,
    name: &str,
    peer: &str,
    peer_ns: &Path,
) -> KernelResult<()> {
    // IFLA_NET_NS_FD on the peer: the fd must stay open until the kernel has answered.
    let ns_file = netns::open(peer_ns)?;
    let peer_msg = LinkMessageBuilder::<LinkUnspec>::new()
        .name(peer.to_string())
        .setns_by_fd(ns_file.as_raw_fd())
        .build();
    let msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(name.to_string())
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
        .build();
    let result = handle.link().add(msg).execute().await;
    drop(ns_file);
    result.map_err(|e| map("RTM_NEWLINK", format!("link {name}"), e))
}

/// Creates ipvlan slave `name` of `parent` directly in the namespace `target`.
pub(super) async fn create_ipvlan(
    handle: &Handle,
    parent: u32,
    name: &str,
    mode: IpvlanMode,
    target: Option<&Path>,
) -> KernelResult<()> {
    let ns_file = target.map(netns::open).transpose()?;
    let mode = match mode {
        IpvlanMode::L3 => IpVlanMode::L3,
        IpvlanMode::L3s => IpVlanMode::L3S,
    };
    let builder = LinkIpVlan::new(name, parent, mode);
    let msg = match &ns_file {
        Some(f) => builder.setns_by_fd(f.as_raw_fd()),
        None => builder,
    }
    .build();
    let result = handle.link().add(msg).execute().await;
    drop(ns_file);
    match result {
        // An unknown link kind (the module is absent and cannot be loaded).
        Err(rtnetlink::Error::NetlinkError(m))
            if m.code.map(|c| c.get().saturating_neg()) == Some(Errno::EOPNOTSUPP as i32) =>
        {
            Err(KernelError::Unsupported(
                "this kernel has no ipvlan driver (RTM_NEWLINK kind ipvlan: Operation not supported)"
                    .into(),
            ))
        }
        other => other.map_err(|e| map("RTM_NEWLINK", format!("ipvlan {name}"), e)),
    }
}

/// Every link of the namespace.
pub(super) async fn list(handle: &Handle) -> KernelResult<Vec<LinkInfo>> {
    let mut replies = pin!(handle.link().get().execute());
    let mut out = Vec::new();
    while let Some(msg) = replies
        .try_next()
        .await
        .map_err(|e| map("RTM_GETLINK", "link dump", e))?
    {
        out.push(parse(&msg));
    }
    Ok(out)
}

/// Looks up link `name`.
pub(super) async fn by_name(handle: &Handle, name: &str) -> KernelResult<LinkInfo> {
    let what = format!("link {name}");
    let mut replies = pin!(handle.link().get().match_name(name.to_string()).execute());
    let msg = replies
        .try_next()
        .await
        .map_err(|e| map("RTM_GETLINK", what.clone(), e))?;
    msg.map(|m| parse(&m)).ok_or(KernelError::NotFound { what })
}

/// Applies a link change built by `build` (from a builder already holding the index).
pub(super) async fn set(
    handle: &Handle,
    index: u32,
    build: impl FnOnce(LinkMessageBuilder<LinkUnspec>) -> LinkMessageBuilder<LinkUnspec>,
) -> KernelResult<()> {
    let msg = build(LinkUnspec::new_with_index(index)).build();
    handle
        .link()
        .set(msg)
        .execute()
        .await
        .map_err(|e| map("RTM_SETLINK", format!("link index {index}"), e))
}

/// Extracts what [`LinkInfo`] reports from a kernel link message.
pub(super) fn parse(msg: &LinkMessage) -> LinkInfo {
    let mut info = LinkInfo {
        index: msg.header.index,
        name: String::new(),
        mac: None,
        mtu: 0,
        up: msg.header.flags.contains(LinkFlags::Up),
        peer_index: None,
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => info.name.clone_from(n),
            LinkAttribute::Address(a) => info.mac = MacAddr::from_bytes(a),
            LinkAttribute::Mtu(m) => info.mtu = *m,
            LinkAttribute::Link(l) => info.peer_index = Some(*l),
            _ => {}
        }
    }
    info
}
