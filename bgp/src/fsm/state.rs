//! RFC 4271 §8.2.2 session states.

use serde::{Deserialize, Serialize};

/// RFC 4271 §8.2.2 session states (shown to operators as the peer's state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    /// Idle.
    Idle,
    /// Connect.
    Connect,
    /// Active.
    Active,
    /// OpenSent.
    OpenSent,
    /// OpenConfirm.
    OpenConfirm,
    /// Established.
    Established,
}
