//! OPEN (RFC 4271 §4.2, §6.2) with Capabilities (RFC 5492) and extended optional parameters
//! (RFC 9072).

use std::net::Ipv4Addr;

use super::error::open_subcode::{
    BAD_BGP_IDENTIFIER, UNACCEPTABLE_HOLD_TIME, UNSPECIFIC, UNSUPPORTED_OPTIONAL_PARAMETER,
    UNSUPPORTED_VERSION_NUMBER,
};
use super::reader::Reader;
use super::{
    Capability, DecodeError, ErrorCode, ExtendedNextHopEntry, GracefulRestartCap,
    GracefulRestartFamily, OpenMsg,
};

/// The only BGP version we speak.
const BGP_VERSION: u8 = 4;
/// Optional parameter type "Capabilities" (RFC 5492 §4).
const PARAM_CAPABILITIES: u8 = 2;
/// Non-Ext OP Type that announces RFC 9072 extended optional parameters.
const PARAM_EXTENDED: u8 = 255;
/// Longest parameter value whose RFC 9072 Ext OP Len (value + 3) still fits in 2 octets.
const MAX_EXTENDED_PARAM_LEN: u16 = u16::MAX - 3;

/// Capability codes we decode into their own variant.
pub(crate) mod cap_code {
    /// Multiprotocol Extensions (RFC 4760).
    pub const MULTIPROTOCOL: u8 = 1;
    /// Route Refresh (RFC 2918).
    pub const ROUTE_REFRESH: u8 = 2;
    /// Extended Next Hop Encoding (RFC 8950).
    pub const EXTENDED_NEXT_HOP: u8 = 5;
    /// Extended Message (RFC 8654).
    pub const EXTENDED_MESSAGE: u8 = 6;
    /// Graceful Restart (RFC 4724).
    pub const GRACEFUL_RESTART: u8 = 64;
    /// 4-octet AS numbers (RFC 6793).
    pub const FOUR_OCTET_AS: u8 = 65;
    /// Enhanced Route Refresh (RFC 7313).
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
    /// Hostname (FQDN), as FRR sends it.
    pub const FQDN: u8 = 73;
}

/// Restart Time is the low 12 bits of the Graceful Restart capability's first two octets.
const RESTART_TIME_MASK: u16 = 0x0fff;

fn open_err(subcode: u8, data: Vec<u8>, reason: &'static str) -> DecodeError {
    DecodeError::new(ErrorCode::OpenMessage, subcode, data, reason)
}

fn malformed(reason: &'static str) -> DecodeError {
    open_err(UNSPECIFIC, Vec::new(), reason)
}

/// Decodes an OPEN body (the bytes after the 19-byte header).
pub(crate) fn decode_open(body: &[u8]) -> Result<OpenMsg, DecodeError> {
    let mut r = Reader::new(body);
    let short = |_| malformed("OPEN truncated");
    let version = r.u8().map_err(short)?;
    if version != BGP_VERSION {
        // §6.2: data is the largest version we support, as 2 octets.
        return Err(open_err(
            UNSUPPORTED_VERSION_NUMBER,
            u16::from(BGP_VERSION).to_be_bytes().to_vec(),
            "unsupported BGP version",
        ));
    }
    let my_as = r.u16().map_err(short)?;
    let hold_time = r.u16().map_err(short)?;
    let router_id = r.ipv4().map_err(short)?;
    if router_id == Ipv4Addr::UNSPECIFIED {
        return Err(open_err(
            BAD_BGP_IDENTIFIER,
            Vec::new(),
            "BGP identifier is 0.0.0.0",
        ));
    }
    if hold_time == 1 || hold_time == 2 {
        return Err(open_err(
            UNACCEPTABLE_HOLD_TIME,
            Vec::new(),
            "hold time 1 or 2 seconds",
        ));
    }
    let capabilities = decode_params(&mut r)?;
    Ok(OpenMsg {
        version,
        my_as,
        hold_time,
        router_id,
        capabilities,
    })
}

/// Optional Parameters, in the RFC 4271 or the RFC 9072 layout; must fill the rest of the body.
fn decode_params(r: &mut Reader<'_>) -> Result<Vec<Capability>, DecodeError> {
    let short = |_| malformed("optional parameters overrun the OPEN");
    let len = r.u8().map_err(short)?;
    let extended = len == PARAM_EXTENDED && r.rest().first() == Some(&PARAM_EXTENDED);
    let params = if extended {
        r.u8().map_err(short)?;
        let ext_len = r.u16().map_err(short)?;
        r.take(usize::from(ext_len)).map_err(short)?
    } else {
        r.take(usize::from(len)).map_err(short)?
    };
    if !r.is_empty() {
        return Err(malformed("bytes after the optional parameters"));
    }
    let mut p = Reader::new(params);
    let mut caps = Vec::new();
    while !p.is_empty() {
        let param_type = p.u8().map_err(short)?;
        let param_len = if extended {
            p.u16()
        } else {
            p.u8().map(u16::from)
        }
        .map_err(short)?;
        let value = p.take(usize::from(param_len)).map_err(short)?;
        if param_type != PARAM_CAPABILITIES {
            return Err(open_err(
                UNSUPPORTED_OPTIONAL_PARAMETER,
                Vec::new(),
                "optional parameter other than Capabilities",
            ));
        }
        decode_capabilities(value, &mut caps)?;
    }
    Ok(caps)
}

/// RFC 5492 §4: one parameter may hold several `<code, length, value>` capabilities.
fn decode_capabilities(buf: &[u8], caps: &mut Vec<Capability>) -> Result<(), DecodeError> {
    let mut r = Reader::new(buf);
    let short = |_| malformed("capability overruns its parameter");
    while !r.is_empty() {
        let code = r.u8().map_err(short)?;
        let len = r.u8().map_err(short)?;
        let value = r.take(usize::from(len)).map_err(short)?;
        caps.push(decode_capability(code, value)?);
    }
    Ok(())
}

/// One capability; the known ones must have their fixed length or layout.
fn decode_capability(code: u8, value: &[u8]) -> Result<Capability, DecodeError> {
    let mut r = Reader::new(value);
    let bad = |_| malformed("capability value does not fit its code");
    let cap = match code {
        cap_code::MULTIPROTOCOL => {
            let afi = r.u16().map_err(bad)?;
            let _reserved = r.u8().map_err(bad)?;
            let safi = r.u8().map_err(bad)?;
            Capability::Multiprotocol { afi, safi }
        }
        cap_code::ROUTE_REFRESH => Capability::RouteRefresh,
        cap_code::EXTENDED_NEXT_HOP => {
            let mut entries = Vec::new();
            while !r.is_empty() {
                entries.push(ExtendedNextHopEntry {
                    afi: r.u16().map_err(bad)?,
                    safi: r.u16().map_err(bad)?,
                    next_hop_afi: r.u16().map_err(bad)?,
                });
            }
            Capability::ExtendedNextHop(entries)
        }
        cap_code::EXTENDED_MESSAGE => Capability::ExtendedMessage,
        cap_code::GRACEFUL_RESTART => {
            let head = r.u16().map_err(bad)?;
            let flags = u8::try_from(head >> 12).map_err(|_| malformed("restart flags"))?;
            let mut families = Vec::new();
            while !r.is_empty() {
                let afi = r.u16().map_err(bad)?;
                let safi = r.u8().map_err(bad)?;
                let af_flags = r.u8().map_err(bad)?;
                families.push(GracefulRestartFamily {
                    afi,
                    safi,
                    forwarding: af_flags & 0x80 != 0,
                });
            }
            Capability::GracefulRestart(GracefulRestartCap {
                flags,
                restart_time: head & RESTART_TIME_MASK,
                families,
            })
        }
        cap_code::FOUR_OCTET_AS => Capability::FourOctetAs(r.u32().map_err(bad)?),
        cap_code::ENHANCED_ROUTE_REFRESH => Capability::EnhancedRouteRefresh,
        cap_code::FQDN => {
            let len = r.u8().map_err(bad)?;
            let hostname = r.take(usize::from(len)).map_err(bad)?.to_vec();
            // Some speakers leave the domain out altogether: read it as empty.
            let len = r.u8().unwrap_or(0);
            let domain = r.take(usize::from(len)).map_err(bad)?.to_vec();
            Capability::Fqdn { hostname, domain }
        }
        code => {
            return Ok(Capability::Unknown {
                code,
                value: value.to_vec(),
            })
        }
    };
    if !r.is_empty() {
        return Err(malformed("capability longer than its layout"));
    }
    Ok(cap)
}

/// Appends an OPEN body. All capabilities travel in one Capabilities parameter; when that does
/// not fit the 1-octet parameter length, the RFC 9072 extended layout is used.
///
/// A capability value longer than 255 octets cannot be encoded and is cut to 255.
pub(crate) fn encode_open(out: &mut Vec<u8>, open: &OpenMsg) {
    out.push(open.version);
    out.extend_from_slice(&open.my_as.to_be_bytes());
    out.extend_from_slice(&open.hold_time.to_be_bytes());
    out.extend_from_slice(&open.router_id.octets());
    let mut caps = Vec::new();
    for cap in &open.capabilities {
        encode_capability(&mut caps, cap);
    }
    if caps.is_empty() {
        out.push(0);
        return;
    }
    let short = u8::try_from(caps.len())
        .ok()
        .and_then(|len| Some((len, len.checked_add(2)?)));
    match short {
        Some((len, total)) => {
            out.extend_from_slice(&[total, PARAM_CAPABILITIES, len]);
            out.extend_from_slice(&caps);
        }
        None => encode_extended(out, &caps),
    }
}

/// RFC 9072 §2: Non-Ext OP Len 255, Non-Ext OP Type 255, 2-octet lengths.
fn encode_extended(out: &mut Vec<u8>, caps: &[u8]) {
    let param_len = u16::try_from(caps.len())
        .unwrap_or(u16::MAX)
        .min(MAX_EXTENDED_PARAM_LEN);
    let caps = caps.get(..usize::from(param_len)).unwrap_or(caps);
    out.extend_from_slice(&[PARAM_EXTENDED, PARAM_EXTENDED]);
    out.extend_from_slice(&param_len.saturating_add(3).to_be_bytes());
    out.push(PARAM_CAPABILITIES);
    out.extend_from_slice(&param_len.to_be_bytes());
    out.extend_from_slice(caps);
}

fn encode_capability(out: &mut Vec<u8>, cap: &Capability) {
    let (code, value) = match cap {
        Capability::Multiprotocol { afi, safi } => {
            let [a, b] = afi.to_be_bytes();
            (cap_code::MULTIPROTOCOL, vec![a, b, 0, *safi])
        }
        Capability::RouteRefresh => (cap_code::ROUTE_REFRESH, Vec::new()),
        Capability::ExtendedNextHop(entries) => {
            let mut v = Vec::new();
            for e in entries {
                for field in [e.afi, e.safi, e.next_hop_afi] {
                    v.extend_from_slice(&field.to_be_bytes());
                }
            }
            (cap_code::EXTENDED_NEXT_HOP, v)
        }
        Capability::ExtendedMessage => (cap_code::EXTENDED_MESSAGE, Vec::new()),
        Capability::GracefulRestart(gr) => {
            let head = (u16::from(gr.flags & 0x0f) << 12) | (gr.restart_time & RESTART_TIME_MASK);
            let mut v = head.to_be_bytes().to_vec();
            for f in &gr.families {
                v.extend_from_slice(&f.afi.to_be_bytes());
                v.extend_from_slice(&[f.safi, if f.forwarding { 0x80 } else { 0 }]);
            }
            (cap_code::GRACEFUL_RESTART, v)
        }
        Capability::FourOctetAs(asn) => (cap_code::FOUR_OCTET_AS, asn.to_be_bytes().to_vec()),
        Capability::EnhancedRouteRefresh => (cap_code::ENHANCED_ROUTE_REFRESH, Vec::new()),
        Capability::Fqdn { hostname, domain } => {
            let mut v = Vec::new();
            for name in [hostname, domain] {
                let name = name.get(..usize::from(u8::MAX)).unwrap_or(name);
                v.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
                v.extend_from_slice(name);
            }
            (cap_code::FQDN, v)
        }
        Capability::Unknown { code, value } => (*code, value.clone()),
    };
    let len = u8::try_from(value.len()).unwrap_or(u8::MAX);
    out.extend_from_slice(&[code, len]);
    out.extend(value.iter().take(usize::from(len)));
}
