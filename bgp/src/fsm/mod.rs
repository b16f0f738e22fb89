//! Sans-IO BGP state machines (RFC 4271 §8).
//!
//! [`Session::handle`] takes one [`Input`] (an RFC 4271 §8.1 event) and returns the [`Output`]s
//! the driver must carry out: connect, send, disconnect, start or stop a timer. Above it,
//! [`peer::Peer`] makes one configured peer's decisions over its connections (collisions,
//! graceful-restart deadlines, back-off). Nothing here reads a clock, touches a socket or spawns
//! a task, so every transition is tested without a runtime.

mod open;
pub mod peer;
mod session;
mod state;

pub use open::{
    build_open, build_open_with, check_open, GrOptions, Negotiated, OpenOptions, PeerGr, RemoteAs,
};
pub use session::{Session, SessionConfig};
pub use state::State;

use std::time::Duration;

use crate::wire::{DecodeError, Message, RouteRefreshMsg, UpdateMsg};

/// The session's timers (RFC 4271 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// ConnectRetryTimer.
    ConnectRetry,
    /// HoldTimer.
    Hold,
    /// KeepaliveTimer.
    Keepalive,
}

/// Events fed to the FSM, named after RFC 4271 §8.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Event 1: ManualStart (and Event 3: AutomaticStart, which behaves the same here).
    ManualStart,
    /// Event 4: ManualStart_with_PassiveTcpEstablishment.
    PassiveStart,
    /// Event 2: ManualStop.
    ManualStop,
    /// Event 2 with another Cease: stop the session sending this NOTIFICATION (e.g. Cease/1,
    /// maximum number of prefixes reached).
    Stop(crate::wire::NotificationMsg),
    /// Events 16/17: Tcp_CR_Acked / TcpConnectionConfirmed — a connection is up.
    TcpConnected,
    /// Event 18: TcpConnectionFails.
    TcpFails,
    /// Events 19-28: a decoded message arrived.
    Message(Message),
    /// Events 21/22/28: BGPHeaderErr, BGPOpenMsgErr, UpdateMsgErr — the codec refused a message.
    BadMessage(DecodeError),
    /// Events 9/10/11: ConnectRetryTimer_Expires, HoldTimer_Expires, KeepaliveTimer_Expires.
    TimerExpired(Timer),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Initiate a TCP connection to the peer.
    Connect,
    /// Write a message on the connection.
    Send(Message),
    /// Close the connection (after sending whatever precedes this output).
    Disconnect,
    /// (Re)start a timer.
    StartTimer(Timer, Duration),
    /// Stop a timer.
    StopTimer(Timer),
    /// The session reached Established.
    Established(Negotiated),
    /// An UPDATE arrived in Established.
    Update(UpdateMsg),
    /// A ROUTE-REFRESH arrived in Established (RFC 2918; subtypes of RFC 7313).
    RouteRefresh(RouteRefreshMsg),
    /// The session left Established or failed to get there, with a reason for the operator.
    Down(String),
}
