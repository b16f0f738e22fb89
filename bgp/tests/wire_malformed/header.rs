//! RFC 4271 §6.1 message header errors (and RFC 7313 §5 for ROUTE-REFRESH): the data is the
//! length field, the type, or the whole message.

use bgp::wire::ErrorCode;

use super::{case, msg, Case};

pub fn cases() -> Vec<Case> {
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
