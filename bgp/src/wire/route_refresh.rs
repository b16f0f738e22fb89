//! ROUTE-REFRESH (RFC 2918 §3, RFC 7313 §3.2 and §5).

use super::error::route_refresh_subcode::INVALID_MESSAGE_LENGTH;
use super::reader::Reader;
use super::{DecodeError, ErrorCode, RouteRefreshMsg};

/// Body length: AFI (2), subtype (1), SAFI (1).
const BODY_LEN: usize = 4;

/// Decodes a ROUTE-REFRESH body; `frame` is the whole message, the data of a length error.
pub(crate) fn decode_route_refresh(
    body: &[u8],
    frame: &[u8],
) -> Result<RouteRefreshMsg, DecodeError> {
    let bad_len = || {
        DecodeError::new(
            ErrorCode::RouteRefreshMessage,
            INVALID_MESSAGE_LENGTH,
            frame.to_vec(),
            "ROUTE-REFRESH length is not 23",
        )
    };
    if body.len() != BODY_LEN {
        return Err(bad_len());
    }
    let mut r = Reader::new(body);
    let afi = r.u16().map_err(|_| bad_len())?;
    let subtype = r.u8().map_err(|_| bad_len())?;
    let safi = r.u8().map_err(|_| bad_len())?;
    Ok(RouteRefreshMsg { afi, subtype, safi })
}

/// Appends a ROUTE-REFRESH body.
pub(crate) fn encode_route_refresh(out: &mut Vec<u8>, msg: &RouteRefreshMsg) {
    out.extend_from_slice(&msg.afi.to_be_bytes());
    out.extend_from_slice(&[msg.subtype, msg.safi]);
}
