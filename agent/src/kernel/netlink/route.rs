//! Route requests: `RTM_NEWROUTE` (create|replace), `RTM_DELROUTE`, `RTM_GETROUTE` dump.

use std::net::{IpAddr, Ipv4Addr};
use std::pin::pin;

use futures::TryStreamExt;
use ipnet::Ipv4Net;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteNextHop, RouteProtocol,
    RouteScope, RouteType,
};
use rtnetlink::{Handle, RouteMessageBuilder, RouteNextHopBuilder};

use super::error::map;
use crate::kernel::{KernelError, KernelResult, NextHop, Route, RouteTarget};

/// The main routing table's id (`RT_TABLE_MAIN`).
const MAIN: u32 = RouteHeader::RT_TABLE_MAIN as u32;

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

/// Deletes the main-table route to `dst` owned by `protocol`.
pub(super) async fn delete(handle: &Handle, dst: Ipv4Net, protocol: u8) -> KernelResult<()> {
    // Type unspec and scope nowhere: the kernel then matches on destination, table and protocol.
    let msg = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(dst.network(), dst.prefix_len())
        .protocol(RouteProtocol::from(protocol))
        .scope(RouteScope::NoWhere)
        .kind(RouteType::Unspec)
        .build();
    handle
        .route()
        .del(msg)
        .execute()
        .await
        .map_err(|e| map("RTM_DELROUTE", format!("route {dst} proto {protocol}"), e))
}

/// Dumps the IPv4 main-table routes owned by `protocol`.
pub(super) async fn list(handle: &Handle, protocol: u8) -> KernelResult<Vec<Route>> {
    let query = RouteMessageBuilder::<Ipv4Addr>::new().build();
    let mut replies = pin!(handle.route().get(query).execute());
    let mut out = Vec::new();
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
    Ok(out)
}

fn build(route: &Route) -> KernelResult<RouteMessage> {
    let dst = route.destination;
    let base = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(dst.network(), dst.prefix_len())
        .protocol(RouteProtocol::from(route.protocol));
    let builder = match &route.target {
        RouteTarget::Device { ifindex } => base.output_interface(*ifindex).scope(RouteScope::Link),
        RouteTarget::Blackhole => base.kind(RouteType::BlackHole),
        RouteTarget::Gateways(hops) => match hops.as_slice() {
            [] => {
                return Err(KernelError::Invalid(format!(
                    "route {dst} without next hops"
                )))
            }
            [hop] => match hop.ifindex {
                Some(ifindex) => base.gateway(hop.gateway).output_interface(ifindex),
                None => base.gateway(hop.gateway),
            },
            hops => base.multipath(multipath(hops)?),
        },
    };
    Ok(builder.build())
}

/// `RTA_MULTIPATH`: one `rtnexthop` per gateway, equal weight.
fn multipath(hops: &[NextHop]) -> KernelResult<Vec<RouteNextHop>> {
    hops.iter()
        .map(|hop| {
            let b = RouteNextHopBuilder::new_ipv4()
                .via(IpAddr::V4(hop.gateway))
                .map_err(|e| KernelError::Invalid(format!("next hop {}: {e}", hop.gateway)))?;
            let b = match hop.ifindex {
                Some(i) => b.interface(i),
                None => b,
            };
            Ok(b.build())
        })
        .collect()
}

/// `RTA_TABLE` if present (tables above 255), else the header's table.
fn table(msg: &RouteMessage) -> u32 {
    msg.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(msg.header.table))
}

/// Reads a kernel route back into a [`Route`]; `None` for shapes Lattice never installs.
fn parse(msg: &RouteMessage) -> Option<Route> {
    let mut dst = Ipv4Addr::UNSPECIFIED;
    let (mut gateway, mut oif, mut multi) = (None, None, None);
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Destination(RouteAddress::Inet(a)) => dst = *a,
            RouteAttribute::Gateway(RouteAddress::Inet(a)) => gateway = Some(*a),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::MultiPath(hops) => multi = Some(hops),
            _ => {}
        }
    }
    let destination = Ipv4Net::new(dst, msg.header.destination_prefix_length).ok()?;
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
        RouteAttribute::Gateway(RouteAddress::Inet(g)) => Some(*g),
        _ => None,
    })?;
    let ifindex = (hop.interface_index != 0).then_some(hop.interface_index);
    Some(NextHop { gateway, ifindex })
}
