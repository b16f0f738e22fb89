//! Malformed messages, each with the NOTIFICATION (code, subcode, data) RFC 4271 §6 prescribes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bgp::wire::{check_frame, decode, CodecContext, DecodeError, ErrorCode, MAX_MESSAGE_LEN};

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

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    code: ErrorCode,
    subcode: u8,
    data: Vec<u8>,
}

fn case(name: &'static str, bytes: Vec<u8>, code: ErrorCode, subcode: u8, data: &[u8]) -> Case {
    Case {
        name,
        bytes,
        code,
        subcode,
        data: data.to_vec(),
    }
}

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
            "message type 5 (ROUTE-REFRESH unsupported)",
            msg(5, &[0, 1, 0, 1]),
            H,
            3,
            &[5],
        ),
        case("message type 0", msg(0, &[]), H, 3, &[0]),
        case("KEEPALIVE with a body", long_keepalive, H, 2, &[0, 20]),
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
        case(
            "attribute value overruns the list",
            update(&[], &[0x40, 1, 2, 0], &[]),
            U,
            1,
            &[],
        ),
        case(
            "attribute header cut short",
            update(&[], &[0x40], &[]),
            U,
            1,
            &[],
        ),
        case("ORIGIN twice", update_plus(&[0x40, 1, 1, 2]), U, 1, &[]),
        case(
            "ORIGIN flagged optional",
            update_replacing(&bad_origin_flags),
            U,
            4,
            &bad_origin_flags,
        ),
        case(
            "ORIGIN with Partial",
            update_replacing(&[0x60, 1, 1, 0]),
            U,
            4,
            &[0x60, 1, 1, 0],
        ),
        case(
            "MED flagged well-known",
            update_plus(&med_flags),
            U,
            4,
            &med_flags,
        ),
        case(
            "ORIGIN length 2",
            update_replacing(&[0x40, 1, 2, 0, 0]),
            U,
            5,
            &[0x40, 1, 2, 0, 0],
        ),
        case(
            "NEXT_HOP length 5",
            update_replacing(&[0x40, 3, 5, 1, 2, 3, 4, 5]),
            U,
            5,
            &[0x40, 3, 5, 1, 2, 3, 4, 5],
        ),
        case(
            "MED length 3",
            update_plus(&[0x80, 4, 3, 0, 0, 0]),
            U,
            5,
            &[0x80, 4, 3, 0, 0, 0],
        ),
        case(
            "LOCAL_PREF length 8",
            update_plus(&[0x40, 5, 8, 0, 0, 0, 0, 0, 0, 0, 0]),
            U,
            5,
            &[0x40, 5, 8, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        case(
            "ATOMIC_AGGREGATE length 1",
            update_plus(&[0x40, 6, 1, 0]),
            U,
            5,
            &[0x40, 6, 1, 0],
        ),
        case(
            "extended-length NEXT_HOP of 3",
            update_replacing(&[0x50, 3, 0, 3, 1, 2, 3]),
            U,
            5,
            &[0x50, 3, 0, 3, 1, 2, 3],
        ),
        case(
            "ORIGIN 3",
            update_replacing(&[0x40, 1, 1, 3]),
            U,
            6,
            &[0x40, 1, 1, 3],
        ),
        case(
            "AS_PATH segment type 3 (confederation)",
            update_replacing(&[0x40, 2, 4, 3, 1, 0, 1]),
            U,
            11,
            &[],
        ),
        case(
            "AS_PATH segment overruns",
            update_replacing(&[0x40, 2, 4, 2, 2, 0, 1]),
            U,
            11,
            &[],
        ),
        case(
            "AS_PATH segment of zero ASNs",
            update_replacing(&[0x40, 2, 3, 2, 0, 7]),
            U,
            11,
            &[],
        ),
        case(
            "AS_PATH with a dangling byte",
            update_replacing(&[0x40, 2, 5, 2, 1, 0, 1, 2]),
            U,
            11,
            &[],
        ),
        case(
            "NEXT_HOP 0.0.0.0",
            update_replacing(&[0x40, 3, 4, 0, 0, 0, 0]),
            U,
            8,
            &[0x40, 3, 4, 0, 0, 0, 0],
        ),
        case(
            "NEXT_HOP multicast",
            update_replacing(&[0x40, 3, 4, 224, 0, 0, 5]),
            U,
            8,
            &[0x40, 3, 4, 224, 0, 0, 5],
        ),
        case(
            "NEXT_HOP broadcast",
            update_replacing(&[0x40, 3, 4, 255, 255, 255, 255]),
            U,
            8,
            &[0x40, 3, 4, 255, 255, 255, 255],
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
        case(
            "ORIGIN missing",
            update(&[], &[AS_PATH, NEXT_HOP].concat(), NLRI),
            U,
            3,
            &[1],
        ),
        case(
            "AS_PATH missing",
            update(&[], &[ORIGIN, NEXT_HOP].concat(), NLRI),
            U,
            3,
            &[2],
        ),
        case(
            "NEXT_HOP missing",
            update(&[], &[ORIGIN, AS_PATH].concat(), NLRI),
            U,
            3,
            &[3],
        ),
    ]
}

fn assert_case(c: &Case, ctx: CodecContext) {
    let got: Result<_, DecodeError> = match check_frame(&c.bytes, MAX_MESSAGE_LEN) {
        Err(e) => Err(e),
        Ok(Some(n)) => {
            assert_eq!(n, c.bytes.len(), "{}: frame length", c.name);
            decode(&c.bytes, ctx)
        }
        Ok(None) => panic!("{}: check_frame wants more bytes", c.name),
    };
    let e = got.expect_err(c.name);
    assert_eq!(
        (e.code, e.subcode, &e.data),
        (c.code, c.subcode, &c.data),
        "{}: {e}",
        c.name
    );
}

#[test]
fn malformed_headers() {
    header_cases().iter().for_each(|c| assert_case(c, TWO));
}

#[test]
fn malformed_opens() {
    open_cases().iter().for_each(|c| assert_case(c, TWO));
}

#[test]
fn malformed_updates() {
    update_cases().iter().for_each(|c| assert_case(c, TWO));
}

#[test]
fn as_path_width_follows_the_context() {
    // 2-octet path [2,1,0xfdE8] is 4 bytes: malformed when read as 4-octet ASNs.
    let e = decode(&update_plus(&[]), FOUR).unwrap_err();
    assert_eq!((e.code, e.subcode), (ErrorCode::UpdateMessage, 11));
    assert!(decode(&update_plus(&[]), TWO).is_ok());
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
