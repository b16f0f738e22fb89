//! Helpers for driving `fsm::peer::Peer` by hand, with no runtime: a clock that only moves
//! when told, the peer's OPENs, and readers for the outputs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use bgp::fsm::peer::{ConnId, Input, Output, Peer};
use bgp::fsm::{GrOptions, OpenOptions, SessionConfig, State};
use bgp::wire::{
    Capability, GracefulRestartCap, GracefulRestartFamily, Message, NotificationMsg, OpenMsg,
};

/// Our BGP identifier: between the two the tests use for the peer.
pub const OUR_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 20);
/// A peer identifier lower than ours (we keep the connection we initiated).
pub const LOWER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
/// A peer identifier higher than ours (we keep the connection the peer initiated).
pub const HIGHER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 30);
pub const OUR_AS: u32 = 65010;
pub const THEIR_AS: u32 = 65020;
/// The configured connect-retry time.
pub const RETRY: Duration = Duration::from_secs(3);

/// Session settings: active unless `passive`, graceful restart as in `gr`.
pub fn config(passive: bool, gr: Option<GrOptions>) -> SessionConfig {
    SessionConfig {
        local_as: OUR_AS,
        remote_as: THEIR_AS.into(),
        router_id: OUR_ID,
        hold_time: 9,
        keepalive: None,
        connect_retry: RETRY,
        passive,
        open: OpenOptions {
            graceful_restart: gr,
            ..OpenOptions::default()
        },
    }
}

/// A peer under test and the time, which moves only when a test says so.
pub struct Rig {
    pub peer: Peer,
    pub now: Instant,
}

impl Rig {
    /// An active peer without graceful restart or a prefix limit.
    pub fn new() -> Self {
        Self::with(config(false, None), None)
    }

    pub fn with(session: SessionConfig, max_prefixes: Option<u32>) -> Self {
        let key = "192.0.2.1".parse().unwrap();
        Self {
            peer: Peer::new(key, session, max_prefixes, 0),
            now: Instant::now(),
        }
    }

    pub fn feed(&mut self, input: Input) -> Vec<Output> {
        self.peer.process(self.now, input)
    }

    /// Move the clock by `d` and tick.
    pub fn after(&mut self, d: Duration) -> Vec<Output> {
        self.now += d;
        self.feed(Input::Tick)
    }

    /// Move the clock to the peer's next deadline and tick; returns how long that was.
    pub fn next(&mut self) -> (Duration, Vec<Output>) {
        let at = self.peer.next_deadline().expect("no deadline");
        let wait = at.saturating_duration_since(self.now);
        self.now = at.max(self.now);
        (wait, self.feed(Input::Tick))
    }

    /// Start, and the peer's OPEN then KEEPALIVE on our connection `c`: Established.
    pub fn establish(&mut self, c: ConnId, open: Message) -> Vec<Output> {
        self.feed(Input::Start);
        self.feed(Input::Connected(c));
        self.feed(Input::Message(c, open));
        let out = self.feed(Input::Message(c, Message::Keepalive));
        assert!(established_on(&out) == Some(c), "{out:?}");
        assert_eq!(self.peer.state(), State::Established);
        out
    }
}

/// The peer's OPEN, from BGP identifier `id`, with `caps` besides 4-octet AS.
pub fn open_from(id: Ipv4Addr, caps: Vec<Capability>) -> Message {
    let mut capabilities = vec![Capability::FourOctetAs(THEIR_AS)];
    capabilities.extend(caps);
    Message::Open(OpenMsg {
        version: 4,
        my_as: THEIR_AS as u16,
        hold_time: 9,
        router_id: id,
        capabilities,
    })
}

/// The same OPEN proposing hold time 0: no keepalives, no hold timer (RFC 4271 §4.4).
pub fn without_hold_time(open: Message) -> Message {
    match open {
        Message::Open(o) => Message::Open(OpenMsg { hold_time: 0, ..o }),
        other => other,
    }
}

/// A graceful-restart capability: `restart_time`, IPv4 unicast listed with `forwarding`.
pub fn gr_cap(restart_time: u16, forwarding: bool) -> Capability {
    Capability::GracefulRestart(GracefulRestartCap {
        flags: 0,
        restart_time,
        families: vec![GracefulRestartFamily {
            afi: 1,
            safi: 1,
            forwarding,
        }],
    })
}

/// The messages sent on `c`, in order.
pub fn sent_on(out: &[Output], c: ConnId) -> Vec<Message> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(id, m) if *id == c => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// The (code, subcode) of the NOTIFICATION sent on `c`, if any.
pub fn notification_on(out: &[Output], c: ConnId) -> Option<(u8, u8)> {
    sent_on(out, c).into_iter().find_map(|m| match m {
        Message::Notification(NotificationMsg { code, subcode, .. }) => Some((code, subcode)),
        _ => None,
    })
}

/// Whether an OPEN went out on `c`.
pub fn opened(out: &[Output], c: ConnId) -> bool {
    sent_on(out, c)
        .iter()
        .any(|m| matches!(m, Message::Open(_)))
}

/// Whether a KEEPALIVE went out on `c`.
pub fn keepalive_on(out: &[Output], c: ConnId) -> bool {
    sent_on(out, c).contains(&Message::Keepalive)
}

/// The connection a session reached Established on, if one did.
pub fn established_on(out: &[Output]) -> Option<ConnId> {
    out.iter().find_map(|o| match o {
        Output::Established(c, _) => Some(*c),
        _ => None,
    })
}

pub fn closes(out: &[Output], c: ConnId) -> bool {
    out.contains(&Output::Close(c))
}

pub fn refuses(out: &[Output], c: ConnId) -> bool {
    out.contains(&Output::Refuse(c))
}

/// Whether the output touches the peer's routes in any way.
pub fn touches_routes(out: &[Output]) -> bool {
    out.iter().any(|o| {
        matches!(
            o,
            Output::MarkStale | Output::SweepStale(_) | Output::DropRoutes
        )
    })
}

/// Whether `d` is 75-100% of `base` (RFC 4271 §10 jitter).
pub fn jittered(d: Duration, base: Duration) -> bool {
    d >= base.mul_f64(0.75) && d <= base
}
