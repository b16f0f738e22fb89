//! The tokio edge of the speaker: sockets, timers and the channel to the agent.
//!
//! One task per peer drives that peer's [`crate::fsm::peer::Peer`] machine, which runs a
//! [`crate::fsm::Session`] for each of its connections (two at once only during a collision,
//! RFC 4271 §6.8); a listener task hands inbound connections to the peer task they belong to.
//! Peers are added, removed and replaced on the running speaker through [`SpeakerHandle`].
//! Shared state (the RIB and the status table) sits behind mutexes that are held only for
//! in-memory work.
//!
//! Modules depend downwards only, and on each other rather than on this file's re-exports:
//! `speaker` uses `peers`, `listener` and `changes`; `peers` uses `peer`; `peer` uses `conn`,
//! `export`, `adj_out`, `link` (an interface peer's neighbour discovery), `shared` and `status`;
//! `adj_out` uses `config`; `listener` and `changes` use `shared`; `config` and `conn` use
//! `password` (and `conn` `md5` and `ttl`); `status`, `export`, `md5` and `password` use none.

mod adj_out;
mod changes;
mod config;
mod conn;
mod export;
mod link;
mod listener;
mod md5;
mod password;
mod peer;
mod peers;
mod reflect;
mod shared;
mod speaker;
mod status;
mod ttl;

pub use crate::fsm::RemoteAs;
pub use crate::rib::Multipath;
pub use crate::rib::ReflectRole;
pub use crate::PeerKey;
pub use adj_out::{adj_rib_out, export_decision, AdjRibOut, OurRoutes};
pub use changes::{Empty, RouteChanges};
pub use config::{Announced, Families, PeerConfig, PeerSource, SpeakerConfig};
pub use password::Password;
pub use peer::{BfdSignal, ImportApplied, PeerUpdate};
pub use peers::PeerError;
pub use speaker::{Speaker, SpeakerHandle};
pub use status::{MessageCounts, PeerSettings, PeerState, PeerStatus, SessionInfo};
