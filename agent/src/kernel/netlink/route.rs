//! Route requests: `RTM_NEWROUTE` (create|replace), `RTM_DELROUTE`, `RTM_GETROUTE` dump, for
//! both families.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::pin;

use futures::TryStreamExt;
use ipnet::IpNet;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteNextHop, RouteProtocol,
    RouteScope, RouteType, RouteVia,
};
use netlink_packet_route::AddressFamily;
use rtnetlink::{Handle, RouteMessageBuilder, RouteNextHopBuilder};

use super::error::map;
use crate::kernel::{KernelError, KernelResult, NextHop, Route, RouteTarget};

/// The main routing table's id (`RT_TABLE_MAIN`).
pub(super) const MAIN: u32 = RouteHeader::RT_TABLE_MAIN as u32;

/// Installs `route`, replacing any main-table route to the same destination in one message.
pub(super) async fn replace(handle: &Handle, route: &Route) -> KernelResult<()> {
    let msg = build(route)?;
    handle
        .route()
        .add(msg)
        .replace()
        .execute()
        .await
        .map_err(|e| map("RTM_NEWROUTE", format!("route {}", route.destination), e))
}

/// Deletes the main-table route to `dst` owned by `protocol` (for IPv6, every sibling of a
/// multipath route: no gateway is named).
pub(super) async fn delete(handle: &Handle, dst: IpNet, protocol: u8) -> KernelResult<()> {
    let msg = delete_message(dst, protocol)?;
    handle
        .route()
        .del(msg)
        .execute()
        .await
        .map_err(|e| map("RTM_DELROUTE", format!("route {dst} proto {protocol}"), e))
}

/// The `RTM_DELROUTE` body for the main-table route to `dst` owned by `protocol`.
pub(super) fn delete_message(dst: IpNet, protocol: u8) -> KernelResult<RouteMessage> {
    // Type unspec and scope nowhere: the kernel then matches on destination, table and protocol.
    Ok(RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(dst.network(), dst.prefix_len())
        .map_err(|e| KernelError::Invalid(format!("route {dst}: {e}")))?
        .protocol(RouteProtocol::from(protocol))
        .scope(RouteScope::NoWhere)
        .kind(RouteType::Unspec)
        .build())
}

/// Dumps the IPv4 and IPv6 main-table routes owned by `protocol`.
pub(super) async fn list(handle: &Handle, protocol: u8) -> KernelResult<Vec<Route>> {
    let mut out = Vec::new();
    let v4 = RouteMessageBuilder::<Ipv4Addr>::new().build();
    let v6 = RouteMessageBuilder::<Ipv6Addr>::new().build();
    for query in [v4, v6] {
        let mut replies = pin!(handle.route().get(query).execute());
        while let Some(msg) = replies
            .try_next()
            .await
            .map_err(|e| map("RTM_GETROUTE", "route dump", e))?
        {
            if u8::from(msg.header.protocol) == protocol && table(&msg) == MAIN {
                if let Some(route) = parse(&msg) {
                    out.push(route);
                }
            }
        }
    }
    Ok(out)
}

fn invalid(dst: IpNet, e: impl std::fmt::Display) -> KernelError {
    KernelError::Invalid(format!("route {dst}: {e}"))
}

pub(super) fn build(route: &Route) -> KernelResult<RouteMessage> {
    let dst = route.destination;
    let base = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(dst.network(), dst.prefix_len())
        .map_err(|e| invalid(dst, e))?
        .protocol(RouteProtocol::from(route.protocol));
    let builder = match &route.target {
        RouteTarget::Device { ifindex } => base.output_interface(*ifindex).scope(RouteScope::Link),
        RouteTarget::Blackhole => base.kind(RouteType::BlackHole),
        RouteTarget::Gateways(hops) => match hops.as_slice() {
            [] => return Err(invalid(dst, "no next hops")),
            [hop] => {
                let b = base.gateway(hop.gateway).map_err(|e| invalid(dst, e))?;
                match hop.ifindex {
                    Some(ifindex) => b.output_interface(ifindex),
                    None => b,
                }
            }
            hops => base.multipath(multipath(dst, hops)?),
        },
    };
    Ok(builder.build())
}

/// `RTA_MULTIPATH`: one `rtnexthop` per gateway, equal weight.
fn multipath(dst: IpNet, hops: &[NextHop]) -> KernelResult<Vec<RouteNextHop>> {
    let family = match dst {
        IpNet::V4(_) => AddressFamily::Inet,
        IpNet::V6(_) => AddressFamily::Inet6,
    };
    hops.iter()
        .map(|hop| {
            let b = RouteNextHopBuilder::new(family)
                .via(hop.gateway)
                .map_err(|e| invalid(dst, format!("next hop {}: {e}", hop.gateway)))?;
            let b = match hop.ifindex {
                Some(i) => b.interface(i),
                None => b,
            };
            Ok(b.build())
        })
        .collect()
}

/// `RTA_TABLE` if present (tables above 255), else the header's table.
pub(super) fn table(msg: &RouteMessage) -> u32 {
    msg.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(msg.header.table))
}

fn address(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

fn via(v: &RouteVia) -> Option<IpAddr> {
    match v {
        RouteVia::Inet(a) => Some(IpAddr::V4(*a)),
        RouteVia::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// The destination of a kernel route message, if it is an IP route.
pub(super) fn destination(msg: &RouteMessage) -> Option<IpNet> {
    let len = msg.header.destination_prefix_length;
    let dst = msg.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(d) => address(d),
        _ => None,
    });
    let dst = match (dst, msg.header.address_family) {
        (Some(d), _) => d,
        (None, AddressFamily::Inet) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (None, AddressFamily::Inet6) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => return None,
    };
    IpNet::new(dst, len).ok()
}

/// Reads a kernel route back into a [`Route`]; `None` for shapes Lattice never installs.
pub(super) fn parse(msg: &RouteMessage) -> Option<Route> {
    let destination = destination(msg)?;
    let (mut gateway, mut oif, mut multi) = (None, None, None);
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Gateway(a) => gateway = address(a),
            RouteAttribute::Via(v) => gateway = via(v),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::MultiPath(hops) => multi = Some(hops),
            _ => {}
        }
    }
    let target = if msg.header.kind == RouteType::BlackHole {
        RouteTarget::Blackhole
    } else if let Some(hops) = multi {
        RouteTarget::Gateways(hops.iter().filter_map(parse_hop).collect())
    } else if let Some(gw) = gateway {
        RouteTarget::Gateways(vec![NextHop {
            gateway: gw,
            ifindex: oif,
        }])
    } else {
        RouteTarget::Device { ifindex: oif? }
    };
    Some(Route {
        destination,
        target,
        protocol: u8::from(msg.header.protocol),
    })
}

fn parse_hop(hop: &RouteNextHop) -> Option<NextHop> {
    let gateway = hop.attributes.iter().find_map(|a| match a {
        RouteAttribute::Gateway(g) => address(g),
        RouteAttribute::Via(v) => via(v),
        _ => None,
    })?;
    let ifindex = (hop.interface_index != 0).then_some(hop.interface_index);
    Some(NextHop { gateway, ifindex })
}
