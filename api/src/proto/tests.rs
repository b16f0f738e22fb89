//! The wire shapes clients and latticed rely on, byte for byte.

use super::*;

/// The CNI and Docker plugins rely on these exact shapes.
#[test]
fn gc_and_dual_stack_wire_shapes() {
    let req: Request =
        serde_json::from_str(r#"{"op":"gc","keep":[{"container_id":"c1","ifname":"eth0"}]}"#)
            .unwrap();
    assert_eq!(
        req,
        Request::Gc {
            keep: vec![AttachmentKey {
                container_id: "c1".into(),
                ifname: "eth0".into()
            }]
        }
    );
    let reply = Reply::Collected {
        released: vec![AttachmentKey {
            container_id: "c2".into(),
            ifname: "eth1".into(),
        }],
    };
    assert_eq!(
        serde_json::to_string(&reply).unwrap(),
        r#"{"reply":"collected","released":[{"container_id":"c2","ifname":"eth1"}]}"#
    );
    let mut a = Attachment {
        container_id: "c".into(),
        ifname: "eth0".into(),
        address: "10.244.1.1".parse().unwrap(),
        address_v6: None,
        host_ifname: "lat0".into(),
        netns: "/run/netns/x".into(),
        host_mac: None,
        container_mac: None,
    };
    assert!(!serde_json::to_string(&a).unwrap().contains("address_v6"));
    a.address_v6 = Some("fd00::1".parse().unwrap());
    let text = serde_json::to_string(&a).unwrap();
    assert!(text.contains(r#""address_v6":"fd00::1""#), "{text}");
    assert_eq!(serde_json::from_str::<Attachment>(&text).unwrap(), a);
}

/// lattice-cni wraps each request with the CNI command it serves.
#[test]
fn cni_wrapper_wire_shape() {
    let text = r#"{"op":"cni","command":"del","request":{"op":"detach","container_id":"c1","ifname":"eth0"}}"#;
    let req: Request = serde_json::from_str(text).unwrap();
    assert_eq!(
        req,
        Request::Cni {
            command: CniCommand::Del,
            request: Box::new(Request::Detach {
                container_id: "c1".into(),
                ifname: "eth0".into()
            }),
        }
    );
    assert_eq!(serde_json::to_string(&req).unwrap(), text);
    assert_eq!(CniCommand::from_env("GC"), Some(CniCommand::Gc));
    assert_eq!(CniCommand::from_env("VERSION"), None);
}

/// `peers` and `status` carry this peer shape: the bytes latticed sent when its BGP speaker's
/// own status struct went on the wire, kept now that the API has its own.
#[test]
fn peer_wire_shape() {
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
    p.config = PeerSettings {
        hold_time: 9,
        keepalive: Some(3),
        connect_retry_secs: 5,
        passive: true,
        max_prefixes: Some(100),
        md5: true,
        source: PeerSource::Discovered { host: "h7".into() },
        reflect: Some(ReflectRole::Client),
    };
    p.session = Some(SessionInfo {
        local: Some("[2001:db8::2]:40000".parse().unwrap()),
        outbound: true,
        hold_time: 9,
        keepalive: 3,
        capabilities: vec!["4-octet-as".into()],
        peer_restart_time: Some(120),
    });
    let text = concat!(
        r#"{"reply":"peers","peers":[{"address":"2001:db8::1","remote_as":4200000001,"#,
        r#""state":"Established","uptime_secs":83,"prefixes_received":4,"#,
        r#""prefixes_advertised":1,"remote_router_id":"10.0.0.1","#,
        r#""last_error":"hold timer expired","families":["ipv4","ipv6"],"#,
        r#""graceful_restart_stale":true,"established_transitions":2,"#,
        r#""sent":{"open":1,"update":2,"notification":3,"keepalive":4,"route_refresh":5},"#,
        r#""received":{"open":0,"update":0,"notification":0,"keepalive":12,"route_refresh":0},"#,
        r#""notifications_sent":{"6/2":1},"notifications_received":{"6/4":2},"#,
        r#""prefixes_received_by_family":{"ipv4":4},"prefixes_accepted":3,"#,
        r#""prefixes_accepted_by_family":{"ipv4":3},"prefixes_advertised_by_family":{"ipv6":1},"#,
        r#""config":{"hold_time":9,"keepalive":3,"connect_retry_secs":5,"passive":true,"#,
        r#""max_prefixes":100,"md5":true,"source":{"discovered":{"host":"h7"}},"#,
        r#""reflect":"client"},"#,
        r#""session":{"local":"[2001:db8::2]:40000","outbound":true,"hold_time":9,"#,
        r#""keepalive":3,"capabilities":["4-octet-as"],"peer_restart_time":120}}]}"#
    );
    let reply = Reply::Peers { peers: vec![p] };
    assert_eq!(serde_json::to_string(&reply).unwrap(), text);
    assert_eq!(serde_json::from_str::<Reply>(text).unwrap(), reply);

    let idle = PeerStatus::new("10.0.9.1".parse().unwrap(), 65009);
    let text = concat!(
        r#"{"address":"10.0.9.1","remote_as":65009,"state":"Idle","uptime_secs":null,"#,
        r#""prefixes_received":0,"prefixes_advertised":0,"remote_router_id":null,"#,
        r#""last_error":null,"families":[],"graceful_restart_stale":false,"#,
        r#""established_transitions":0,"#,
        r#""sent":{"open":0,"update":0,"notification":0,"keepalive":0,"route_refresh":0},"#,
        r#""received":{"open":0,"update":0,"notification":0,"keepalive":0,"route_refresh":0},"#,
        r#""notifications_sent":{},"notifications_received":{},"#,
        r#""prefixes_received_by_family":{},"prefixes_accepted":0,"#,
        r#""prefixes_accepted_by_family":{},"prefixes_advertised_by_family":{},"#,
        r#""config":{"hold_time":0,"keepalive":null,"connect_retry_secs":0,"passive":false,"#,
        r#""max_prefixes":null,"md5":false,"source":"configured","reflect":null},"#,
        r#""session":null}"#
    );
    assert_eq!(serde_json::to_string(&idle).unwrap(), text);
    // A reply from a latticed that predates the per-family and per-message fields still parses.
    let old = r#"{"address":"10.0.9.1","remote_as":65009,"state":"Idle","uptime_secs":null,"prefixes_received":0,"prefixes_advertised":0,"remote_router_id":null,"last_error":null}"#;
    assert_eq!(serde_json::from_str::<PeerStatus>(old).unwrap(), idle);
}

/// `routes` carries each path in this shape.
#[test]
fn route_wire_shape() {
    let reply = Reply::Routes {
        routes: vec![RouteStatus {
            prefix: "10.244.2.0/24".parse().unwrap(),
            paths: vec![RoutePath {
                peer: "10.0.1.1".parse().unwrap(),
                peer_interface: None,
                next_hop: "10.0.1.254".parse().unwrap(),
                next_hop_interface: None,
                not_installed_because: None,
                as_path: "65001 {65003}".into(),
                origin: "incomplete".into(),
                med: Some(10),
                local_pref: Some(200),
                best: true,
                multipath: true,
                stale: true,
                communities: vec![],
                originator_id: Some("10.0.0.3".parse().unwrap()),
                cluster_list: vec!["10.0.0.1".parse().unwrap()],
                ignored: None,
            }],
            in_kernel: true,
            kernel_next_hops: vec!["10.0.1.254".parse().unwrap()],
            kernel_next_hop_interfaces: vec![],
            not_installed_because: None,
            problem: None,
        }],
        announced: vec![],
    };
    let text = concat!(
        r#"{"reply":"routes","routes":[{"prefix":"10.244.2.0/24","paths":[{"peer":"10.0.1.1","#,
        r#""next_hop":"10.0.1.254","as_path":"65001 {65003}","origin":"incomplete","med":10,"#,
        r#""local_pref":200,"best":true,"multipath":true,"stale":true,"#,
        r#""originator_id":"10.0.0.3","cluster_list":["10.0.0.1"]}],"in_kernel":true,"#,
        r#""kernel_next_hops":["10.0.1.254"],"not_installed_because":null}]}"#
    );
    assert_eq!(serde_json::to_string(&reply).unwrap(), text);
    assert_eq!(serde_json::from_str::<Reply>(text).unwrap(), reply);
}

/// A peer with a BFD session carries it under `bfd`; the JSON goes both ways.
#[test]
fn a_peers_bfd_session_round_trips() {
    let mut p = PeerStatus::new("10.0.1.1".parse().unwrap(), 65001);
    p.bfd = Some(super::BfdStatus {
        state: super::BfdState::AdminDown,
        reason: None,
        multihop: true,
        local: Some("10.0.1.2".parse().unwrap()),
        interface: None,
        min_rx_ms: 100,
        min_tx_ms: 100,
        multiplier: 3,
        tx_interval_ms: Some(1000),
        rx_interval_ms: None,
        detection_time_ms: None,
        remote_multiplier: 0,
        control_plane_independent: true,
        remote_control_plane_independent: false,
        last_down: Some(super::BfdDown {
            secs_ago: 3,
            from: super::BfdState::Up,
            diag: "control detection time expired".into(),
            remote_diag: "no diagnostic".into(),
            remote_admin_down: false,
        }),
        holding_bgp_down: true,
        up_transitions: 1,
        down_transitions: 1,
        packets_sent: 7,
        packets_received: 5,
    });
    let text = serde_json::to_string(&p).unwrap();
    assert!(
        text.contains(r#""bfd":{"state":"admin_down","reason":null,"multihop":true,"#),
        "{text}"
    );
    assert_eq!(serde_json::from_str::<PeerStatus>(&text).unwrap(), p);
}

/// The reload and announcement requests and replies in their wire shape.
#[test]
fn reload_and_announcement_wire_shapes() {
    let cases: Vec<(Request, &str)> = vec![
        (Request::Reload, r#"{"op":"reload"}"#),
        (
            Request::Announce {
                prefixes: vec!["192.0.2.10/32".parse().unwrap()],
                communities: vec!["65000:100".into()],
            },
            r#"{"op":"announce","prefixes":["192.0.2.10/32"],"communities":["65000:100"]}"#,
        ),
        (
            Request::Withdraw {
                prefixes: vec!["192.0.2.10/32".parse().unwrap()],
            },
            r#"{"op":"withdraw","prefixes":["192.0.2.10/32"]}"#,
        ),
    ];
    for (req, text) in cases {
        assert_eq!(serde_json::to_string(&req).unwrap(), text);
        assert_eq!(serde_json::from_str::<Request>(text).unwrap(), req);
    }
    let reply = Reply::Announced {
        announcements: vec![Announcement {
            prefix: "192.0.2.10/32".parse().unwrap(),
            communities: vec!["65000:100".into()],
            peers: vec!["10.0.1.1".into()],
            not_exported: vec![],
        }],
    };
    let text = concat!(
        r#"{"reply":"announced","announcements":[{"prefix":"192.0.2.10/32","#,
        r#""communities":["65000:100"],"peers":["10.0.1.1"]}]}"#
    );
    assert_eq!(serde_json::to_string(&reply).unwrap(), text);
    assert_eq!(serde_json::from_str::<Reply>(text).unwrap(), reply);
    let reloaded = r#"{"reply":"reloaded","changes":["peer 10.0.1.4: added"]}"#;
    assert_eq!(
        serde_json::from_str::<Reply>(reloaded).unwrap(),
        Reply::Reloaded {
            changes: vec!["peer 10.0.1.4: added".into()]
        }
    );
}

/// An interface peer's route: the interfaces travel beside the addresses, and only then (an
/// older client reads the addresses as before).
#[test]
fn unnumbered_route_wire_shape() {
    let route = RouteStatus {
        prefix: "10.244.2.0/24".parse().unwrap(),
        paths: vec![RoutePath {
            peer: "fe80::a".parse().unwrap(),
            peer_interface: Some("eth1".into()),
            next_hop: "fe80::a".parse().unwrap(),
            next_hop_interface: Some("eth1".into()),
            not_installed_because: None,
            as_path: "65011".into(),
            origin: "IGP".into(),
            med: None,
            local_pref: None,
            best: true,
            multipath: true,
            stale: false,
            communities: vec![],
            originator_id: None,
            cluster_list: Vec::new(),
            ignored: None,
        }],
        in_kernel: true,
        kernel_next_hops: vec!["fe80::a".parse().unwrap()],
        kernel_next_hop_interfaces: vec![Some("eth1".into())],
        not_installed_because: None,
        problem: None,
    };
    let text = concat!(
        r#"{"prefix":"10.244.2.0/24","paths":[{"peer":"fe80::a","peer_interface":"eth1","#,
        r#""next_hop":"fe80::a","next_hop_interface":"eth1","as_path":"65011","origin":"IGP","#,
        r#""med":null,"local_pref":null,"best":true,"multipath":true,"stale":false}],"#,
        r#""in_kernel":true,"kernel_next_hops":["fe80::a"],"kernel_next_hop_interfaces":["eth1"],"#,
        r#""not_installed_because":null}"#
    );
    assert_eq!(serde_json::to_string(&route).unwrap(), text);
    assert_eq!(serde_json::from_str::<RouteStatus>(text).unwrap(), route);
}
