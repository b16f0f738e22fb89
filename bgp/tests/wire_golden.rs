//! Golden vectors: `(bytes, Message)` pairs, the bytes commented field by field.
//!
//! The `frr_*` vectors are what FRR 8.4.4 really sent to a listener in a lab namespace
//! (`router bgp 65000`, hostname `tor1`, `network 10.244.1.0/24` and `192.168.128.0/17`).
//! Every vector is also a seed in `fuzz/corpus/decode/` (checked below; set
//! `LATTICE_WRITE_CORPUS=1` to rewrite the seeds after changing a vector).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::path::PathBuf;

use bgp::wire::{
    check_frame, decode, encode, AsSegment, Capability, CodecContext, GracefulRestartCap, Message,
    NotificationMsg, OpenMsg, Origin, PathAttribute, UpdateMsg, MAX_MESSAGE_LEN,
};

/// Hex bytes, with `#` comments and whitespace ignored.
fn hex(s: &str) -> Vec<u8> {
    let digits: String = s
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

const MARKER: &str = "ffffffff ffffffff ffffffff ffffffff";
const FOUR: CodecContext = CodecContext {
    four_octet_as: true,
};
const TWO: CodecContext = CodecContext {
    four_octet_as: false,
};

/// One golden vector.
struct Vector {
    /// Seed file name in the fuzz corpus.
    name: &'static str,
    bytes: Vec<u8>,
    ctx: CodecContext,
    msg: Message,
    /// True when `encode(msg)` gives back exactly `bytes` (our canonical form).
    canonical: bool,
}

fn frr_open() -> Vector {
    let bytes = hex(&format!(
        "{MARKER}
        0060        # length 96
        01          # type OPEN
        04          # version 4
        fde8        # my AS 65000
        0009        # hold time 9
        0a000c01    # BGP identifier 10.0.12.1
        43          # optional parameters length 67; FRR puts one capability per parameter
        02 06 01 04 0001 00 01          # cap 1 Multiprotocol: AFI 1 (IPv4), reserved, SAFI 1
        02 02 80 00                     # cap 128 pre-standard Route Refresh
        02 02 02 00                     # cap 2 Route Refresh
        02 02 46 00                     # cap 70 Enhanced Route Refresh
        02 06 41 04 0000fde8            # cap 65 4-octet AS: 65000
        02 02 06 00                     # cap 6 Extended Message
        02 06 45 04 0001 01 01          # cap 69 ADD-PATH: IPv4 unicast, receive
        02 08 49 06 04 746f7231 00      # cap 73 hostname: \"tor1\", empty domain
        02 04 40 02 c0 78               # cap 64 Graceful Restart: flags 0xc, 120 s
        02 09 47 07 0001 01 80 000000   # cap 71 Long-Lived GR: IPv4 unicast, F bit, 0 s"
    ));
    let unknown = |code, value: &[u8]| Capability::Unknown {
        code,
        value: value.to_vec(),
    };
    let msg = Message::Open(OpenMsg {
        version: 4,
        my_as: 65000,
        hold_time: 9,
        router_id: Ipv4Addr::new(10, 0, 12, 1),
        capabilities: vec![
            Capability::Multiprotocol { afi: 1, safi: 1 },
            unknown(128, &[]),
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(65000),
            Capability::ExtendedMessage,
            unknown(69, &[0, 1, 1, 1]),
            Capability::Fqdn {
                hostname: b"tor1".to_vec(),
                domain: vec![],
            },
            Capability::GracefulRestart(GracefulRestartCap {
                flags: 0xc,
                restart_time: 120,
                families: vec![],
            }),
            unknown(71, &[0, 1, 1, 0x80, 0, 0, 0]),
        ],
    });
    Vector {
        name: "frr-open",
        bytes,
        ctx: TWO,
        msg,
        canonical: false,
    }
}

fn frr_keepalive() -> Vector {
    let bytes = hex(&format!("{MARKER} 0013 # length 19\n 04 # type KEEPALIVE"));
    Vector {
        name: "frr-keepalive",
        bytes,
        ctx: TWO,
        msg: Message::Keepalive,
        canonical: true,
    }
}

/// FRR's routes, as attributes and NLRI shared by both AS widths.
fn frr_update_msg() -> Message {
    Message::Update(UpdateMsg {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(vec![AsSegment::Sequence(vec![65000])]),
            PathAttribute::NextHop(Ipv4Addr::new(10, 0, 99, 1)),
            PathAttribute::MultiExitDisc(0),
        ],
        nlri: vec![
            "10.244.1.0/24".parse().unwrap(),
            "192.168.128.0/17".parse().unwrap(),
        ],
        recovered: vec![],
    })
}

fn frr_update_4octet() -> Vector {
    let bytes = hex(&format!(
        "{MARKER}
        003b        # length 59
        02          # type UPDATE
        0000        # withdrawn routes length 0
        001c        # total path attribute length 28
        40 01 01 00                 # ORIGIN (well-known transitive), len 1: IGP
        50 02 0006 02 01 0000fde8   # AS_PATH, Extended Length flag although 6 < 256: SEQUENCE of 1, AS 65000
        40 03 04 0a006301           # NEXT_HOP 10.0.99.1
        80 04 04 00000000           # MED (optional non-transitive) 0
        18 0af401                   # NLRI 10.244.1.0/24
        11 c0a880                   # NLRI 192.168.128.0/17"
    ));
    // Not canonical: we write AS_PATH with a 1-octet length.
    Vector {
        name: "frr-update-4octet",
        bytes,
        ctx: FOUR,
        msg: frr_update_msg(),
        canonical: false,
    }
}

fn frr_update_2octet() -> Vector {
    let bytes = hex(&format!(
        "{MARKER}
        0039        # length 57: the same routes to a peer without the 4-octet AS capability
        02          # type UPDATE
        0000        # withdrawn routes length 0
        001a        # total path attribute length 26
        40 01 01 00             # ORIGIN IGP
        50 02 0004 02 01 fde8   # AS_PATH (extended length 4): SEQUENCE of 1, 2-octet AS 65000
        40 03 04 0a006301       # NEXT_HOP 10.0.99.1
        80 04 04 00000000       # MED 0
        18 0af401               # NLRI 10.244.1.0/24
        11 c0a880               # NLRI 192.168.128.0/17"
    ));
    Vector {
        name: "frr-update-2octet",
        bytes,
        ctx: TWO,
        msg: frr_update_msg(),
        canonical: false,
    }
}

fn our_open() -> Vector {
    let bytes = hex(&format!(
        "{MARKER}
        0031        # length 49
        01          # type OPEN
        04          # version 4
        5ba0        # my AS: AS_TRANS (23456), the real ASN 4200000001 is in the capability
        005a        # hold time 90
        0a000002    # BGP identifier 10.0.0.2
        14          # optional parameters length 20: one Capabilities parameter
        02 12       # parameter type 2 (Capabilities), length 18
          01 04 0001 00 01    # Multiprotocol IPv4 unicast
          02 00               # Route Refresh
          41 04 fa56ea01      # 4-octet AS 4200000001
          80 02 01 61         # capability 128 (pre-standard Route Refresh), kept raw"
    ));
    let msg = Message::Open(OpenMsg {
        version: 4,
        my_as: 23456,
        hold_time: 90,
        router_id: Ipv4Addr::new(10, 0, 0, 2),
        capabilities: vec![
            Capability::Multiprotocol { afi: 1, safi: 1 },
            Capability::RouteRefresh,
            Capability::FourOctetAs(4_200_000_001),
            Capability::Unknown {
                code: 128,
                value: vec![1, b'a'],
            },
        ],
    });
    Vector {
        name: "our-open",
        bytes,
        ctx: TWO,
        msg,
        canonical: true,
    }
}

fn our_update() -> Vector {
    let bytes = hex(&format!(
        "{MARKER}
        004d        # length 77
        02          # type UPDATE
        0004        # withdrawn routes length 4
        18 0af402   # withdrawn 10.244.2.0/24
        002d        # total path attribute length 45
        40 01 01 02                     # ORIGIN INCOMPLETE
        40 02 10 02 02 0000fde9 fa56ea01 01 01 0000fdea
                                        # AS_PATH: SEQUENCE(65001 4200000001) SET(65002), 4-octet
        40 03 04 0a000002               # NEXT_HOP 10.0.0.2
        40 05 04 00000064               # LOCAL_PREF 100
        40 06 00                        # ATOMIC_AGGREGATE
        e0 63 02 beef                   # unknown optional transitive type 99, Partial set
        20 0af4010a                     # NLRI 10.244.1.10/32"
    ));
    let msg = Message::Update(UpdateMsg {
        withdrawn: vec!["10.244.2.0/24".parse().unwrap()],
        attributes: vec![
            PathAttribute::Origin(Origin::Incomplete),
            PathAttribute::AsPath(vec![
                AsSegment::Sequence(vec![65001, 4_200_000_001]),
                AsSegment::Set(vec![65002]),
            ]),
            PathAttribute::NextHop(Ipv4Addr::new(10, 0, 0, 2)),
            PathAttribute::LocalPref(100),
            PathAttribute::AtomicAggregate,
            PathAttribute::Unknown {
                flags: 0xe0,
                type_code: 99,
                value: vec![0xbe, 0xef],
            },
        ],
        nlri: vec!["10.244.1.10/32".parse().unwrap()],
        recovered: vec![],
    });
    Vector {
        name: "our-update",
        bytes,
        ctx: FOUR,
        msg,
        canonical: true,
    }
}

/// What a route reflector sends a client (RFC 4456 §8): the originator's attributes
/// untouched, plus ORIGINATOR_ID and CLUSTER_LIST (the reflector's own cluster first).
fn reflected_update() -> Vector {
    let bytes = hex(&format!(
        "{MARKER}
        0042        # length 66
        02          # type UPDATE
        0000        # no withdrawn routes
        0027        # total path attribute length 39
        40 01 01 00                     # ORIGIN IGP
        40 02 00                        # AS_PATH empty (iBGP)
        40 03 04 0a000003               # NEXT_HOP 10.0.0.3, the originator's
        40 05 04 00000064               # LOCAL_PREF 100
        80 09 04 0a000003               # ORIGINATOR_ID 10.0.0.3
        80 0a 08 0a000001 0a000009      # CLUSTER_LIST 10.0.0.1 10.0.0.9
        18 0af403                       # NLRI 10.244.3.0/24"
    ));
    let msg = Message::Update(UpdateMsg {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(vec![]),
            PathAttribute::NextHop(Ipv4Addr::new(10, 0, 0, 3)),
            PathAttribute::LocalPref(100),
            PathAttribute::OriginatorId(Ipv4Addr::new(10, 0, 0, 3)),
            PathAttribute::ClusterList(vec![
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 0, 0, 9),
            ]),
        ],
        nlri: vec!["10.244.3.0/24".parse().unwrap()],
        recovered: vec![],
    });
    Vector {
        name: "reflected-update",
        bytes,
        ctx: FOUR,
        msg,
        canonical: true,
    }
}

fn end_of_rib() -> Vector {
    let bytes = hex(&format!(
        "{MARKER} 0017 # length 23\n 02 # UPDATE\n 0000 0000 # nothing"
    ));
    let msg = Message::Update(UpdateMsg::default());
    Vector {
        name: "end-of-rib",
        bytes,
        ctx: TWO,
        msg,
        canonical: true,
    }
}

fn notification() -> Vector {
    let bytes = hex(&format!(
        "{MARKER}
        0017    # length 23
        03      # type NOTIFICATION
        02 02   # OPEN Message Error / Bad Peer AS
        fde9    # data: the AS we expected, 65001"
    ));
    let msg = Message::Notification(NotificationMsg {
        code: 2,
        subcode: 2,
        data: vec![0xfd, 0xe9],
    });
    Vector {
        name: "notification",
        bytes,
        ctx: TWO,
        msg,
        canonical: true,
    }
}

fn vectors() -> Vec<Vector> {
    vec![
        frr_open(),
        frr_keepalive(),
        frr_update_4octet(),
        frr_update_2octet(),
        our_open(),
        our_update(),
        reflected_update(),
        end_of_rib(),
        notification(),
    ]
}

#[test]
fn golden_vectors_decode_to_their_messages() {
    for v in vectors() {
        assert_eq!(
            check_frame(&v.bytes, MAX_MESSAGE_LEN),
            Ok(Some(v.bytes.len())),
            "{}",
            v.name
        );
        assert_eq!(decode(&v.bytes, v.ctx).as_ref(), Ok(&v.msg), "{}", v.name);
    }
}

#[test]
fn canonical_vectors_encode_to_their_bytes_and_others_round_trip() {
    for v in vectors() {
        let ours = encode(&v.msg, v.ctx);
        if v.canonical {
            assert_eq!(ours, v.bytes, "{}", v.name);
        }
        assert_eq!(decode(&ours, v.ctx).as_ref(), Ok(&v.msg), "{}", v.name);
    }
}

#[test]
fn frr_update_reencodes_canonically() {
    // Same routes, AS_PATH now with a 1-octet length: one byte shorter.
    let ours = encode(&frr_update_msg(), FOUR);
    let mut want = frr_update_4octet().bytes;
    want[17] -= 1; // length 59 -> 58
    want[22] -= 1; // attribute length 28 -> 27
    want.splice(27..31, [0x40, 0x02, 0x06]); // 50 02 0006 -> 40 02 06
    assert_eq!(ours, want);
}

#[test]
fn every_vector_is_a_fuzz_seed() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode");
    let write = std::env::var_os("LATTICE_WRITE_CORPUS").is_some();
    for v in vectors() {
        let path = dir.join(format!("golden-{}", v.name));
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &v.bytes).unwrap();
        }
        let seed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(seed, v.bytes, "{} differs from its vector", path.display());
    }
}
