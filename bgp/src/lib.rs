//! Lattice's embedded BGP speaker.
//!
//! Layered as the house style asks: [`wire`] is the pure codec, [`fsm`] the sans-IO state
//! machines (one per connection, RFC 4271 §8, and one per peer above them), [`rib`] the routing
//! tables and decision process, and [`driver`] the thin tokio edge that owns sockets and timers.
//! A peer is named by its [`PeerKey`]; an interface peer finds its neighbour with [`neighbour`]
//! (Router Advertisements and Neighbor Discovery, sans-IO like the rest).

pub mod driver;
pub mod fsm;
pub mod neighbour;
mod peer_key;
pub mod policy;
pub mod rib;
pub mod wire;

pub use peer_key::{is_interface_name, BadPeerKey, PeerKey};
