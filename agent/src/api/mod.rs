//! latticed's side of the local API (the `api` crate holds the protocol and its client):
//! [`server`] serves the unix socket, [`convert`] turns the BGP speaker's records into the
//! API's own types, so a change inside `bgp` is not a change on the wire; [`route_status`]
//! puts the kernel's view beside each learned route for `lattice routes`.

pub mod convert;
pub mod route_status;
pub mod server;
