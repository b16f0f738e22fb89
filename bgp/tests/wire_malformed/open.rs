//! RFC 4271 §6.2 OPEN errors, and malformed optional parameters and capabilities (RFC 5492).

use bgp::wire::ErrorCode;

use super::{case, Case};

/// An OPEN: version `version`, AS 65001, hold time `hold`, identifier `id`, then `params`.
fn open_with(version: u8, hold: u16, id: [u8; 4], params: &[u8]) -> Vec<u8> {
    testkit::bgp::open_with(version, 65001, hold, id, params)
}

fn open_params(params: &[u8]) -> Vec<u8> {
    open_with(4, 90, [10, 0, 0, 1], params)
}

pub fn cases() -> Vec<Case> {
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
