//! The malformed messages that reset the session, each with the RFC's NOTIFICATION: message
//! header (RFC 4271 §6.1), OPEN (§6.2), UPDATE errors RFC 7606 does not soften (§6.3), an OPEN
//! in Established (§8.2.2, RFC 6608) and a malformed ROUTE-REFRESH (RFC 7313 §5).

use std::net::Ipv4Addr;

use testkit::bgp::{
    as_path, attr, concat, header, keepalive, message, mp_reach_v4, next_hop, open, origin_igp,
    prefix, update, OPTIONAL, WELL_KNOWN,
};

use crate::client::{expect, expect_data, Conn, Expect};
use crate::{ATTACKER, ATTACKER_AS, HOLD};

/// Where a case starts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The bytes follow a valid OPEN/KEEPALIVE exchange.
    Established,
    /// The bytes are the first thing sent on the connection.
    FirstMessage,
}

struct Case {
    name: &'static str,
    start: Start,
    bytes: Vec<u8>,
    expect: Expect,
}

fn cases() -> Vec<Case> {
    use Start::{Established, FirstMessage};
    let mut cases = Vec::new();
    let mut case = |name, start, bytes, expect| {
        cases.push(Case {
            name,
            start,
            bytes,
            expect,
        })
    };

    // RFC 4271 §6.1: message header errors; the data is the length field or the type.
    let mut bad_marker = keepalive();
    bad_marker[0] = 0x00;
    case("marker not all ones", Established, bad_marker, expect(1, 1));
    case(
        "length field 18",
        Established,
        header(18, 4),
        expect_data(1, 2, &[0x00, 0x12]),
    );
    // A whole 4097-octet UPDATE (its withdrawn routes padded with /0 entries): more than 4096
    // without the Extended Message capability (RFC 8654), which our OPEN does not announce.
    let mut long = header(4097, 2);
    long.extend_from_slice(&4074u16.to_be_bytes());
    long.extend(std::iter::repeat_n(0u8, 4074));
    long.extend_from_slice(&[0, 0]);
    assert_eq!(long.len(), 4097);
    case(
        "length 4097 on an UPDATE",
        Established,
        long,
        expect_data(1, 2, &[0x10, 0x01]),
    );
    case(
        "message type 9",
        Established,
        header(19, 9),
        expect_data(1, 3, &[9]),
    );
    let mut long_keepalive = header(20, 4);
    long_keepalive.push(0);
    case(
        "KEEPALIVE of length 20",
        Established,
        long_keepalive,
        expect_data(1, 2, &[0x00, 0x14]),
    );

    // RFC 4271 §6.2: OPEN errors, the OPEN being the first message.
    let mut v3 = open(ATTACKER_AS, ATTACKER, HOLD);
    v3[19] = 3;
    case("OPEN version 3", FirstMessage, v3, expect(2, 1));
    case(
        "OPEN from the wrong AS (65099)",
        FirstMessage,
        open(65099, ATTACKER, HOLD),
        expect(2, 2),
    );
    case(
        "OPEN with hold time 1",
        FirstMessage,
        open(ATTACKER_AS, ATTACKER, 1),
        expect(2, 6),
    );
    case(
        "OPEN with BGP identifier 0.0.0.0",
        FirstMessage,
        open(ATTACKER_AS, Ipv4Addr::UNSPECIFIED, HOLD),
        expect(2, 3),
    );

    // RFC 4271 §6.3 and RFC 7606 §4/§5: UPDATE errors that still reset the session.
    let valid_attrs = concat(&[&origin_igp(), &as_path(&[ATTACKER_AS]), &next_hop(ATTACKER)]);
    let mut body = vec![0x00, 0x40]; // 64 octets of withdrawn routes announced...
    body.extend_from_slice(&[0x00, 0x00]); // ...but only the attribute length follows.
    case(
        "UPDATE withdrawn length running past the message",
        Established,
        message(2, &body),
        expect(3, 1),
    );
    let unknown = attr(WELL_KNOWN, 99, &[0xde, 0xad]);
    case(
        "UPDATE unrecognised well-known attribute (flags 0x40, type 99)",
        Established,
        update(
            &[],
            &concat(&[&valid_attrs, &unknown]),
            &prefix("10.244.88.0/24"),
        ),
        // §6.3: the data is the unrecognised attribute (type, length, value).
        expect_data(3, 2, &unknown),
    );
    let empty_mp = attr(OPTIONAL, 14, &[]);
    case(
        "UPDATE zero-length MP_REACH_NLRI",
        Established,
        update(
            &[],
            &concat(&[&origin_igp(), &as_path(&[ATTACKER_AS]), &empty_mp]),
            &[],
        ),
        // RFC 4760 §7 / RFC 4271 §6.3: Optional Attribute Error, data the attribute.
        expect_data(3, 9, &empty_mp),
    );
    let mp = mp_reach_v4(ATTACKER, "10.244.88.0/24");
    case(
        "UPDATE with MP_REACH_NLRI twice",
        Established,
        update(
            &[],
            &concat(&[&origin_igp(), &as_path(&[ATTACKER_AS]), &mp, &mp]),
            &[],
        ),
        // RFC 7606 §3 g.
        expect(3, 1),
    );
    case(
        "UPDATE NLRI prefix length 33",
        Established,
        update(&[], &valid_attrs, &[33, 10, 244, 88, 0, 0]),
        // RFC 7606 §5.3: an NLRI that does not parse resets the session.
        expect(3, 10),
    );

    // RFC 4271 §8.2.2 with RFC 6608: an OPEN in Established is an FSM error, subcode 3.
    case(
        "second OPEN in Established",
        Established,
        open(ATTACKER_AS, ATTACKER, HOLD),
        expect(5, 3),
    );
    // RFC 7313 §5: a Beginning-of-Route-Refresh whose body is not 4 octets is ROUTE-REFRESH
    // Message Error / Invalid Message Length, the data the whole message.
    let rr = message(5, &[0x00, 0x01, 0x01, 0x01, 0x00]);
    assert_eq!(rr.len(), 24);
    let rr_data = rr.clone();
    case(
        "ROUTE-REFRESH (BoRR) of length 24",
        Established,
        rr,
        expect_data(7, 1, &rr_data),
    );
    cases
}

/// Every catalogue case on a fresh connection from the attacker; one line per mismatch.
pub async fn run() -> Vec<String> {
    let mut mismatches = Vec::new();
    for case in cases() {
        let conn = match case.start {
            Start::Established => Conn::establish(ATTACKER, ATTACKER_AS).await,
            Start::FirstMessage => Conn::connect(ATTACKER).await,
        };
        let got = match conn {
            Err(e) => e,
            Ok(mut conn) => match conn.send(&case.bytes).await {
                Err(e) => e,
                Ok(()) => {
                    let answer = conn.answer().await;
                    if case.expect.matches(&answer) {
                        println!("ok   {}: {answer}", case.name);
                        continue;
                    }
                    answer.to_string()
                }
            },
        };
        println!("FAIL {}: expected {}, got {got}", case.name, case.expect);
        mismatches.push(format!(
            "{}: expected {}, got {got}",
            case.name, case.expect
        ));
    }
    mismatches
}
