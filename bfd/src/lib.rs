//! Lattice's BFD (Bidirectional Forwarding Detection, RFC 5880).
//!
//! Layered like the BGP speaker: [`packet`] is the pure codec of the Control packet, [`session`]
//! the sans-IO session state machine (time in, packets and deadlines out), and [`driver`] the
//! thin UDP edge for RFC 5881 single hop and RFC 5883 multihop, which runs on its own OS thread
//! so that transmission and detection never wait behind the agent's other work.
//!
//! Asynchronous mode only: no Echo function, no Demand mode of our own, no authentication.

pub mod driver;
pub mod packet;
pub mod session;
