//! RFC 4271 §6.3 UPDATE errors: those that reset the session, and those RFC 7606 recovers from
//! (treat-as-withdraw, attribute discard).

use bgp::wire::{ErrorCode, Recovery};

use testkit::bgp::mp_reach_v6;

use super::{
    case, recovered, update, update_plus, update_replacing, Case, AS_PATH, NEXT_HOP, NLRI, ORIGIN,
};

pub fn cases() -> Vec<Case> {
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
        // RFC 7606 §7.9: ORIGINATOR_ID of any length but 4 is treat-as-withdraw.
        recovered(
            "ORIGINATOR_ID length 3",
            update_plus(&[0x80, 9, 3, 10, 0, 0]),
            Recovery::TreatAsWithdraw,
            5,
        ),
        recovered(
            "ORIGINATOR_ID length 0",
            update_plus(&[0x80, 9, 0]),
            Recovery::TreatAsWithdraw,
            5,
        ),
        recovered(
            "ORIGINATOR_ID flagged transitive",
            update_plus(&[0xc0, 9, 4, 10, 0, 0, 1]),
            Recovery::TreatAsWithdraw,
            4,
        ),
        // RFC 7606 §7.10: CLUSTER_LIST whose length is not a multiple of 4.
        recovered(
            "CLUSTER_LIST length 6",
            update_plus(&[0x80, 10, 6, 10, 0, 0, 1, 10, 0]),
            Recovery::TreatAsWithdraw,
            5,
        ),
        recovered(
            "CLUSTER_LIST flagged well-known",
            update_plus(&[0x40, 10, 4, 10, 0, 0, 1]),
            Recovery::TreatAsWithdraw,
            4,
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
