//! The driver thread's loop: datagrams and timer wake-ups in, [`Session`] outputs out.

use std::collections::hash_map::RandomState;
use std::fmt::Debug;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::counters::Counters;
use super::handle::Command;
use super::socket::{self, Datagram, Route, RECV_BUF};
use super::table::{Entry, Kind, PeerId, Table};
use super::{BfdError, BfdEvent, DriverConfig, DropReason, Hop, SessionCounters, SessionSpec};
use crate::packet::{decode, Diag};
use crate::session::{Input, Jitter, Outputs, Session};

/// Datagrams read per socket before timers get their turn: a flood cannot starve them.
const RECV_BUDGET: usize = 64;

/// A receiving socket and its ancillary-data buffer.
#[derive(Debug)]
struct Listener {
    sock: UdpSocket,
    cmsg: Vec<u8>,
    kind: Kind,
}

/// The driver's state, owned by its thread.
#[derive(Debug)]
pub(crate) struct Runner<K> {
    config: DriverConfig,
    table: Table<K>,
    /// IPv4 single hop, IPv6 single hop, IPv4 multihop, IPv6 multihop; opened on first use.
    listeners: [Option<Listener>; 4],
    events: mpsc::UnboundedSender<BfdEvent<K>>,
    counters: Arc<Counters>,
    control_plane_independent: bool,
    random: RandomState,
    draws: u64,
}

impl<K: Clone + Eq + Hash + Debug + Send + 'static> Runner<K> {
    pub fn new(
        config: DriverConfig,
        events: mpsc::UnboundedSender<BfdEvent<K>>,
        counters: Arc<Counters>,
    ) -> Self {
        Runner {
            config,
            table: Table::new(),
            listeners: [None, None, None, None],
            events,
            counters,
            control_plane_independent: false,
            random: RandomState::new(),
            draws: 0,
        }
    }

    /// Runs until told to stop or every handle is gone.
    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command<K>>) {
        let mut buf = [0u8; RECV_BUF];
        loop {
            let deadline = self
                .table
                .entries()
                .filter_map(|e| e.session.deadline())
                .min();
            let command = tokio::select! {
                biased;
                _ = readable(&self.listeners) => None,
                _ = sleep_until(deadline) => None,
                c = commands.recv() => Some(c),
            };
            // Read what is queued before judging detection times, then fire due timers.
            self.drain(&mut buf);
            self.fire_timers();
            match command {
                None => {}
                Some(None) => break,
                Some(Some(Command::Stop(done))) => {
                    drop(self);
                    let _ = done.send(());
                    return;
                }
                Some(Some(c)) => self.command(c),
            }
        }
    }

    fn drain(&mut self, buf: &mut [u8; RECV_BUF]) {
        for i in 0..self.listeners.len() {
            for _ in 0..RECV_BUDGET {
                let Some(l) = self.listeners.get_mut(i).and_then(Option::as_mut) else {
                    break;
                };
                let kind = l.kind;
                let got = l.sock.try_io(Interest::READABLE, || {
                    socket::receive(&l.sock, buf, &mut l.cmsg)
                });
                match got {
                    Ok(d) => self.datagram(kind, &d, buf),
                    // WouldBlock: drained. Other errors (e.g. ICMP reports) are not packets.
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => {}
                }
            }
        }
    }

    /// One received datagram: decode, select the session (TTL, source), hand it over.
    fn datagram(&mut self, kind: Kind, d: &Datagram, buf: &[u8; RECV_BUF]) {
        if d.truncated {
            return self.counters.dropped(DropReason::Oversized);
        }
        let packet = match decode(buf.get(..d.len).unwrap_or_default()) {
            Ok(p) => p,
            Err(e) => return self.counters.dropped(e.into()),
        };
        let entry = match self.table.select(kind, &packet, d) {
            Ok(e) => e,
            Err(reason) => return self.counters.dropped(reason),
        };
        self.counters.accept();
        entry.counters.rx += 1;
        let now = Instant::now();
        let out = entry.session.handle(Input::Received(packet), now);
        apply(entry, out, &self.events, now);
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        for entry in self.table.entries_mut() {
            if entry.session.deadline().is_some_and(|d| d <= now) {
                let out = entry.session.handle(Input::Timer, now);
                apply(entry, out, &self.events, now);
            }
        }
    }

    fn command(&mut self, command: Command<K>) {
        let now = Instant::now();
        match command {
            Command::Add(spec, reply) => {
                let _ = reply.send(self.add(spec, now));
            }
            Command::Remove(key, reply) => {
                let result = self.table.remove(&key).map(|mut e| {
                    // Tell the peer it is administrative, not a failure (RFC 5882 §3.2).
                    let out = e
                        .session
                        .handle(Input::AdminDown(Diag::AdministrativelyDown), now);
                    if let Some(p) = out.send {
                        e.send(&p);
                    }
                });
                let _ = reply.send(result.ok_or(BfdError::NoSuchSession));
            }
            Command::SetParams(key, params, reply) => {
                let result = self.table.get_mut(&key).map(|e| {
                    let out = e.session.handle(Input::SetParams(params), now);
                    apply(e, out, &self.events, now);
                });
                let _ = reply.send(result.ok_or(BfdError::NoSuchSession));
            }
            Command::SetControlPlaneIndependent(on, reply) => {
                self.control_plane_independent = on;
                for e in self.table.entries_mut() {
                    e.session.handle(Input::SetControlPlaneIndependent(on), now);
                }
                let _ = reply.send(());
            }
            Command::AdminDownAll(reply) => {
                let mut n = 0;
                for e in self.table.entries_mut() {
                    let out = e
                        .session
                        .handle(Input::AdminDown(Diag::AdministrativelyDown), now);
                    apply(e, out, &self.events, now);
                    n += 1;
                }
                let _ = reply.send(n);
            }
            Command::Snapshot(reply) => {
                let _ = reply.send(self.table.entries().map(Entry::snapshot).collect());
            }
            // Handled by `run`.
            Command::Stop(done) => {
                let _ = done.send(());
            }
        }
    }

    fn add(&mut self, spec: SessionSpec<K>, now: Instant) -> Result<(), BfdError> {
        let invalid = |why| Err(BfdError::Invalid(why));
        if spec
            .local
            .is_some_and(|l| l.is_ipv4() != spec.remote.is_ipv4())
        {
            return invalid("local and remote addresses of different families");
        }
        let ifindex = match &spec.interface {
            Some(name) => Some(
                nix::net::if_::if_nametoindex(name.as_str())
                    .map_err(|e| BfdError::Interface(name.clone(), e.into()))?,
            ),
            None => None,
        };
        let peer = match (spec.hop, spec.local) {
            (Hop::Single, _) => {
                if matches!(spec.remote, IpAddr::V6(a) if socket::is_link_local(&a))
                    && ifindex.is_none()
                {
                    return invalid("a link-local IPv6 peer needs an interface");
                }
                PeerId::Single {
                    remote: spec.remote,
                    ifindex: ifindex.unwrap_or(0),
                }
            }
            (Hop::Multi { .. }, _) if spec.interface.is_some() => {
                return invalid("an interface binds single-hop sessions only")
            }
            (Hop::Multi { .. }, Some(local)) => PeerId::Multi {
                remote: spec.remote,
                local,
            },
            (Hop::Multi { .. }, None) => {
                return invalid("a multihop session needs a local address")
            }
        };
        if self.table.taken(&spec.key, &peer) {
            return Err(BfdError::Duplicate);
        }
        self.listen(spec.remote.is_ipv6(), Kind::of(spec.hop))?;
        let port = match spec.hop {
            Hop::Single => self.config.peer_single_hop,
            Hop::Multi { .. } => self.config.peer_multihop,
        };
        let route = Route {
            local: spec.local,
            remote: SocketAddr::new(spec.remote, port),
            interface: spec.interface.as_deref().zip(ifindex),
        };
        let hint = u16::try_from(self.draw() % 16384).unwrap_or(0);
        let (sock, source_port) =
            socket::sender(route, hint).map_err(|e| BfdError::Socket("BFD source socket", e))?;
        let discr = loop {
            let d = u32::try_from(self.draw() >> 32).unwrap_or(0);
            if d != 0 && !self.table.has_discriminator(d) {
                break d;
            }
        };
        let mut session = Session::new(discr, spec.params, Jitter::from_seed(self.draw()), now);
        session.handle(
            Input::SetControlPlaneIndependent(self.control_plane_independent),
            now,
        );
        self.table.insert(
            discr,
            Entry {
                key: spec.key,
                peer,
                local: spec.local,
                interface: spec.interface,
                hop: spec.hop,
                session,
                socket: sock,
                source_port,
                counters: SessionCounters::default(),
                last_down: None,
            },
        );
        Ok(())
    }

    /// Opens the receiving socket for this family and hop kind if it is not open yet.
    fn listen(&mut self, v6: bool, kind: Kind) -> Result<(), BfdError> {
        let (slot, port, what) = match kind {
            Kind::SingleHop => (
                0,
                self.config.listen_single_hop,
                "listen on the single-hop port",
            ),
            Kind::MultiHop => (
                2,
                self.config.listen_multihop,
                "listen on the multihop port",
            ),
        };
        let Some(entry) = self.listeners.get_mut(slot + usize::from(v6)) else {
            return Ok(());
        };
        if entry.is_none() {
            let sock = socket::listen(v6, port)
                .and_then(UdpSocket::from_std)
                .map_err(|e| BfdError::Socket(what, e))?;
            *entry = Some(Listener {
                sock,
                cmsg: socket::control_buffer(),
                kind,
            });
        }
        Ok(())
    }

    /// 64 random bits (SipHash under this process's random keys).
    fn draw(&mut self) -> u64 {
        let mut h = self.random.build_hasher();
        h.write_u64(self.draws);
        self.draws = self.draws.wrapping_add(1);
        h.finish()
    }
}

/// Carries out a session's outputs: send, record and report a state change.
fn apply<K: Clone + Debug>(
    entry: &mut Entry<K>,
    out: Outputs,
    events: &mpsc::UnboundedSender<BfdEvent<K>>,
    now: Instant,
) {
    if let Some(p) = out.send {
        entry.send(&p);
    }
    if let Some(change) = out.change {
        entry.record(&change, now);
        tracing::debug!(key = ?entry.key, from = %change.from, to = %change.to,
            diag = %change.diag, "BFD state change");
        let _ = events.send(BfdEvent {
            key: entry.key.clone(),
            change,
            at: now,
        });
    }
}

/// Ready when any open listener has a datagram.
async fn readable(listeners: &[Option<Listener>; 4]) {
    let ready = |i: usize| async move {
        match listeners.get(i).and_then(Option::as_ref) {
            Some(l) => {
                let _ = l.sock.readable().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ready(0) => {}
        _ = ready(1) => {}
        _ = ready(2) => {}
        _ = ready(3) => {}
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
