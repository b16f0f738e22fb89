//! The tokio edge of the speaker: sockets, timers and the channel to the agent.
//!
//! One task per peer runs the [`crate::fsm`] for each of its connections (two at once only
//! during a collision, RFC 4271 §6.8); a listener task hands inbound connections to the peer
//! task they belong to. Shared state (the RIB and the status table) sits behind a mutex that is
//! held only for in-memory work.

mod changes;
mod conn;
mod export;
mod md5;
mod password;
mod peer;
mod speaker;
mod status;

pub use changes::{Empty, RouteChanges};
pub use password::Password;
pub use speaker::{Families, PeerConfig, Speaker, SpeakerConfig, SpeakerHandle};
pub use status::{MessageCounts, PeerState, PeerStatus};
