//! Malformed messages, each with the NOTIFICATION (code, subcode, data) RFC 4271 §6 prescribes,
//! or the RFC 7606 recovery; the cases by message family in `header.rs`, `open.rs` and
//! `update.rs`, built with the test kit's byte builders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod header;
mod open;
mod update;

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

use testkit::bgp::{message as msg, update};

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
    assert_cases(&header::cases(), TWO);
}

#[test]
fn malformed_opens() {
    assert_cases(&open::cases(), TWO);
}

#[test]
fn malformed_updates() {
    assert_cases(&update::cases(), TWO);
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
    for c in header::cases()
        .iter()
        .chain(&open::cases())
        .chain(&update::cases())
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
