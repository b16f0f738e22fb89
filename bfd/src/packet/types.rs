//! The control packet and its enumerated fields (RFC 5880 §4.1).

use std::fmt;

/// A BFD Control packet without the optional Authentication Section (RFC 5880 §4.1).
///
/// ```text
///     0                   1                   2                   3
///     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                       My Discriminator                        |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                      Your Discriminator                       |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                    Desired Min TX Interval                    |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                   Required Min RX Interval                    |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                 Required Min Echo RX Interval                 |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Version is always 1, and the A (authentication) and M (multipoint) bits are always clear:
/// [`super::decode`] discards packets with anything else, so they are not fields here. The
/// intervals are in microseconds, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlPacket {
    /// The sender's reason for its last state change.
    pub diag: Diag,
    /// The sender's session state.
    pub state: State,
    /// P: the sender asks for a Final (a Poll Sequence, RFC 5880 §6.5).
    pub poll: bool,
    /// F: the answer to a Poll.
    pub final_: bool,
    /// C: the sender's BFD does not share fate with its control plane (RFC 5882 §4.3).
    pub control_plane_independent: bool,
    /// D: the sender wishes to run in Demand mode (RFC 5880 §6.6).
    pub demand: bool,
    /// Detect Mult: the sender's detection time multiplier; never 0 in a decoded packet.
    pub detect_mult: u8,
    /// My Discriminator: the sender's id for the session; never 0 in a decoded packet.
    pub my_discriminator: u32,
    /// Your Discriminator: the receiver's id as the sender knows it, 0 if unknown.
    pub your_discriminator: u32,
    /// Desired Min TX Interval, µs.
    pub desired_min_tx_us: u32,
    /// Required Min RX Interval, µs (0: send me no periodic packets).
    pub required_min_rx_us: u32,
    /// Required Min Echo RX Interval, µs (0: no Echo packets, which is all we ever send).
    pub required_min_echo_rx_us: u32,
}

/// Session states (RFC 5880 §4.1, §6.2), with their wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// 0: held down administratively; says nothing about the forwarding path.
    AdminDown,
    /// 1: down, or just created.
    Down,
    /// 2: the remote is heard, but does not yet hear us.
    Init,
    /// 3: both sides hear each other.
    Up,
}

impl State {
    /// The state in the low two bits of `bits`.
    pub fn from_bits(bits: u8) -> State {
        match bits & 0b11 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }

    /// The 2-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            State::AdminDown => 0,
            State::Down => 1,
            State::Init => 2,
            State::Up => 3,
        }
    }

    /// A lower-case name for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            State::AdminDown => "admin_down",
            State::Down => "down",
            State::Init => "init",
            State::Up => "up",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Diagnostic codes (RFC 5880 §4.1; 9 is RFC 6428's, the rest of 9-31 unassigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Diag {
    /// 0: No Diagnostic.
    None,
    /// 1: Control Detection Time Expired.
    ControlDetectionTimeExpired,
    /// 2: Echo Function Failed.
    EchoFunctionFailed,
    /// 3: Neighbor Signaled Session Down.
    NeighborSignaledSessionDown,
    /// 4: Forwarding Plane Reset.
    ForwardingPlaneReset,
    /// 5: Path Down.
    PathDown,
    /// 6: Concatenated Path Down.
    ConcatenatedPathDown,
    /// 7: Administratively Down.
    AdministrativelyDown,
    /// 8: Reverse Concatenated Path Down.
    ReverseConcatenatedPathDown,
    /// 9-31, kept as received (decode only produces values in that range).
    Other(u8),
}

impl Diag {
    /// The diagnostic in the low five bits of `bits`.
    pub fn from_bits(bits: u8) -> Diag {
        match bits & 0x1f {
            0 => Diag::None,
            1 => Diag::ControlDetectionTimeExpired,
            2 => Diag::EchoFunctionFailed,
            3 => Diag::NeighborSignaledSessionDown,
            4 => Diag::ForwardingPlaneReset,
            5 => Diag::PathDown,
            6 => Diag::ConcatenatedPathDown,
            7 => Diag::AdministrativelyDown,
            8 => Diag::ReverseConcatenatedPathDown,
            other => Diag::Other(other),
        }
    }

    /// The 5-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            Diag::None => 0,
            Diag::ControlDetectionTimeExpired => 1,
            Diag::EchoFunctionFailed => 2,
            Diag::NeighborSignaledSessionDown => 3,
            Diag::ForwardingPlaneReset => 4,
            Diag::PathDown => 5,
            Diag::ConcatenatedPathDown => 6,
            Diag::AdministrativelyDown => 7,
            Diag::ReverseConcatenatedPathDown => 8,
            Diag::Other(b) => b & 0x1f,
        }
    }

    /// The RFC's name, for operators.
    pub fn as_str(self) -> &'static str {
        match self {
            Diag::None => "no diagnostic",
            Diag::ControlDetectionTimeExpired => "control detection time expired",
            Diag::EchoFunctionFailed => "echo function failed",
            Diag::NeighborSignaledSessionDown => "neighbor signaled session down",
            Diag::ForwardingPlaneReset => "forwarding plane reset",
            Diag::PathDown => "path down",
            Diag::ConcatenatedPathDown => "concatenated path down",
            Diag::AdministrativelyDown => "administratively down",
            Diag::ReverseConcatenatedPathDown => "reverse concatenated path down",
            Diag::Other(9) => "mis-connectivity defect",
            Diag::Other(_) => "unassigned diagnostic",
        }
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.bits())
    }
}
