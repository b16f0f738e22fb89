//! rtnetlink notifications: a socket bound to the link, address and route groups, its
//! messages turned into [`KernelEvent`]s.

use std::fs::File;
use std::sync::Arc;

use futures::StreamExt;
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::sys::{AsyncSocket, SocketAddr};

use super::{link, netns, route};
use crate::kernel::{EventReceiver, EventSender, KernelEvent, KernelResult};

/// `RTNLGRP_*` bits (group n is bit n-1): LINK 1, IPV4_IFADDR 5, IPV4_ROUTE 7,
/// IPV6_IFADDR 9, IPV6_ROUTE 11.
const GROUPS: u32 = (1 << 0) | (1 << 4) | (1 << 6) | (1 << 8) | (1 << 10);

/// The default receive buffer: large, so `ENOBUFS` is rare under route storms; it still can
/// happen and is then reported as [`KernelEvent::Overrun`] (`dataplane.netlink_receive_buffer`).
pub const DEFAULT_EVENT_BUFFER: usize = 8 << 20;

/// Subscribes to notifications in namespace `ns`, with a receive buffer of `rcvbuf` bytes.
pub(super) async fn subscribe(
    ns: Arc<File>,
    quiet: &[u8],
    rcvbuf: usize,
) -> KernelResult<EventReceiver> {
    let runtime = tokio::runtime::Handle::current();
    let rt = runtime.clone();
    let (conn, messages) = netns::run_in(ns, "netlink event socket".into(), move || {
        let _guard = rt.enter();
        let (mut conn, _handle, messages) = rtnetlink::new_connection()?;
        let socket = conn.socket_mut().socket_mut();
        socket.bind(&SocketAddr::new(0, GROUPS))?;
        set_rcvbuf(socket, rcvbuf);
        Ok((conn, messages))
    })
    .await?;
    let (mut tx, rx) = EventSender::quiet_channel(quiet);
    runtime.spawn(async move {
        let conn = tokio::spawn(conn);
        let mut messages = messages;
        while let Some((msg, _)) = messages.next().await {
            if let Some(event) = event(&msg) {
                if !tx.send(event) {
                    break;
                }
            }
        }
        // The subscriber left (or the socket failed): stop reading.
        conn.abort();
    });
    Ok(rx)
}

/// Sizes the receive buffer. `SO_RCVBUF` is capped at `net.core.rmem_max` (often 208 KiB,
/// a few thousand notifications), so with `CAP_NET_ADMIN` the size is forced past it; without,
/// the capped size is the best there is.
fn set_rcvbuf(socket: &rtnetlink::sys::Socket, bytes: usize) {
    use nix::sys::socket::{setsockopt, sockopt};
    if setsockopt(socket, sockopt::RcvBufForce, &bytes).is_err() {
        let _ = socket.set_rx_buf_sz(bytes);
    }
}

/// The event a notification means, if the reconciler cares about it.
fn event(msg: &NetlinkMessage<RouteNetlinkMessage>) -> Option<KernelEvent> {
    let inner = match &msg.payload {
        NetlinkPayload::Overrun(_) => return Some(KernelEvent::Overrun),
        NetlinkPayload::InnerMessage(inner) => inner,
        _ => return None,
    };
    match inner {
        RouteNetlinkMessage::NewLink(m) | RouteNetlinkMessage::DelLink(m) => {
            let info = link::parse(m);
            Some(KernelEvent::Link {
                index: info.index,
                name: info.name,
                deleted: matches!(inner, RouteNetlinkMessage::DelLink(_)),
            })
        }
        RouteNetlinkMessage::NewAddress(m) | RouteNetlinkMessage::DelAddress(m) => {
            Some(KernelEvent::Address {
                index: m.header.index,
            })
        }
        RouteNetlinkMessage::NewRoute(m) | RouteNetlinkMessage::DelRoute(m) => {
            if route::table(m) != route::MAIN {
                return None;
            }
            Some(KernelEvent::Route {
                destination: route::destination(m)?,
                protocol: u8::from(m.header.protocol),
                deleted: matches!(inner, RouteNetlinkMessage::DelRoute(_)),
            })
        }
        _ => None,
    }
}
