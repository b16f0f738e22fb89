//! Message and attribute types, one per RFC 4271 §4 message.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net};

use super::DecodeError;

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
    /// Type 5 (RFC 2918, subtypes from RFC 7313).
    RouteRefresh(RouteRefreshMsg),
}

/// ROUTE-REFRESH (RFC 2918 §3; the Reserved octet is the RFC 7313 Message Subtype).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefreshMsg {
    /// Address Family Identifier.
    pub afi: u16,
    /// 0 normal request, 1 Beginning of Route Refresh, 2 End of Route Refresh (RFC 7313 §3.2);
    /// others are ignored on receipt.
    pub subtype: u8,
    /// Subsequent Address Family Identifier.
    pub safi: u8,
}

/// Address family identifiers (IANA) we route.
pub mod afi {
    /// IPv4.
    pub const IPV4: u16 = 1;
    /// IPv6.
    pub const IPV6: u16 = 2;
}

/// Subsequent address family identifiers (IANA) we route.
pub mod safi {
    /// Unicast.
    pub const UNICAST: u8 = 1;
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
    /// Code 5 (RFC 8950): NLRI families that may carry a next hop of another family.
    ExtendedNextHop(Vec<ExtendedNextHopEntry>),
    /// Code 6 (RFC 8654): messages up to 65535 octets.
    ExtendedMessage,
    /// Code 64 (RFC 4724).
    GracefulRestart(GracefulRestartCap),
    /// Code 65 (RFC 6793): the speaker's real ASN.
    FourOctetAs(u32),
    /// Code 70 (RFC 7313).
    EnhancedRouteRefresh,
    /// Code 73 (draft-walton-bgp-hostname-capability, what FRR sends): host and domain name.
    Fqdn { hostname: Vec<u8>, domain: Vec<u8> },
    /// Anything else, kept raw (code, value).
    Unknown { code: u8, value: Vec<u8> },
}

/// One `<NLRI AFI, NLRI SAFI, Nexthop AFI>` triple of the Extended Next Hop capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedNextHopEntry {
    /// NLRI AFI (1 for IPv4).
    pub afi: u16,
    /// NLRI SAFI (2 octets here, RFC 8950 §3).
    pub safi: u16,
    /// Next-hop AFI (2 for IPv6).
    pub next_hop_afi: u16,
}

/// The Graceful Restart capability (RFC 4724 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestartCap {
    /// Restart Flags, the top four bits of the first octet (0x8: Restart State, 0x4:
    /// Notification support from RFC 8538).
    pub flags: u8,
    /// Restart Time in seconds (12 bits).
    pub restart_time: u16,
    /// Families whose state is preserved, each with its Forwarding State bit.
    pub families: Vec<GracefulRestartFamily>,
}

impl GracefulRestartCap {
    /// The Restart State bit: the sender has restarted.
    pub const RESTART_STATE: u8 = 0x8;
    /// The N bit (RFC 8538).
    pub const NOTIFICATION: u8 = 0x4;

    /// Whether the sender says it has just restarted.
    pub fn restarting(&self) -> bool {
        self.flags & Self::RESTART_STATE != 0
    }
}

/// One family of the Graceful Restart capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestartFamily {
    /// AFI.
    pub afi: u16,
    /// SAFI.
    pub safi: u8,
    /// Forwarding State: forwarding for this family was kept across the restart.
    pub forwarding: bool,
}

/// UPDATE (RFC 4271 §4.3). IPv4 unicast travels in the classic fields, other families (and
/// IPv4 unicast too, if a peer chooses) in [`PathAttribute::MpReach`] and
/// [`PathAttribute::MpUnreach`] (RFC 4760).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateMsg {
    /// Withdrawn Routes.
    pub withdrawn: Vec<Ipv4Net>,
    /// Path Attributes.
    pub attributes: Vec<PathAttribute>,
    /// Network Layer Reachability Information.
    pub nlri: Vec<Ipv4Net>,
    /// Errors the decoder recovered from under RFC 7606, for the log; never encoded. Empty for
    /// a well-formed UPDATE and for any UPDATE built locally.
    pub recovered: Vec<RecoveredError>,
}

/// An UPDATE error handled without resetting the session (RFC 7606 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredError {
    /// What was done about it.
    pub action: Recovery,
    /// The error, as the NOTIFICATION RFC 4271 would have sent.
    pub error: DecodeError,
}

/// RFC 7606 §2 approaches other than "session reset".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Every prefix of the UPDATE is withdrawn instead of announced.
    TreatAsWithdraw,
    /// The malformed attribute is dropped and the UPDATE used without it.
    AttributeDiscard,
}

/// MP_REACH_NLRI (RFC 4760 §3) for IPv4 or IPv6 unicast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpReach {
    /// AFI ([`afi::IPV4`] or [`afi::IPV6`]).
    pub afi: u16,
    /// SAFI ([`safi::UNICAST`]).
    pub safi: u8,
    /// Network address of the next hop.
    pub next_hop: MpNextHop,
    /// Prefixes, all of the AFI's family.
    pub nlri: Vec<IpNet>,
}

/// The next hop of MP_REACH_NLRI: IPv4 (4 octets), or IPv6 global with an optional link-local
/// address (16 or 32 octets, RFC 2545 §3; RFC 8950 for IPv4 NLRI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MpNextHop {
    /// The global (or only) address.
    pub global: IpAddr,
    /// The link-local address of a 32-octet IPv6 next hop.
    pub link_local: Option<Ipv6Addr>,
}

/// MP_UNREACH_NLRI (RFC 4760 §4) for IPv4 or IPv6 unicast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpUnreach {
    /// AFI.
    pub afi: u16,
    /// SAFI.
    pub safi: u8,
    /// Withdrawn prefixes, all of the AFI's family.
    pub withdrawn: Vec<IpNet>,
}

/// One large community (RFC 8092 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LargeCommunity {
    /// Global Administrator (an ASN).
    pub global: u32,
    /// Local Data Part 1.
    pub local1: u32,
    /// Local Data Part 2.
    pub local2: u32,
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

/// One AS_PATH segment (RFC 4271 §4.3 types 1 and 2, RFC 5065 §3 types 3 and 4). ASNs are held
/// as 4-octet values whatever their width on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AsSegment {
    /// Type 1.
    Set(Vec<u32>),
    /// Type 2.
    Sequence(Vec<u32>),
    /// Type 3, AS_CONFED_SEQUENCE.
    ConfedSequence(Vec<u32>),
    /// Type 4, AS_CONFED_SET.
    ConfedSet(Vec<u32>),
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
    /// Type 7, optional transitive: the aggregating speaker's ASN and identifier. The ASN is
    /// 2 octets on the wire towards a 2-octet speaker (AS_TRANS plus AS4_AGGREGATOR when large).
    Aggregator { asn: u32, address: Ipv4Addr },
    /// Type 8, optional transitive (RFC 1997).
    Communities(Vec<u32>),
    /// Type 9, optional non-transitive (RFC 4456 §8): the BGP Identifier of the route's
    /// originator in the local AS, set by the first route reflector.
    OriginatorId(Ipv4Addr),
    /// Type 10, optional non-transitive (RFC 4456 §8): the CLUSTER_IDs of the reflection path,
    /// the last reflector's first.
    ClusterList(Vec<Ipv4Addr>),
    /// Type 14, optional non-transitive (RFC 4760).
    MpReach(MpReach),
    /// Type 15, optional non-transitive (RFC 4760).
    MpUnreach(MpUnreach),
    /// Type 32, optional transitive (RFC 8092).
    LargeCommunities(Vec<LargeCommunity>),
    /// Any other attribute, kept raw: flags, type code, value. Decoded flags keep only the
    /// Optional, Transitive and Partial bits (the Extended Length bit is re-derived on encode).
    /// `type_code` must not be one of the codes above, nor AS4_PATH (17) or AS4_AGGREGATOR (18)
    /// which the codec folds into AS_PATH and AGGREGATOR (RFC 6793 §4.2.3). MP_REACH/MP_UNREACH of
    /// families other than IPv4/IPv6 unicast stay raw.
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

/// What the codec needs to know about the session to encode or decode an UPDATE. The default,
/// before OPEN is exchanged, is nothing negotiated: 2-octet AS_PATH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CodecContext {
    /// Both sides announced the 4-octet AS capability (RFC 6793 §4).
    pub four_octet_as: bool,
}
