//! Which connection of the `/metrics` endpoint gives up its slot (sans-IO: no clock, no
//! sockets). The endpoint holds at most a fixed number of connections; when a new one arrives
//! and every slot is taken, the connection that has been quiet the longest (no request since
//! it was accepted, or since its last request) is closed to make room, as nginx drains idle
//! keep-alive connections when it runs out. A scrape sends its request the moment it connects,
//! so slow or idle clients, however many, cannot keep Prometheus out: they are the quiet ones.

use std::collections::{BTreeMap, HashMap};

/// A connection's number, in the order of acceptance.
pub type ConnId = u64;

/// The connections held and when each was last heard from (a logical clock, not time).
#[derive(Debug, Default)]
pub struct Slots {
    max: usize,
    clock: u64,
    next_id: ConnId,
    /// Connection -> its last activity.
    last: HashMap<ConnId, u64>,
    /// Last activity -> connection (activities are unique: the clock only goes up).
    quiet: BTreeMap<u64, ConnId>,
}

impl Slots {
    /// Room for `max` connections (at least 1).
    pub fn new(max: usize) -> Self {
        Slots {
            max: max.max(1),
            ..Slots::default()
        }
    }

    /// A connection was accepted: its number, and the one to close to make room for it, if
    /// every slot was taken.
    pub fn admit(&mut self) -> (ConnId, Option<ConnId>) {
        let evict = if self.last.len() >= self.max {
            self.quiet.first_key_value().map(|(_, id)| *id)
        } else {
            None
        };
        if let Some(old) = evict {
            self.gone(old);
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.touch(id);
        (id, evict)
    }

    /// `id` sent a request: it is the most recently active now.
    pub fn active(&mut self, id: ConnId) {
        if self.last.contains_key(&id) {
            self.touch(id);
        }
    }

    /// `id` ended (or was closed): its slot is free.
    pub fn gone(&mut self, id: ConnId) {
        if let Some(t) = self.last.remove(&id) {
            self.quiet.remove(&t);
        }
    }

    /// Connections held.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// True if no connection is held.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    fn touch(&mut self, id: ConnId) {
        self.clock = self.clock.wrapping_add(1);
        if let Some(old) = self.last.insert(id, self.clock) {
            self.quiet.remove(&old);
        }
        self.quiet.insert(self.clock, id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quietest_connection_makes_room() {
        let mut s = Slots::new(3);
        let (a, none) = s.admit();
        assert_eq!(none, None);
        let (b, _) = s.admit();
        let (c, _) = s.admit();
        // `a` asks again: `b` is now the quietest.
        s.active(a);
        let (d, evicted) = s.admit();
        assert_eq!(evicted, Some(b));
        assert_eq!(s.len(), 3);
        // The newcomer is never its own victim; then `c`, then `a`.
        assert_eq!(s.admit().1, Some(c));
        assert_eq!(s.admit().1, Some(a));
        // A connection that ended frees its slot: nobody is closed.
        s.gone(d);
        assert_eq!(s.admit().1, None);
        // Activity of a closed connection changes nothing.
        s.active(b);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn never_more_than_max_whatever_arrives() {
        let mut s = Slots::new(32);
        for _ in 0..1000 {
            s.admit();
            assert!(s.len() <= 32);
        }
        assert_eq!(Slots::new(0).admit().1, None);
    }
}
