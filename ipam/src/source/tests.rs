use super::*;

fn settings(block: Option<&str>, index: Option<u32>) -> IpamSettings {
    let mut s = IpamSettings::new("10.244.0.0/16".parse().unwrap(), "/nonexistent".into());
    s.block = block.map(|b| b.parse().unwrap());
    s.node_index = index;
    s
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[test]
fn configured_block_wins() {
    assert_eq!(
        choose_block(&settings(Some("10.244.7.0/24"), Some(1)))
            .unwrap()
            .to_string(),
        "10.244.7.0/24"
    );
}

#[test]
fn node_index_picks_the_nth_block() {
    for (i, want) in [
        (0, "10.244.0.0/24"),
        (3, "10.244.3.0/24"),
        (255, "10.244.255.0/24"),
    ] {
        assert_eq!(
            choose_block(&settings(None, Some(i))).unwrap().to_string(),
            want
        );
    }
}

#[test]
fn bad_choices_name_their_field() {
    let cases = [
        (settings(None, Some(256)), "ipam.node_index"),
        (settings(None, None), "ipam.block"),
        (settings(Some("10.245.0.0/24"), None), "ipam.block"),
        (settings(Some("10.244.0.0/25"), None), "ipam.block"),
        (settings(Some("10.244.0.1/24"), None), "ipam.block"),
    ];
    for (s, field) in cases {
        match choose_block(&s) {
            Err(IpamError::BadConfig { field: f, .. }) => assert_eq!(f, field, "{s:?}"),
            other => panic!("{s:?}: {other:?}"),
        }
    }
    let mut s = settings(None, Some(0));
    s.block_prefix_len = 8;
    assert!(matches!(
        choose_block(&s),
        Err(IpamError::BadConfig {
            field: "cluster.block_prefix_len",
            ..
        })
    ));
}

#[test]
fn local_dual_stack_and_borrowable_blocks() {
    let mut s = settings(None, Some(2));
    s.cluster_v6 = Some("fd00:10:244::/56".parse().unwrap());
    s.blocks = vec![net("10.244.9.0/24"), net("fd00:10:244::f00/120")];
    let f = fixed_blocks(&s).unwrap().unwrap();
    assert_eq!(f.v4, net("10.244.2.0/24"));
    assert_eq!(f.v6, Some(net("fd00:10:244::200/120")));
    assert_eq!(f.borrowable, s.blocks);

    s.blocks = vec![net("10.244.2.0/24")];
    assert!(matches!(
        fixed_blocks(&s),
        Err(IpamError::BadConfig {
            field: "ipam.blocks",
            ..
        })
    ));
    s.blocks = vec![net("10.244.9.0/25")];
    assert!(matches!(
        fixed_blocks(&s),
        Err(IpamError::BadConfig {
            field: "ipam.blocks",
            ..
        })
    ));
    s.blocks = vec![];
    s.node_index = None;
    s.block = Some("10.244.1.0/24".parse().unwrap());
    assert!(matches!(
        fixed_blocks(&s),
        Err(IpamError::BadConfig {
            field: "ipam.block_v6",
            ..
        })
    ));
}

#[test]
fn fan_takes_the_region_of_the_underlay_offset() {
    let mut s = settings(None, None);
    s.datastore = Datastore::Fan {
        underlay: "10.0.0.0/24".parse().unwrap(),
        addresses: vec!["10.0.0.7".parse().unwrap()],
    };
    let f = fixed_blocks(&s).unwrap().unwrap();
    assert_eq!(f.v4, net("10.244.7.0/24"));
    assert!(f.borrowable.is_empty());

    // Smaller blocks: the /24 region holds four /26 blocks, one primary and three to borrow.
    s.block_prefix_len = 26;
    s.cluster_v6 = Some("fd00:10:244::/56".parse().unwrap());
    let f = fixed_blocks(&s).unwrap().unwrap();
    assert_eq!(f.v4, net("10.244.7.0/26"));
    assert_eq!(f.v6, Some(net("fd00:10:244:7::/120")));
    assert_eq!(
        f.borrowable.len(),
        3 + 3,
        "max_blocks_per_host 4 in each family"
    );
    assert!(f.borrowable.contains(&net("10.244.7.192/26")));

    // Two hosts never share a block.
    let blocks = |last: u8| {
        let mut s = s.clone();
        s.datastore = Datastore::Fan {
            underlay: "10.0.0.0/24".parse().unwrap(),
            addresses: vec![std::net::Ipv4Addr::new(10, 0, 0, last)],
        };
        let f = fixed_blocks(&s).unwrap().unwrap();
        let mut all = vec![f.v4];
        all.extend(f.v6);
        all.extend(f.borrowable);
        all
    };
    let a = blocks(1);
    let b = blocks(2);
    assert!(a
        .iter()
        .all(|x| b.iter().all(|y| !x.contains(y) && !y.contains(x))));
}

#[test]
fn fan_refuses_what_cannot_work() {
    let mut s = settings(None, None);
    s.datastore = Datastore::Fan {
        underlay: "10.0.0.0/24".parse().unwrap(),
        addresses: vec!["10.0.1.7".parse().unwrap()],
    };
    assert!(matches!(
        fixed_blocks(&s),
        Err(IpamError::BadConfig {
            field: "ipam.fan.address",
            ..
        })
    ));
    s.datastore = Datastore::Fan {
        underlay: "10.0.0.0/16".parse().unwrap(),
        addresses: vec!["10.0.1.7".parse().unwrap()],
    };
    // A /16 cluster among 65536 hosts leaves a /32 each: smaller than a /24 block.
    assert!(matches!(
        fixed_blocks(&s),
        Err(IpamError::BadConfig {
            field: "ipam.fan.underlay",
            ..
        })
    ));
}

#[test]
fn fan_takes_the_first_given_address_inside_the_underlay() {
    let mut s = settings(None, None);
    let fan = |addresses: &[&str]| Datastore::Fan {
        underlay: "10.0.0.0/24".parse().unwrap(),
        addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
    };
    // The router id outside the underlay, an uplink address inside: the uplink's.
    s.datastore = fan(&["192.0.2.1", "10.0.0.42", "10.0.0.43"]);
    assert_eq!(fixed_blocks(&s).unwrap().unwrap().v4, net("10.244.42.0/24"));
    // None inside: refused, naming the first (the one the operator configured).
    s.datastore = fan(&["192.0.2.1", "198.51.100.7"]);
    match fixed_blocks(&s) {
        Err(IpamError::BadConfig { field, message }) => {
            assert_eq!(field, "ipam.fan.address");
            assert!(message.starts_with("192.0.2.1 is not inside"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    s.datastore = fan(&[]);
    assert!(matches!(
        fixed_blocks(&s),
        Err(IpamError::BadConfig {
            field: "ipam.fan.address",
            ..
        })
    ));
}

#[test]
fn each_datastore_is_one_source() {
    let mut s = settings(Some("10.244.7.0/24"), None);
    assert!(configure(&s).unwrap().fixed().is_some(), "local");
    s.datastore = Datastore::Fan {
        underlay: "10.0.0.0/24".parse().unwrap(),
        addresses: vec!["10.0.0.7".parse().unwrap()],
    };
    assert!(configure(&s).unwrap().fixed().is_some(), "fan");
    s.datastore = Datastore::Etcd {
        endpoints: vec!["http://127.0.0.1:1".into()],
        prefix: "/t".into(),
        node: "h".into(),
        security: Default::default(),
    };
    let etcd = configure(&s).unwrap();
    assert!(etcd.fixed().is_none(), "etcd claims its blocks");
    assert!(etcd.as_any().downcast_ref::<etcd::EtcdSource>().is_some());
    s.block_prefix_len = 8;
    assert!(matches!(
        configure(&s),
        Err(IpamError::BadConfig {
            field: "cluster.block_prefix_len",
            ..
        })
    ));
}
