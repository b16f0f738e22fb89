//! Message and attribute types, one per RFC 4271 §4 message.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Any BGP message (RFC 4271 §4.1 type codes 1-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Type 1.
    Open(OpenMsg),
    /// Type 2.
    Update(UpdateMsg),
    /// Type 3.
    Notification(NotificationMsg),
    /// Type 4.
    Keepalive,
}

/// OPEN (RFC 4271 §4.2). `my_as` is the 2-octet field; the real ASN travels in
/// [`Capability::FourOctetAs`] when it does not fit (RFC 6793).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenMsg {
    /// Always 4.
    pub version: u8,
    /// 2-octet "My Autonomous System" (AS_TRANS when the ASN is larger than 65535).
    pub my_as: u16,
    /// Proposed hold time in seconds (0 or >= 3).
    pub hold_time: u16,
    /// BGP Identifier.
    pub router_id: Ipv4Addr,
    /// Capabilities, from Optional Parameter type 2 (RFC 5492).
    pub capabilities: Vec<Capability>,
}

/// One capability advertisement (RFC 5492).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// Code 1 (RFC 4760): AFI, SAFI.
    Multiprotocol { afi: u16, safi: u8 },
    /// Code 2 (RFC 2918).
    RouteRefresh,
    /// Code 65 (RFC 6793): the speaker's real ASN.
    FourOctetAs(u32),
    /// Anything else, kept raw (code, value).
    Unknown { code: u8, value: Vec<u8> },
}

/// UPDATE (RFC 4271 §4.3) for IPv4 unicast.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateMsg {
    /// Withdrawn Routes.
    pub withdrawn: Vec<Ipv4Net>,
    /// Path Attributes.
    pub attributes: Vec<PathAttribute>,
    /// Network Layer Reachability Information.
    pub nlri: Vec<Ipv4Net>,
}

/// ORIGIN values (RFC 4271 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// 0.
    Igp,
    /// 1.
    Egp,
    /// 2.
    Incomplete,
}

/// One AS_PATH segment (RFC 4271 §4.3, type 1 = AS_SET, 2 = AS_SEQUENCE). ASNs are held as
/// 4-octet values whatever their width on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AsSegment {
    /// Type 1.
    Set(Vec<u32>),
    /// Type 2.
    Sequence(Vec<u32>),
}

/// A path attribute (RFC 4271 §5). Decoding needs to know whether the session negotiated 4-octet
/// ASNs, because AS_PATH's element width depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathAttribute {
    /// Type 1, well-known mandatory.
    Origin(Origin),
    /// Type 2, well-known mandatory.
    AsPath(Vec<AsSegment>),
    /// Type 3, well-known mandatory for IPv4 NLRI.
    NextHop(Ipv4Addr),
    /// Type 4, optional non-transitive.
    MultiExitDisc(u32),
    /// Type 5, well-known (iBGP only).
    LocalPref(u32),
    /// Type 6, well-known discretionary, empty (RFC 4271 §5.1.6).
    AtomicAggregate,
    /// Any other attribute, kept raw: flags, type code, value. Decoded flags keep only the
    /// Optional, Transitive and Partial bits (the Extended Length bit is re-derived on encode).
    /// `type_code` must not be one of the codes above (1-6), or it would decode as that variant.
    Unknown {
        flags: u8,
        type_code: u8,
        value: Vec<u8>,
    },
}

/// NOTIFICATION (RFC 4271 §4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationMsg {
    /// Error code (§4.5).
    pub code: u8,
    /// Error subcode (§6).
    pub subcode: u8,
    /// Diagnostic data.
    pub data: Vec<u8>,
}

/// What the codec needs to know about the session to encode or decode an UPDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecContext {
    /// Both sides announced the 4-octet AS capability (RFC 6793 §4).
    pub four_octet_as: bool,
}

impl Default for CodecContext {
    /// Before OPEN is exchanged nothing is negotiated: 2-octet AS_PATH.
    fn default() -> Self {
        Self {
            four_octet_as: false,
        }
    }
}
