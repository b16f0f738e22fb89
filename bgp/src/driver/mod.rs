//! The tokio edge of the speaker: sockets, timers and the channel to the agent.

mod status;

pub use status::{PeerState, PeerStatus};
