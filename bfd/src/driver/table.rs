//! The driver's sessions and how a received packet finds its one (RFC 5880 §6.8.6, RFC 5881
//! §3, RFC 5883 §3).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, UdpSocket};
use std::time::Instant;

use super::socket::Datagram;
use super::{DownReason, DropReason, Hop, SessionCounters, SessionSnapshot};
use crate::packet::{ControlPacket, State};
use crate::session::{Session, StateChange};

/// Which port a packet arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// RFC 5881, UDP 3784.
    SingleHop,
    /// RFC 5883, UDP 4784.
    MultiHop,
}

impl Kind {
    pub fn of(hop: Hop) -> Kind {
        match hop {
            Hop::Single => Kind::SingleHop,
            Hop::Multi { .. } => Kind::MultiHop,
        }
    }
}

/// Who a packet with Your Discriminator 0 may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PeerId {
    /// Single hop: source address and arrival interface (0: any interface).
    Single { remote: IpAddr, ifindex: u32 },
    /// Multihop: source and destination address.
    Multi { remote: IpAddr, local: IpAddr },
}

/// One session and its socket.
#[derive(Debug)]
pub(crate) struct Entry<K> {
    pub key: K,
    pub peer: PeerId,
    pub local: Option<IpAddr>,
    pub interface: Option<String>,
    pub hop: Hop,
    pub session: Session,
    pub socket: UdpSocket,
    pub source_port: u16,
    pub counters: SessionCounters,
    pub last_down: Option<DownReason>,
}

impl<K: Clone> Entry<K> {
    /// Does a datagram that named this session by discriminator come from its peer?
    fn sent_by_its_peer(&self, kind: Kind, d: &Datagram) -> bool {
        let source = d.source.ip();
        match (self.peer, kind) {
            (PeerId::Single { remote, ifindex }, Kind::SingleHop) => {
                remote == source && (ifindex == 0 || d.ifindex == Some(ifindex))
            }
            (PeerId::Multi { remote, local }, Kind::MultiHop) => {
                remote == source && d.destination == Some(local)
            }
            _ => false,
        }
    }

    /// Bookkeeping for a state change.
    pub fn record(&mut self, c: &StateChange, at: Instant) {
        if c.to == State::Up {
            self.counters.up_transitions += 1;
        }
        if c.from == State::Up {
            self.counters.down_transitions += 1;
        }
        if matches!(c.from, State::Up | State::Init) {
            self.last_down = Some(DownReason {
                at,
                from: c.from,
                diag: c.diag,
                remote_diag: c.remote_diag,
                remote_admin_down: c.remote_admin_down,
            });
        }
    }

    /// Sends `p` on the session's socket, counting the outcome.
    pub fn send(&mut self, p: &ControlPacket) {
        match self.socket.send(&crate::packet::encode(p)) {
            Ok(_) => self.counters.tx += 1,
            Err(_) => self.counters.tx_errors += 1,
        }
    }

    pub fn snapshot(&self) -> SessionSnapshot<K> {
        let remote = match self.peer {
            PeerId::Single { remote, .. } | PeerId::Multi { remote, .. } => remote,
        };
        SessionSnapshot {
            key: self.key.clone(),
            remote,
            local: self.local,
            interface: self.interface.clone(),
            hop: self.hop,
            source_port: self.source_port,
            params: self.session.params(),
            status: self.session.status(),
            last_down: self.last_down,
            counters: self.counters,
        }
    }
}

/// Sessions by discriminator, by key and by peer.
#[derive(Debug)]
pub(crate) struct Table<K> {
    by_discr: HashMap<u32, Entry<K>>,
    by_key: HashMap<K, u32>,
    by_peer: HashMap<PeerId, u32>,
}

impl<K: Clone + Eq + Hash> Table<K> {
    pub fn new() -> Self {
        Table {
            by_discr: HashMap::new(),
            by_key: HashMap::new(),
            by_peer: HashMap::new(),
        }
    }

    /// Is this key, or this peer, taken?
    pub fn taken(&self, key: &K, peer: &PeerId) -> bool {
        self.by_key.contains_key(key) || self.by_peer.contains_key(peer)
    }

    /// Is this discriminator in use?
    pub fn has_discriminator(&self, d: u32) -> bool {
        self.by_discr.contains_key(&d)
    }

    pub fn insert(&mut self, discr: u32, entry: Entry<K>) {
        self.by_key.insert(entry.key.clone(), discr);
        self.by_peer.insert(entry.peer, discr);
        self.by_discr.insert(discr, entry);
    }

    pub fn remove(&mut self, key: &K) -> Option<Entry<K>> {
        let discr = self.by_key.remove(key)?;
        let entry = self.by_discr.remove(&discr)?;
        self.by_peer.remove(&entry.peer);
        Some(entry)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut Entry<K>> {
        let discr = self.by_key.get(key)?;
        self.by_discr.get_mut(discr)
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry<K>> {
        self.by_discr.values()
    }

    pub fn entries_mut(&mut self) -> impl Iterator<Item = &mut Entry<K>> {
        self.by_discr.values_mut()
    }

    /// The session a valid packet that arrived on the `kind` port belongs to, after the TTL
    /// rules (RFC 5881 §5, RFC 5883 §5).
    pub fn select(
        &mut self,
        kind: Kind,
        p: &ControlPacket,
        d: &Datagram,
    ) -> Result<&mut Entry<K>, DropReason> {
        let ttl = d.ttl.ok_or(DropReason::NoTtl)?;
        // Single hop: "the received TTL/Hop Limit MUST be 255" before anything else.
        if kind == Kind::SingleHop && ttl != super::socket::SEND_TTL {
            return Err(DropReason::BadTtl);
        }
        let discr = if p.your_discriminator != 0 {
            p.your_discriminator
        } else {
            let source = d.source.ip();
            let candidates = match kind {
                Kind::SingleHop => [
                    d.ifindex.map(|ifindex| PeerId::Single {
                        remote: source,
                        ifindex,
                    }),
                    Some(PeerId::Single {
                        remote: source,
                        ifindex: 0,
                    }),
                ],
                Kind::MultiHop => [
                    d.destination.map(|local| PeerId::Multi {
                        remote: source,
                        local,
                    }),
                    None,
                ],
            };
            candidates
                .into_iter()
                .flatten()
                .find_map(|id| self.by_peer.get(&id).copied())
                .ok_or(DropReason::UnknownPeer)?
        };
        let entry = self
            .by_discr
            .get_mut(&discr)
            .ok_or(DropReason::UnknownDiscriminator)?;
        if !entry.sent_by_its_peer(kind, d) {
            return Err(DropReason::WrongSource);
        }
        if let Hop::Multi { min_ttl } = entry.hop {
            if ttl < min_ttl {
                return Err(DropReason::BadTtl);
            }
        }
        Ok(entry)
    }
}
