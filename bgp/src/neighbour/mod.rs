//! Who is on the other end of an interface peer's link (BGP unnumbered), sans-IO.
//!
//! [`Discovery`] is one interface's machine: it is told what the interface looks like (polled
//! by the driver), what ICMPv6 arrived on it and when a TCP connection came from a link-local
//! address on it, and says what to send (our Router Advertisements, as FRR sends on its
//! interface peers; Router Solicitations and an all-nodes Echo Request while no neighbour is
//! known) and which neighbour the peer's sessions should run to ([`Discovery::view`]).
//!
//! The rule for choosing, with several routers on the link or messages from anyone:
//!
//! 1. Only link-local sources count, never our own address, and only messages the kernel could
//!    not have forwarded: Router Advertisements, Neighbor Solicitations and Advertisements with
//!    hop limit 255 and code 0 and well-formed options (RFC 4861 §6.1.2, §7.1); Echo Replies to
//!    our own probe; connections from a link-local address on the interface. Anything else is
//!    ignored (and counted).
//! 2. With no neighbour yet, the peer takes a router heard by its Router Advertisement over a
//!    node heard only by Neighbor Discovery, an Echo Reply or a connection; among equals, the
//!    lowest address. Candidates not heard for [`NEIGHBOUR_TIMEOUT`] are forgotten.
//! 3. The neighbour stays while it is heard or its session is Established. The peer moves to
//!    another only (a) at once, when a Router Advertisement carrying the neighbour's own MAC
//!    comes from another link-local address (it changed its address), or (b) when its session
//!    is not Established and it has been silent for [`NEIGHBOUR_TIMEOUT`] while another
//!    candidate was heard (rule 2 picks which).
//! 4. The interface missing, down, or without a usable (non-tentative) link-local address: no
//!    neighbour, and every candidate is forgotten; the view says why the peer waits.

mod choice;
pub mod icmpv6;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use icmpv6::{Icmpv6, Mac};

/// Seconds between our Router Advertisements once the first ones are out (FRR sends every 10 s
/// on its interface peers).
pub const RA_INTERVAL: Duration = Duration::from_secs(10);
/// How many RAs go out [`FAST_INTERVAL`] apart when the link becomes usable.
const INITIAL_RAS: u32 = 3;
/// The spacing of the first RAs, and of probes while no neighbour is known.
pub const FAST_INTERVAL: Duration = Duration::from_secs(1);
/// Probes (Router Solicitation, all-nodes Echo Request) while no neighbour is known.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// A candidate not heard for this long is forgotten (three of FRR's RA intervals).
pub const NEIGHBOUR_TIMEOUT: Duration = Duration::from_secs(30);
/// At most one RA in answer to solicitations per this time.
const MIN_SOLICITED_GAP: Duration = Duration::from_millis(500);
/// Candidates kept at most (a link full of strangers must not grow memory).
const MAX_CANDIDATES: usize = 16;

/// The interface as the driver last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkState {
    /// Its index: the zone of link-local addresses on it.
    pub ifindex: u32,
    /// Administratively up with carrier (`IFF_UP` and `IFF_RUNNING`).
    pub up: bool,
    /// Our usable link-local address on it (none while there is none, or it is tentative).
    pub link_local: Option<Ipv6Addr>,
    /// Our MAC on it.
    pub mac: Option<Mac>,
}

/// How a neighbour made itself known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HeardBy {
    /// Its Router Advertisement (preferred).
    RouterAdvertisement,
    /// Neighbor Discovery, an Echo Reply to our probe, or a connection it opened.
    NeighborDiscovery,
}

impl HeardBy {
    /// For operators.
    pub fn as_str(self) -> &'static str {
        match self {
            HeardBy::RouterAdvertisement => "router advertisement",
            HeardBy::NeighborDiscovery => "neighbor discovery",
        }
    }
}

/// What the machine is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The interface now (`None`: there is no interface of that name).
    Link(Option<LinkState>),
    /// An ICMPv6 message arrived on the interface from `source` with `hop_limit`.
    Received {
        /// The IPv6 source address.
        source: Ipv6Addr,
        /// The hop limit it arrived with, if the socket said.
        hop_limit: Option<u8>,
        /// The message.
        message: Icmpv6,
    },
    /// A TCP connection arrived from `source` (link-local, on this interface).
    Connection(Ipv6Addr),
    /// Whether the peer's session is Established (rule 3).
    Established(bool),
    /// Time passed; due at [`Discovery::next_deadline`].
    Tick,
}

/// Something to send on the interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// Destination: all-nodes (ff02::1) or all-routers (ff02::2).
    pub to: Ipv6Addr,
    /// The ICMPv6 message.
    pub message: Vec<u8>,
}

/// The neighbour the peer's sessions run to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbour {
    /// Its link-local address.
    pub address: Ipv6Addr,
    /// The interface's index: the address's zone.
    pub ifindex: u32,
    /// How it made itself known.
    pub heard_by: HeardBy,
}

/// What the peer should do now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct View {
    /// The neighbour to peer with, when there is one.
    pub neighbour: Option<Neighbour>,
    /// Why there is none, for the operator.
    pub waiting: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    heard_by: HeardBy,
    last: Instant,
    mac: Option<Mac>,
}

/// One interface's neighbour discovery.
#[derive(Debug, Clone)]
pub struct Discovery {
    interface: String,
    link: Option<LinkState>,
    candidates: BTreeMap<Ipv6Addr, Candidate>,
    current: Option<Ipv6Addr>,
    established: bool,
    /// RAs still to send at [`FAST_INTERVAL`].
    fast_ras: u32,
    next_ra: Option<Instant>,
    next_probe: Option<Instant>,
    last_solicited: Option<Instant>,
    probe_seq: u16,
    ignored: u64,
}

/// The all-nodes multicast address.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The all-routers multicast address.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// The identifier of our Echo Requests.
pub const ECHO_ID: u16 = 0x1a77;

impl Discovery {
    /// A machine for `interface`, which it has not seen yet.
    pub fn new(interface: &str) -> Self {
        Discovery {
            interface: interface.to_string(),
            link: None,
            candidates: BTreeMap::new(),
            current: None,
            established: false,
            fast_ras: 0,
            next_ra: None,
            next_probe: None,
            last_solicited: None,
            probe_seq: 0,
            ignored: 0,
        }
    }

    /// Process one input at `now`; what to send.
    pub fn process(&mut self, now: Instant, input: Input) -> Vec<Send> {
        let mut out = Vec::new();
        match input {
            Input::Link(state) => self.on_link(state, now),
            Input::Received {
                source,
                hop_limit,
                message,
            } => self.on_received(source, hop_limit, message, now, &mut out),
            Input::Connection(source) => {
                if self.usable_source(source) {
                    self.hear(source, HeardBy::NeighborDiscovery, None, now);
                } else {
                    self.ignored = self.ignored.saturating_add(1);
                }
            }
            Input::Established(up) => self.established = up,
            Input::Tick => {}
        }
        self.expire(now);
        self.choose(now);
        self.due(now, &mut out);
        out
    }

    /// When to come back with [`Input::Tick`].
    pub fn next_deadline(&self) -> Option<Instant> {
        let expiry = self
            .candidates
            .values()
            .map(|c| c.last + NEIGHBOUR_TIMEOUT)
            .min();
        [self.next_ra, self.next_probe, expiry]
            .into_iter()
            .flatten()
            .min()
    }

    /// The neighbour to peer with, or why there is none.
    pub fn view(&self) -> View {
        let waiting = match &self.link {
            None => Some(format!("interface {} does not exist", self.interface)),
            Some(l) if !l.up => Some(format!("interface {} is down", self.interface)),
            Some(l) if l.link_local.is_none() => Some(format!(
                "interface {} has no usable IPv6 link-local address yet",
                self.interface
            )),
            Some(_) if self.current.is_none() => Some(format!(
                "no neighbour heard on {} yet (waiting for its Router Advertisement; \
                 probing with Router Solicitations and an all-nodes Echo Request)",
                self.interface
            )),
            Some(_) => None,
        };
        let neighbour = match (self.current, self.link) {
            (Some(address), Some(link)) if waiting.is_none() => Some(Neighbour {
                address,
                ifindex: link.ifindex,
                heard_by: self
                    .candidates
                    .get(&address)
                    .map_or(HeardBy::NeighborDiscovery, |c| c.heard_by),
            }),
            _ => None,
        };
        View { neighbour, waiting }
    }

    /// Messages ignored so far (rule 1).
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    fn ready(&self) -> Option<LinkState> {
        self.link.filter(|l| l.up && l.link_local.is_some())
    }

    fn on_link(&mut self, state: Option<LinkState>, now: Instant) {
        let was_ready = self.ready();
        self.link = state;
        let ready = self.ready();
        let same = match (was_ready, ready) {
            (Some(a), Some(b)) => a.ifindex == b.ifindex && a.link_local == b.link_local,
            _ => false,
        };
        if same {
            return;
        }
        // Rule 4: a new (or no) usable link starts from nothing.
        self.candidates.clear();
        self.current = None;
        if ready.is_some() {
            self.fast_ras = INITIAL_RAS;
            self.next_ra = Some(now);
            self.next_probe = Some(now);
        } else {
            self.next_ra = None;
            self.next_probe = None;
        }
    }

    /// Rule 1's address checks: link-local unicast, not ours.
    fn usable_source(&self, source: Ipv6Addr) -> bool {
        let ours = self.link.and_then(|l| l.link_local) == Some(source);
        source.is_unicast_link_local() && !ours && self.ready().is_some()
    }

    /// Our periodic RAs, and probes while there is no neighbour.
    fn due(&mut self, now: Instant, out: &mut Vec<Send>) {
        if self.ready().is_none() {
            return;
        }
        if self.next_ra.is_some_and(|t| t <= now) {
            out.push(self.advertisement());
            let gap = if self.fast_ras > 1 {
                self.fast_ras = self.fast_ras.saturating_sub(1);
                FAST_INTERVAL
            } else {
                self.fast_ras = 0;
                RA_INTERVAL
            };
            self.next_ra = Some(now + gap);
        }
        if self.current.is_some() {
            self.next_probe = None;
            return;
        }
        match self.next_probe {
            Some(t) if t <= now => {
                let mac = self.link.and_then(|l| l.mac);
                self.probe_seq = self.probe_seq.wrapping_add(1);
                out.push(Send {
                    to: ALL_ROUTERS,
                    message: icmpv6::router_solicitation(mac),
                });
                out.push(Send {
                    to: ALL_NODES,
                    message: icmpv6::echo_request(ECHO_ID, self.probe_seq),
                });
                self.next_probe = Some(now + PROBE_INTERVAL);
            }
            Some(_) => {}
            None => self.next_probe = Some(now),
        }
    }

    fn advertisement(&self) -> Send {
        Send {
            to: ALL_NODES,
            message: icmpv6::router_advertisement(self.link.and_then(|l| l.mac)),
        }
    }
}

#[cfg(test)]
mod tests;
