//! Malformed messages, each with the NOTIFICATION (code, subcode, data) RFC 4271 §6 prescribes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bgp::wire::{
    check_frame, decode, CodecContext, DecodeError, ErrorCode, Message, Recovery, MAX_MESSAGE_LEN,
};
use ipnet::Ipv4Net;

const TWO: CodecContext = CodecContext {
    four_octet_as: false,
};
const FOUR: CodecContext = CodecContext {
    four_octet_as: true,
};

/// A message with a correct header around `body`.
fn msg(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0xff; 16];
    v.extend_from_slice(&u16::try_from(19 + body.len()).unwrap().to_be_bytes());
    v.push(msg_type);
    v.extend_from_slice(body);
    v
}

/// An OPEN body: version 4, AS 65001, hold 90, id 10.0.0.1, then `params` with their length.
fn open_with(version: u8, hold: u16, id: [u8; 4], params: &[u8]) -> Vec<u8> {
    let mut b = vec![version, 0xfd, 0xe9];
    b.extend_from_slice(&hold.to_be_bytes());
    b.extend_from_slice(&id);
    b.push(u8::try_from(params.len()).unwrap());
    b.extend_from_slice(params);
    msg(1, &b)
}

fn open_params(params: &[u8]) -> Vec<u8> {
    open_with(4, 90, [10, 0, 0, 1], params)
}

/// An UPDATE with the given withdrawn, attribute and NLRI bytes and correct lengths.
fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut b = u16::try_from(withdrawn.len())
        .unwrap()
        .to_be_bytes()
        .to_vec();
    b.extend_from_slice(withdrawn);
    b.extend_from_slice(&u16::try_from(attrs.len()).unwrap().to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(nlri);
    msg(2, &b)
}

const ORIGIN: &[u8] = &[0x40, 1, 1, 0];
const AS_PATH: &[u8] = &[0x40, 2, 4, 2, 1, 0xfd, 0xe8];
const NEXT_HOP: &[u8] = &[0x40, 3, 4, 10, 0, 0, 1];
const NLRI: &[u8] = &[24, 10, 244, 1];

/// ORIGIN, AS_PATH, NEXT_HOP, then `extra`, announcing 10.244.1.0/24.
fn update_plus(extra: &[u8]) -> Vec<u8> {
    update(&[], &[ORIGIN, AS_PATH, NEXT_HOP, extra].concat(), NLRI)
}

/// The three mandatory attributes but `attr` replacing the one with the same type code.
fn update_replacing(attr: &[u8]) -> Vec<u8> {
    let attrs: Vec<u8> = [ORIGIN, AS_PATH, NEXT_HOP]
        .iter()
        .flat_map(|a| if a[1] == attr[1] { attr } else { *a })
        .copied()
        .collect();
    update(&[], &attrs, NLRI)
}

/// A malformed message and its answer: a NOTIFICATION (code, subcode, data) that resets the
/// session, or, for UPDATE attribute errors RFC 7606 lets us survive, the recovery applied.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    code: ErrorCode,
    subcode: u8,
    data: Vec<u8>,
    recovery: Option<Recovery>,
}

fn case(name: &'static str, bytes: Vec<u8>, code: ErrorCode, subcode: u8, data: &[u8]) -> Case {
    Case {
        name,
        bytes,
        code,
        subcode,
        data: data.to_vec(),
        recovery: None,
    }
}

/// An UPDATE error handled per RFC 7606: no NOTIFICATION; `subcode` is the RFC 4271 one.
fn recovered(name: &'static str, bytes: Vec<u8>, recovery: Recovery, subcode: u8) -> Case {
    Case {
        name,
        bytes,
        code: ErrorCode::UpdateMessage,
        subcode,
        data: Vec::new(),
        recovery: Some(recovery),
    }
}

const NLRI_NET: Ipv4Net = Ipv4Net::new_assert(std::net::Ipv4Addr::new(10, 244, 1, 0), 24);

fn header_cases() -> Vec<Case> {
    use ErrorCode::MessageHeader as H;
    let mut bad_marker = msg(4, &[]);
    bad_marker[3] = 0xfe;
    let mut short_len = msg(4, &[]);
    short_len[17] = 18;
    let mut huge = msg(2, &[0; 4]);
    huge[16..18].copy_from_slice(&4097u16.to_be_bytes());
    let mut long_keepalive = msg(4, &[0]);
    long_keepalive.truncate(20);
    vec![
        case("marker not all ones", bad_marker, H, 1, &[]),
        case("length 18", short_len, H, 2, &[0, 18]),
        case(
            "length 4097 without Extended Message",
            huge,
            H,
            2,
            &[0x10, 0x01],
        ),
        case(
            "message type 6 (unknown)",
            msg(6, &[0, 1, 0, 1]),
            H,
            3,
            &[6],
        ),
        case("message type 0", msg(0, &[]), H, 3, &[0]),
        case("KEEPALIVE with a body", long_keepalive, H, 2, &[0, 20]),
        // RFC 7313 §5: the data is the whole message.
        case(
            "ROUTE-REFRESH of 24 octets",
            msg(5, &[0, 1, 0, 1, 0]),
            ErrorCode::RouteRefreshMessage,
            1,
            &msg(5, &[0, 1, 0, 1, 0]),
        ),
        case(
            "OPEN shorter than 29",
            msg(1, &[4, 0, 1, 0, 90, 10, 0, 0]),
            H,
            2,
            &[0, 27],
        ),
        case("UPDATE shorter than 23", msg(2, &[0, 0, 0]), H, 2, &[0, 22]),
        case("NOTIFICATION shorter than 21", msg(3, &[6]), H, 2, &[0, 20]),
    ]
}

fn open_cases() -> Vec<Case> {
    use ErrorCode::OpenMessage as O;
    vec![
        case(
            "version 3",
            open_with(3, 90, [10, 0, 0, 1], &[]),
            O,
            1,
            &[0, 4],
        ),
        case(
            "BGP identifier 0.0.0.0",
            open_with(4, 90, [0; 4], &[]),
            O,
            3,
            &[],
        ),
        case(
            "hold time 1",
            open_with(4, 1, [10, 0, 0, 1], &[]),
            O,
            6,
            &[],
        ),
        case(
            "hold time 2",
            open_with(4, 2, [10, 0, 0, 1], &[]),
            O,
            6,
            &[],
        ),
        case(
            "auth parameter (type 1)",
            open_params(&[1, 1, 0]),
            O,
            4,
            &[],
        ),
        case(
            "parameter overruns its list",
            open_params(&[2, 6, 1, 4, 0, 1]),
            O,
            0,
            &[],
        ),
        case(
            "capability overruns its parameter",
            open_params(&[2, 3, 65, 4, 0]),
            O,
            0,
            &[],
        ),
        case("parameter header cut short", open_params(&[2]), O, 0, &[]),
        case(
            "4-octet AS capability of length 2",
            open_params(&[2, 4, 65, 2, 0, 1]),
            O,
            0,
            &[],
        ),
        case(
            "Multiprotocol capability of length 5",
            open_params(&[2, 7, 1, 5, 0, 1, 0, 1, 0]),
            O,
            0,
            &[],
        ),
        case(
            "route refresh with a value",
            open_params(&[2, 3, 2, 1, 0]),
            O,
            0,
            &[],
        ),
        case(
            "bytes after the parameters",
            {
                let mut m = open_params(&[]);
                m.push(0);
                m[17] += 1;
                m
            },
            O,
            0,
            &[],
        ),
    ]
}

fn update_cases() -> Vec<Case> {
    use ErrorCode::UpdateMessage as U;
    let mut withdrawn_overrun = update(&[], &[], &[]);
    withdrawn_overrun[19..21].copy_from_slice(&[0, 9]);
    let mut attrs_overrun = update(&[], ORIGIN, &[]);
    attrs_overrun[22] = 5;
    let bad_origin_flags = [0xc0, 1, 1, 0];
    let med_flags = [0x40, 4, 4, 0, 0, 0, 0];
    vec![
        case("withdrawn length overruns", withdrawn_overrun, U, 1, &[]),
        case("attribute length overruns", attrs_overrun, U, 1, &[]),
        // RFC 7606 §4: the Total Attribute Length still finds the NLRI, so treat-as-withdraw.
        recovered(
            "attribute value overruns the list",
            update(&[], &[ORIGIN, AS_PATH, &[0x40, 3, 9, 10, 0]].concat(), NLRI),
            Recovery::TreatAsWithdraw,
            1,
        ),
        recovered(
            "attribute header cut short",
            update(&[], &[ORIGIN, AS_PATH, NEXT_HOP, &[0x40]].concat(), NLRI),
            Recovery::TreatAsWithdraw,
            1,
        ),
        recovered(
            "ORIGIN twice",
            update_plus(&[0x40, 1, 1, 2]),
            Recovery::AttributeDiscard,
            1,
        ),
        recovered(
            "ORIGIN flagged optional",
            update_replacing(&bad_origin_flags),
            Recovery::TreatAsWithdraw,
            4,
        ),
        recovered(
            "ORIGIN with Partial",
            update_replacing(&[0x60, 1, 1, 0]),
            Recovery::TreatAsWithdraw,
            4,
        ),
        recovered(
            "MED flagged well-known",
            update_plus(&med_flags),
            Recovery::TreatAsWithdraw,
            4,
        ),
        recovered(
            "ORIGIN length 2",
            update_replacing(&[0x40, 1, 2, 0, 0]),
            Recovery::TreatAsWithdraw,
            5,
        ),
        recovered(
            "NEXT_HOP length 5",
            update_replacing(&[0x40, 3, 5, 1, 2, 3, 4, 5]),
            Recovery::TreatAsWithdraw,
            5,
        ),
        recovered(
            "MED length 3",
            update_plus(&[0x80, 4, 3, 0, 0, 0]),
            Recovery::TreatAsWithdraw,
            5,
        ),
        recovered(
            "LOCAL_PREF length 8",
            update_plus(&[0x40, 5, 8, 0, 0, 0, 0, 0, 0, 0, 0]),
            Recovery::TreatAsWithdraw,
            5,
        ),
        recovered(
            "ATOMIC_AGGREGATE length 1",
            update_plus(&[0x40, 6, 1, 0]),
            Recovery::AttributeDiscard,
            5,
        ),
        recovered(
            "extended-length NEXT_HOP of 3",
            update_replacing(&[0x50, 3, 0, 3, 1, 2, 3]),
            Recovery::TreatAsWithdraw,
            5,
        ),
        recovered(
            "ORIGIN 3",
            update_replacing(&[0x40, 1, 1, 3]),
            Recovery::TreatAsWithdraw,
            6,
        ),
        recovered(
            "AS_PATH segment type 5 (unknown)",
            update_replacing(&[0x40, 2, 4, 5, 1, 0, 1]),
            Recovery::TreatAsWithdraw,
            11,
        ),
        recovered(
            "AS_PATH segment overruns",
            update_replacing(&[0x40, 2, 4, 2, 2, 0, 1]),
            Recovery::TreatAsWithdraw,
            11,
        ),
        recovered(
            "AS_PATH segment of zero ASNs",
            update_replacing(&[0x40, 2, 3, 2, 0, 7]),
            Recovery::TreatAsWithdraw,
            11,
        ),
        recovered(
            "AS_PATH with a dangling byte",
            update_replacing(&[0x40, 2, 5, 2, 1, 0, 1, 2]),
            Recovery::TreatAsWithdraw,
            11,
        ),
        recovered(
            "NEXT_HOP 0.0.0.0",
            update_replacing(&[0x40, 3, 4, 0, 0, 0, 0]),
            Recovery::TreatAsWithdraw,
            8,
        ),
        recovered(
            "NEXT_HOP multicast",
            update_replacing(&[0x40, 3, 4, 224, 0, 0, 5]),
            Recovery::TreatAsWithdraw,
            8,
        ),
        recovered(
            "NEXT_HOP broadcast",
            update_replacing(&[0x40, 3, 4, 255, 255, 255, 255]),
            Recovery::TreatAsWithdraw,
            8,
        ),
        case(
            "NLRI /33",
            update(
                &[],
                &[ORIGIN, AS_PATH, NEXT_HOP].concat(),
                &[33, 1, 2, 3, 4, 5],
            ),
            U,
            10,
            &[],
        ),
        case(
            "NLRI truncated",
            update(&[], &[ORIGIN, AS_PATH, NEXT_HOP].concat(), &[24, 10, 1]),
            U,
            10,
            &[],
        ),
        case(
            "withdrawn /40",
            update(&[40, 1, 2, 3, 4, 5], &[], &[]),
            U,
            10,
            &[],
        ),
        case(
            "withdrawn truncated",
            update(&[32, 1, 2, 3], &[], &[]),
            U,
            10,
            &[],
        ),
        case(
            "unknown well-known type 42",
            update_plus(&[0x40, 42, 1, 9]),
            U,
            2,
            &[0x40, 42, 1, 9],
        ),
        recovered(
            "ORIGIN missing",
            update(&[], &[AS_PATH, NEXT_HOP].concat(), NLRI),
            Recovery::TreatAsWithdraw,
            3,
        ),
        recovered(
            "AS_PATH missing",
            update(&[], &[ORIGIN, NEXT_HOP].concat(), NLRI),
            Recovery::TreatAsWithdraw,
            3,
        ),
        recovered(
            "NEXT_HOP missing",
            update(&[], &[ORIGIN, AS_PATH].concat(), NLRI),
            Recovery::TreatAsWithdraw,
            3,
        ),
        // RFC 4760 §7 / RFC 7606 §7.11: MP_REACH/MP_UNREACH problems reset the session.
        case(
            "MP_REACH_NLRI of length 0",
            update_plus(&[0x80, 14, 0]),
            U,
            9,
            &[0x80, 14, 0],
        ),
        case(
            "MP_REACH_NLRI IPv6 next hop of 5 octets",
            update_plus(&mp_reach_v6(&[5, 1, 2, 3, 4, 5], &[])),
            U,
            9,
            &mp_reach_v6(&[5, 1, 2, 3, 4, 5], &[]),
        ),
        case(
            "MP_REACH_NLRI IPv6 prefix length 129",
            update_plus(&mp_reach_v6(&V6_NH, &[129, 0xfd])),
            U,
            10,
            &[],
        ),
        case(
            "MP_REACH_NLRI twice",
            update_plus(&[mp_reach_v6(&V6_NH, &[]), mp_reach_v6(&V6_NH, &[])].concat()),
            U,
            1,
            &[],
        ),
        case(
            "MP_UNREACH_NLRI truncated",
            update(&[], &[0x80, 15, 2, 0, 2], &[]),
            U,
            9,
            &[0x80, 15, 2, 0, 2],
        ),
        recovered(
            "COMMUNITIES of 3 octets",
            update_plus(&[0xc0, 8, 3, 1, 2, 3]),
            Recovery::TreatAsWithdraw,
            5,
        ),
        recovered(
            "LARGE_COMMUNITY of 13 octets",
            update_plus(&[&[0xc0, 32, 13][..], &[0; 13]].concat()),
            Recovery::TreatAsWithdraw,
            5,
        ),
        recovered(
            "AGGREGATOR of 5 octets",
            update_plus(&[0xc0, 7, 5, 0, 1, 10, 0, 0]),
            Recovery::AttributeDiscard,
            5,
        ),
        recovered(
            "AS4_PATH with a zero-length segment",
            update_plus(&[0xc0, 17, 2, 2, 0]),
            Recovery::AttributeDiscard,
            11,
        ),
        recovered(
            "COMMUNITIES flagged non-transitive",
            update_plus(&[0x80, 8, 4, 0, 0, 0, 1]),
            Recovery::TreatAsWithdraw,
            4,
        ),
    ]
}

/// A 16-octet IPv6 next hop (fd00::1) with its length octet.
const V6_NH: [u8; 17] = [16, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// MP_REACH_NLRI for IPv6 unicast with the next-hop field `nh` (length octet first) and `nlri`.
fn mp_reach_v6(nh: &[u8], nlri: &[u8]) -> Vec<u8> {
    let value = [&[0, 2, 1][..], nh, &[0], nlri].concat();
    [&[0x80, 14, u8::try_from(value.len()).unwrap()][..], &value].concat()
}

/// What decoding `c` gave, if it is not what the case expects.
fn mismatch(c: &Case, ctx: CodecContext) -> Option<String> {
    let got: Result<_, DecodeError> = match check_frame(&c.bytes, MAX_MESSAGE_LEN) {
        Err(e) => Err(e),
        Ok(Some(n)) if n == c.bytes.len() => decode(&c.bytes, ctx),
        Ok(other) => return Some(format!("{}: check_frame gave {other:?}", c.name)),
    };
    match (got, c.recovery) {
        (Err(e), None) => ((e.code, e.subcode, &e.data) != (c.code, c.subcode, &c.data))
            .then(|| format!("{}: got {e} {:?}", c.name, e.data)),
        (Ok(Message::Update(u)), Some(action)) => {
            let hit = u
                .recovered
                .iter()
                .any(|r| r.action == action && r.error.subcode == c.subcode);
            let announced = !u.nlri.is_empty();
            let withdrawn = action != Recovery::TreatAsWithdraw || u.withdrawn.contains(&NLRI_NET);
            (!hit || (action == Recovery::TreatAsWithdraw && (announced || !withdrawn)))
                .then(|| format!("{}: recovered {:?}, nlri {:?}", c.name, u.recovered, u.nlri))
        }
        (got, _) => Some(format!("{}: got {got:?}", c.name)),
    }
}

fn assert_cases(cases: &[Case], ctx: CodecContext) {
    let bad: Vec<String> = cases.iter().filter_map(|c| mismatch(c, ctx)).collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn malformed_headers() {
    assert_cases(&header_cases(), TWO);
}

#[test]
fn malformed_opens() {
    assert_cases(&open_cases(), TWO);
}

#[test]
fn malformed_updates() {
    assert_cases(&update_cases(), TWO);
}

#[test]
fn as_path_width_follows_the_context() {
    // 2-octet path [2,1,0xfdE8] is 4 bytes: malformed when read as 4-octet ASNs, which RFC 7606
    // §7.2 answers with treat-as-withdraw.
    let Ok(Message::Update(u)) = decode(&update_plus(&[]), FOUR) else {
        panic!("not an UPDATE")
    };
    assert_eq!(u.recovered.first().map(|r| r.error.subcode), Some(11));
    assert_eq!(u.withdrawn, vec![NLRI_NET]);
    let Ok(Message::Update(u)) = decode(&update_plus(&[]), TWO) else {
        panic!("not an UPDATE")
    };
    assert!(u.recovered.is_empty());
}

#[test]
fn optional_unknowns_are_kept_and_withdraw_only_needs_no_attributes() {
    // Optional transitive type 8 (COMMUNITIES) and optional non-transitive type 200 kept raw.
    let m = decode(
        &update_plus(&[0xc0, 8, 4, 0xfd, 0xe8, 0, 1, 0x80, 200, 0]),
        TWO,
    )
    .unwrap();
    let bgp::wire::Message::Update(mut u) = m else {
        panic!("not an UPDATE")
    };
    assert_eq!(u.attributes.len(), 5);
    u.drop_unknown_non_transitive();
    assert_eq!(u.attributes.len(), 4);
    assert!(decode(&update(&[24, 10, 244, 1], &[], &[]), TWO).is_ok());
}

#[test]
fn decode_refuses_frames_whose_size_disagrees_with_the_header() {
    let mut ka = msg(4, &[]);
    ka.push(0);
    let e = decode(&ka, TWO).unwrap_err();
    assert_eq!(
        (e.code, e.subcode, e.data),
        (ErrorCode::MessageHeader, 2, vec![0, 19])
    );
    let e = decode(&ka[..10], TWO).unwrap_err();
    assert_eq!((e.code, e.subcode), (ErrorCode::MessageHeader, 2));
}

#[test]
fn every_case_is_a_fuzz_seed() {
    // Error paths make good fuzz seeds; `LATTICE_WRITE_CORPUS=1` rewrites them.
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode");
    let write = std::env::var_os("LATTICE_WRITE_CORPUS").is_some();
    for c in header_cases()
        .iter()
        .chain(&open_cases())
        .chain(&update_cases())
    {
        let slug: String = c
            .name
            .chars()
            .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
            .collect();
        let path = dir.join(format!("malformed-{slug}"));
        if write {
            std::fs::write(&path, &c.bytes).unwrap();
        }
        assert_eq!(std::fs::read(&path).unwrap(), c.bytes, "{}", path.display());
    }
}
