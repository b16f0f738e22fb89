//! The choosing rule of the module's doc, rules 1 to 3: what counts as hearing a neighbour, and
//! which one the peer takes.

use std::net::Ipv6Addr;
use std::time::Instant;

use super::icmpv6::{Icmpv6, Mac};
use super::{
    Candidate, Discovery, HeardBy, Send, ECHO_ID, MAX_CANDIDATES, MIN_SOLICITED_GAP,
    NEIGHBOUR_TIMEOUT,
};

impl Discovery {
    pub(super) fn on_received(
        &mut self,
        source: Ipv6Addr,
        hop_limit: Option<u8>,
        message: Icmpv6,
        now: Instant,
        out: &mut Vec<Send>,
    ) {
        if !self.usable_source(source) {
            self.ignored = self.ignored.saturating_add(1);
            return;
        }
        let on_link = hop_limit == Some(255);
        match message {
            Icmpv6::RouterAdvertisement { source_mac, .. } if on_link => {
                // Rule 3a: the neighbour's MAC from another address: it changed its address.
                let moved = self.current.filter(|c| *c != source).and_then(|c| {
                    let mac = self.candidates.get(&c).and_then(|k| k.mac)?;
                    (Some(mac) == source_mac).then_some(c)
                });
                self.hear(source, HeardBy::RouterAdvertisement, source_mac, now);
                if let Some(old) = moved {
                    self.candidates.remove(&old);
                    self.current = Some(source);
                }
            }
            Icmpv6::RouterSolicitation { source_mac } if on_link => {
                self.hear(source, HeardBy::NeighborDiscovery, source_mac, now);
                // Answer at once (as a router would, RFC 4861 §6.2.6, without its delay: the
                // link is point to point), at most once per MIN_SOLICITED_GAP.
                let recent = self
                    .last_solicited
                    .is_some_and(|t| now.saturating_duration_since(t) < MIN_SOLICITED_GAP);
                if !recent {
                    self.last_solicited = Some(now);
                    out.push(self.advertisement());
                }
            }
            Icmpv6::NeighborSolicitation { source_mac, .. } if on_link => {
                self.hear(source, HeardBy::NeighborDiscovery, source_mac, now);
            }
            Icmpv6::NeighborAdvertisement { target_mac, target } if on_link && target == source => {
                self.hear(source, HeardBy::NeighborDiscovery, target_mac, now);
            }
            Icmpv6::EchoReply { id, .. } if id == ECHO_ID => {
                self.hear(source, HeardBy::NeighborDiscovery, None, now);
            }
            _ => self.ignored = self.ignored.saturating_add(1),
        }
    }

    pub(super) fn hear(&mut self, source: Ipv6Addr, by: HeardBy, mac: Option<Mac>, now: Instant) {
        if !self.candidates.contains_key(&source) && self.candidates.len() >= MAX_CANDIDATES {
            // Make room by forgetting the stalest stranger (never the current neighbour).
            let stalest = self
                .candidates
                .iter()
                .filter(|(a, _)| Some(**a) != self.current)
                .min_by_key(|(_, c)| c.last)
                .map(|(a, _)| *a);
            match stalest {
                Some(a) => {
                    self.candidates.remove(&a);
                }
                None => return,
            }
        }
        let c = self.candidates.entry(source).or_insert(Candidate {
            heard_by: by,
            last: now,
            mac,
        });
        c.last = now;
        c.heard_by = c.heard_by.min(by);
        if mac.is_some() {
            c.mac = mac;
        }
    }

    pub(super) fn expire(&mut self, now: Instant) {
        let current = self.current;
        let established = self.established;
        self.candidates.retain(|a, c| {
            let keep_current = Some(*a) == current && established;
            keep_current || now.saturating_duration_since(c.last) < NEIGHBOUR_TIMEOUT
        });
    }

    /// Rules 2 and 3b.
    pub(super) fn choose(&mut self, now: Instant) {
        if self.ready().is_none() {
            self.current = None;
            return;
        }
        if let Some(c) = self.current {
            let alive = self
                .candidates
                .get(&c)
                .is_some_and(|k| now.saturating_duration_since(k.last) < NEIGHBOUR_TIMEOUT);
            let others = self.candidates.keys().any(|a| *a != c);
            if self.established || alive || !others {
                // Kept; a silent one with no alternative is kept even once forgotten.
                return;
            }
        }
        self.current = self
            .candidates
            .iter()
            .min_by_key(|(a, c)| (c.heard_by, **a))
            .map(|(a, _)| *a)
            .or(self.current);
    }
}
