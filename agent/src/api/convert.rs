//! The BGP speaker's records as the API shows them. The one place that knows both: a field
//! renamed or retyped inside `bgp` changes a line here, not the socket protocol.

use std::net::{IpAddr, Ipv6Addr};

use api::proto;
use bgp::driver::{MessageCounts, PeerSettings, PeerState, PeerStatus, SessionInfo};
use bgp::rib::RibPath;

/// Each peer's status, in the speaker's order.
pub fn peers(list: Vec<PeerStatus>) -> Vec<proto::PeerStatus> {
    list.into_iter().map(peer).collect()
}

/// One peer's status. An interface peer's address is its neighbour's link-local address, `::`
/// until one is known.
pub fn peer(p: PeerStatus) -> proto::PeerStatus {
    let unknown = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    proto::PeerStatus {
        address: p
            .peer
            .address()
            .or(p.neighbour.map(IpAddr::V6))
            .unwrap_or(unknown),
        interface: p.peer.interface().map(String::from),
        remote_as: p.remote_as,
        remote_as_config: p.remote_as_config,
        neighbour_heard_by: p.neighbour_heard_by,
        waiting: p.waiting,
        state: state(p.state),
        uptime_secs: p.uptime_secs,
        prefixes_received: p.prefixes_received,
        prefixes_advertised: p.prefixes_advertised,
        remote_router_id: p.remote_router_id,
        last_error: p.last_error,
        families: p.families,
        graceful_restart_stale: p.graceful_restart_stale,
        established_transitions: p.established_transitions,
        sent: counts(p.sent),
        received: counts(p.received),
        notifications_sent: p.notifications_sent,
        notifications_received: p.notifications_received,
        prefixes_received_by_family: p.prefixes_received_by_family,
        prefixes_accepted: p.prefixes_accepted,
        prefixes_accepted_by_family: p.prefixes_accepted_by_family,
        prefixes_advertised_by_family: p.prefixes_advertised_by_family,
        config: settings(p.config),
        session: p.session.map(session),
        // Added by `convert_bfd::peers_with_bfd`: BFD is the agent's, not the speaker's.
        bfd: None,
        prefixes_ignored: p.prefixes_ignored,
    }
}

/// RFC 4271 §8.2.2 states, one for one.
pub fn state(s: PeerState) -> proto::PeerState {
    match s {
        PeerState::Idle => proto::PeerState::Idle,
        PeerState::Connect => proto::PeerState::Connect,
        PeerState::Active => proto::PeerState::Active,
        PeerState::OpenSent => proto::PeerState::OpenSent,
        PeerState::OpenConfirm => proto::PeerState::OpenConfirm,
        PeerState::Established => proto::PeerState::Established,
    }
}

fn settings(c: PeerSettings) -> proto::PeerSettings {
    proto::PeerSettings {
        hold_time: c.hold_time,
        keepalive: c.keepalive,
        connect_retry_secs: c.connect_retry_secs,
        passive: c.passive,
        max_prefixes: c.max_prefixes,
        md5: c.md5,
        source: match c.source {
            bgp::driver::PeerSource::Configured => proto::PeerSource::Configured,
            bgp::driver::PeerSource::Discovered { host } => proto::PeerSource::Discovered { host },
        },
        reflect: c.reflect.map(|r| match r {
            bgp::driver::ReflectRole::Client => proto::ReflectRole::Client,
            bgp::driver::ReflectRole::NonClient => proto::ReflectRole::NonClient,
        }),
    }
}

fn session(s: SessionInfo) -> proto::SessionInfo {
    proto::SessionInfo {
        local: s.local,
        outbound: s.outbound,
        hold_time: s.hold_time,
        keepalive: s.keepalive,
        capabilities: s.capabilities,
        peer_restart_time: s.peer_restart_time,
    }
}

fn counts(m: MessageCounts) -> proto::MessageCounts {
    proto::MessageCounts {
        open: m.open,
        update: m.update,
        notification: m.notification,
        keepalive: m.keepalive,
        route_refresh: m.route_refresh,
    }
}

/// One path of the Loc-RIB; `name` gives interface indexes their names, `why_not` says why a
/// next hop is left out of the kernel route, if it is.
pub fn path(
    p: RibPath,
    name: impl Fn(u32) -> Option<String>,
    why_not: impl Fn(bgp::rib::NextHop) -> Option<String>,
) -> proto::RoutePath {
    proto::RoutePath {
        peer: p.peer,
        peer_interface: p.peer_interface.and_then(&name),
        next_hop: p.next_hop.address,
        next_hop_interface: p.next_hop.ifindex.and_then(&name),
        not_installed_because: why_not(p.next_hop),
        as_path: p.as_path,
        origin: p.origin,
        med: p.med,
        local_pref: p.local_pref,
        best: p.best,
        multipath: p.multipath,
        stale: p.stale,
        communities: p.communities,
        originator_id: p.originator_id,
        cluster_list: p.cluster_list,
        ignored: p.ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every field the API carries has the speaker's value, under the same name: the wire is
    /// what it was when the speaker's own structs went on it.
    fn carries(api: &impl serde::Serialize, internal: &impl serde::Serialize) {
        let (Value::Object(api), Value::Object(internal)) = (
            serde_json::to_value(api).unwrap(),
            serde_json::to_value(internal).unwrap(),
        ) else {
            panic!("not objects");
        };
        for (key, value) in &api {
            assert_eq!(Some(value), internal.get(key), "field {key}");
        }
    }

    #[test]
    fn a_peer_converts_field_for_field() {
        let mut p = PeerStatus::new("2001:db8::1".parse().unwrap(), 4_200_000_001);
        p.state = PeerState::Established;
        p.uptime_secs = Some(83);
        p.prefixes_received = 4;
        p.prefixes_advertised = 1;
        p.prefixes_accepted = 3;
        p.remote_router_id = Some("10.0.0.1".parse().unwrap());
        p.last_error = Some("hold timer expired".into());
        p.families = vec!["ipv4".into(), "ipv6".into()];
        p.graceful_restart_stale = true;
        p.established_transitions = 2;
        p.sent = MessageCounts {
            open: 1,
            update: 2,
            notification: 3,
            keepalive: 4,
            route_refresh: 5,
        };
        p.received.keepalive = 12;
        p.notifications_sent.insert("6/2".into(), 1);
        p.notifications_received.insert("6/4".into(), 2);
        p.prefixes_received_by_family.insert("ipv4".into(), 4);
        p.prefixes_accepted_by_family.insert("ipv4".into(), 3);
        p.prefixes_advertised_by_family.insert("ipv6".into(), 1);
        p.prefixes_ignored = 2;
        p.config = PeerSettings {
            hold_time: 9,
            keepalive: Some(3),
            connect_retry_secs: 5,
            passive: true,
            max_prefixes: Some(100),
            md5: true,
            source: bgp::driver::PeerSource::Discovered { host: "h7".into() },
            reflect: Some(bgp::driver::ReflectRole::NonClient),
        };
        p.session = Some(SessionInfo {
            local: Some("[2001:db8::2]:40000".parse().unwrap()),
            outbound: true,
            hold_time: 9,
            keepalive: 3,
            capabilities: vec!["4-octet-as".into()],
            peer_restart_time: Some(120),
        });
        let api = peer(p.clone());
        carries(&api, &p);
        for s in [
            PeerState::Idle,
            PeerState::Connect,
            PeerState::Active,
            PeerState::OpenSent,
            PeerState::OpenConfirm,
            PeerState::Established,
        ] {
            assert_eq!(
                serde_json::to_value(state(s)).unwrap(),
                serde_json::to_value(s).unwrap()
            );
        }
    }

    #[test]
    fn a_path_converts_field_for_field() {
        let p = RibPath {
            peer_id: bgp::rib::PeerId(1),
            peer: "10.0.1.1".parse().unwrap(),
            peer_interface: None,
            next_hop: "10.0.1.254".parse().unwrap(),
            as_path: "65001 {65003}".into(),
            origin: "incomplete".into(),
            med: Some(10),
            local_pref: Some(200),
            best: true,
            multipath: true,
            stale: true,
            communities: vec!["65000:1".into()],
            originator_id: Some("10.0.0.3".parse().unwrap()),
            cluster_list: vec!["10.0.0.1".parse().unwrap()],
            ignored: Some("next hop ::1 is a loopback address".into()),
        };
        let api = path(p.clone(), |_| None, |_| None);
        carries(&api, &p);
        // An interface peer's path: addresses and interfaces apart.
        let ll = RibPath {
            peer: "fe80::a".parse().unwrap(),
            peer_interface: Some(3),
            next_hop: "fe80::a%3".parse().unwrap(),
            ..p
        };
        let api = path(ll, |i| Some(format!("if{i}")), |_| Some("down".into()));
        assert_eq!(api.next_hop.to_string(), "fe80::a");
        assert_eq!(api.next_hop_interface.as_deref(), Some("if3"));
        assert_eq!(api.peer_interface.as_deref(), Some("if3"));
        assert_eq!(api.not_installed_because.as_deref(), Some("down"));
    }
}
