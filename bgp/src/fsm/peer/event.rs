//! What a [`super::Peer`] is told and what it asks its driver to do. Inputs carry their RFC 4271
//! §8.1 event names; the time comes with each call, deadlines are read back from the peer.

use super::slot::ConnId;
use crate::fsm::Negotiated;
use crate::wire::{cease_subcode, DecodeError, Message, RouteRefreshMsg, UpdateMsg};

/// Events fed to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Event 1: ManualStart (Event 3, AutomaticStart, is the peer's own restart): the peer was
    /// configured.
    Start,
    /// Event 2: ManualStop, because the speaker stops: Cease/2, with this Shutdown
    /// Communication if any (RFC 9003). With graceful restart on, the connections are closed
    /// without a NOTIFICATION (RFC 4724: peers keep our routes).
    Shutdown(Option<String>),
    /// Event 2: ManualStop with Cease/3 or Cease/6 (RFC 4486): the peer is removed, or is
    /// replaced by a new configuration. Its routes leave the Loc-RIB at once.
    Remove(Removal),
    /// Event 17: TcpConnectionConfirmed — the driver accepted a connection from the peer.
    Inbound(ConnId),
    /// Event 16: Tcp_CR_Acked — our own connection attempt succeeded.
    Connected(ConnId),
    /// Event 18: TcpConnectionFails — our own connection attempt failed.
    ConnectFailed,
    /// Events 19-28: a message arrived on a connection.
    Message(ConnId, Message),
    /// Events 21/22/28: BGPHeaderErr, BGPOpenMsgErr, UpdateMsgErr — the codec refused a message;
    /// the connection's reader goes on.
    BadMessage(ConnId, DecodeError),
    /// Event 21: BGPHeaderErr on a header so bad that the connection's reader stopped.
    BadFrame(ConnId, DecodeError),
    /// Event 18: TcpConnectionFails — the peer closed the connection, or it failed.
    Closed(ConnId),
    /// Event 18 found by the driver: a write on the connection failed.
    SendFailed(ConnId),
    /// An UPDATE that arrived on the connection was imported: the peer's Adj-RIB-In now holds
    /// `held` prefixes (above `max_prefixes`: Cease/1, RFC 4486, and a hold-down), the last of
    /// them of the UPDATE's `family`, which the Cease/1 names.
    Imported {
        /// The connection the UPDATE came on.
        conn: ConnId,
        /// Prefixes the peer's Adj-RIB-In holds now.
        held: usize,
        /// The AFI and SAFI of the prefixes the UPDATE announced.
        family: (u16, u8),
    },
    /// The peer cannot be reached (an interface peer's interface is down or gone, or its
    /// neighbour is unknown or changed its address): connections fail as in Event 18, and no
    /// attempt is made until [`Input::TransportUp`]. The reason is shown as the session's.
    TransportDown(String),
    /// The peer can be reached again (its neighbour is known): start at once, back-off reset.
    TransportUp,
    /// Events 9-11 (ConnectRetryTimer_Expires, HoldTimer_Expires, KeepaliveTimer_Expires) and
    /// the peer's own deadlines: time passed; due at [`super::Peer::next_deadline`].
    Tick,
}

/// Why a peer is removed: the Cease subcode it sends (RFC 4486 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Cease/3, Peer De-configured: the peer is gone from the configuration.
    Deconfigured,
    /// Cease/6, Other Configuration Change: the peer comes back with a new configuration.
    Reconfigured,
}

impl Removal {
    /// The Cease subcode sent.
    pub fn subcode(self) -> u8 {
        match self {
            Removal::Deconfigured => cease_subcode::PEER_DECONFIGURED,
            Removal::Reconfigured => cease_subcode::OTHER_CONFIGURATION_CHANGE,
        }
    }
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a TCP connection to the peer (abandoning an attempt still in flight).
    Connect,
    /// Abandon our connection attempt in flight, if any: the session is Established, and a
    /// second connection would reach a peer that takes it for our restart (FRR, GoBGP).
    CancelConnect,
    /// Write a message on a connection; if that fails, feed [`Input::SendFailed`].
    Send(ConnId, Message),
    /// Close a connection (after what was written on it).
    Close(ConnId),
    /// Close a connection that lost a collision, or arrived while a session is Established:
    /// NOTIFICATION Cease/7 (RFC 4486), then close. Not counted: it never carried a session.
    Refuse(ConnId),
    /// The session on a connection reached Established: advertise our routes on it.
    Established(ConnId, Negotiated),
    /// An UPDATE for the Adj-RIB-In; once imported, feed [`Input::Imported`].
    Update(ConnId, UpdateMsg),
    /// A ROUTE-REFRESH (RFC 2918; the subtypes of RFC 7313) to answer.
    RouteRefresh(ConnId, RouteRefreshMsg),
    /// The peer's session fell to Idle, or failed to get there, with a reason for the operator.
    Down(String),
    /// Keep the peer's routes, marked stale (RFC 4724 §4.2 helper).
    MarkStale,
    /// Drop the peer's stale routes of one family (AFI), or of both.
    SweepStale(Option<u16>),
    /// Drop every route of the peer.
    DropRoutes,
}
