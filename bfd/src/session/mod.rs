//! Sans-IO BFD session state machine (RFC 5880 §6), asynchronous mode.
//!
//! [`Session::handle`] takes one [`Input`] and the current time and returns [`Outputs`]: at most
//! one packet to send now, at most one state change, and the next deadline at which the driver
//! must call it again with [`Input::Timer`]. Nothing here reads a clock, opens a socket or draws
//! a random number (jitter comes from an injected [`Jitter`]), so every rule is tested without a
//! runtime:
//!
//! - §6.2/§6.8.6 the Down → Init → Up handshake, and back to Down when the neighbour says so;
//! - §6.8.4 detection: `remote Detect Mult × max(our Required Min RX, remote Desired Min TX)`
//!   without a packet takes an Init or Up session Down with diag 1, and forgets the remote's
//!   discriminator in any state;
//! - §6.8.7 periodic transmission at `max(our Desired Min TX, remote Required Min RX)` less
//!   0-25 % jitter (10-25 % when our Detect Mult is 1), none when the remote asks for none or is
//!   in Demand mode; a Poll is answered at once with a Final;
//! - §6.8.3 at least 1 s Desired Min TX while not Up; a change of our intervals while the remote
//!   is known runs a Poll Sequence (§6.5), and while Up a slower TX or a faster RX take effect
//!   only once the Final arrives; a change during a Poll Sequence waits for it to end;
//! - §6.8.16 AdminDown and back, and a remote AdminDown taking us Down with diag 3 flagged as
//!   not being a path failure (RFC 5882 §3.2);
//! - the C bit (§4.1, RFC 5882 §4.3) as a flag the driver sets.

mod machine;
mod params;
mod receive;

use std::time::{Duration, Instant};

pub use machine::Session;
pub use params::{Jitter, Params, ParamsError};

use crate::packet::{ControlPacket, Diag, State};

/// What happened to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A Control packet that passed [`crate::packet::decode`] and the driver's checks (TTL,
    /// source) and was demultiplexed to this session (RFC 5880 §6.8.6).
    Received(ControlPacket),
    /// The deadline in [`Outputs::deadline`] has passed: transmit and/or detection timer
    /// (§6.8.7, §6.8.4). Harmless if early.
    Timer,
    /// New intervals or multiplier (§6.8.3): a Poll Sequence (§6.5) if the remote is known.
    SetParams(Params),
    /// Set or clear the C bit in what we send (§4.1; RFC 5882 §4.3).
    SetControlPlaneIndependent(bool),
    /// Administratively disable the session with this diagnostic (§6.8.16), e.g. for a
    /// graceful shutdown: the remote goes Down without treating it as a failure.
    AdminDown(Diag),
    /// Administratively enable the session again (§6.8.16): to Down.
    AdminUp,
}

/// What the driver must do after one input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outputs {
    /// A packet to send now (§6.8.7).
    pub send: Option<ControlPacket>,
    /// The state change this input caused.
    pub change: Option<StateChange>,
    /// When to deliver [`Input::Timer`] next (`None`: only on another input).
    pub deadline: Option<Instant>,
}

/// A change of `bfd.SessionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// `bfd.LocalDiag` after the change: why (diag 1 detection expired, 3 neighbour said so,
    /// the caller's diagnostic for AdminDown, 0 on the way up).
    pub diag: Diag,
    /// The diagnostic the remote last sent.
    pub remote_diag: Diag,
    /// The C bit the remote last sent (RFC 5880 §4.1): set, its BFD does not share fate with
    /// its control plane, so a fall is a forwarding failure (RFC 5882 §4.3).
    pub remote_control_plane_independent: bool,
    /// The remote signalled AdminDown: by RFC 5882 §3.2 clients SHOULD NOT treat this as a
    /// failure of the path.
    pub remote_admin_down: bool,
}

impl StateChange {
    /// True when a client (BGP) should act on this change: an Up session went Down because
    /// the path failed, as far as BFD can tell. That is our own detection (diag 1, RFC 5880
    /// §6.8.4), or the remote's Down carrying a failure diagnostic: 1 (it stopped hearing us),
    /// 2, 4, 5, 6, 8, or one unassigned. Not a failure (RFC 5882 §3.2 and the packet itself):
    /// the remote's AdminDown, and the remote's Down with diagnostic 0 or 3, which comes from
    /// a session the remote reset or replaced while its packets, which we just received, still
    /// cross the path (FRR's bgpd re-creates its BFD session once it learns the BGP session's
    /// local address, whose first packet is such a Down; a restarted bfdd sends the same; and
    /// 3, "neighbor signaled session down", cannot be about us: we were Up).
    pub fn is_path_failure(&self) -> bool {
        if self.from != State::Up || self.to != State::Down {
            return false;
        }
        match self.diag {
            Diag::ControlDetectionTimeExpired => true,
            _ if self.remote_admin_down => false,
            _ => !matches!(
                self.remote_diag,
                Diag::None | Diag::NeighborSignaledSessionDown | Diag::AdministrativelyDown
            ),
        }
    }
}

/// What the session currently knows, for the driver's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// `bfd.SessionState`.
    pub state: State,
    /// `bfd.LocalDiag`.
    pub local_diag: Diag,
    /// `bfd.RemoteSessionState`.
    pub remote_state: State,
    /// The diagnostic in the remote's last packet.
    pub remote_diag: Diag,
    /// `bfd.LocalDiscr`.
    pub local_discriminator: u32,
    /// `bfd.RemoteDiscr` (0: not heard within a detection time).
    pub remote_discriminator: u32,
    /// The periodic transmit interval in use, before jitter (`None`: not sending periodically).
    pub tx_interval: Option<Duration>,
    /// The agreed interval at which the remote sends to us (`None`: not heard).
    pub rx_interval: Option<Duration>,
    /// The detection time (§6.8.4; `None`: not heard).
    pub detection_time: Option<Duration>,
    /// The remote's Detect Mult (0: not heard).
    pub remote_detect_mult: u8,
    /// `bfd.RemoteMinRxInterval`: how often the remote lets us send (1 µs before it spoke).
    pub remote_min_rx: Duration,
    /// A Poll Sequence of ours is waiting for its Final.
    pub polling: bool,
    /// The C bit we send.
    pub control_plane_independent: bool,
    /// The C bit the remote last sent.
    pub remote_control_plane_independent: bool,
}
