//! Lattice's embedded BGP speaker.
//!
//! Layered as the house style asks: [`wire`] is the pure codec, [`fsm`] the sans-IO session state
//! machine (RFC 4271 §8), [`rib`] the routing tables and decision process, and [`driver`] the thin
//! tokio edge that owns sockets and timers.

pub mod driver;
pub mod fsm;
pub mod policy;
pub mod rib;
pub mod wire;
