//! Why received datagrams were dropped, counted per reason: lock-free, readable by the agent
//! at any time without asking the driver thread.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::packet::PacketError;

/// Why a received datagram reached no session. A bounded set: fit for a metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Fewer than 4 bytes.
    Truncated,
    /// Version not 1.
    BadVersion,
    /// Length field below 24 (26 with the A bit).
    LengthTooSmall,
    /// Length field beyond the bytes received.
    LengthBeyondPayload,
    /// Larger than any BFD packet.
    Oversized,
    /// Detect Mult 0.
    ZeroDetectMult,
    /// Multipoint bit set.
    Multipoint,
    /// My Discriminator 0.
    ZeroMyDiscriminator,
    /// Your Discriminator 0 while the sender is Init or Up.
    ZeroYourDiscriminator,
    /// Authentication section present (we do none).
    Authenticated,
    /// TTL / Hop Limit not 255 on single hop, or below the session's minimum on multihop.
    BadTtl,
    /// The kernel did not say what the TTL was.
    NoTtl,
    /// Your Discriminator names no session.
    UnknownDiscriminator,
    /// Your Discriminator 0 from an address (and interface) with no session.
    UnknownPeer,
    /// Your Discriminator names a session of another peer, interface or hop kind.
    WrongSource,
}

impl DropReason {
    /// Every reason, in order.
    pub const ALL: [DropReason; 15] = [
        DropReason::Truncated,
        DropReason::BadVersion,
        DropReason::LengthTooSmall,
        DropReason::LengthBeyondPayload,
        DropReason::Oversized,
        DropReason::ZeroDetectMult,
        DropReason::Multipoint,
        DropReason::ZeroMyDiscriminator,
        DropReason::ZeroYourDiscriminator,
        DropReason::Authenticated,
        DropReason::BadTtl,
        DropReason::NoTtl,
        DropReason::UnknownDiscriminator,
        DropReason::UnknownPeer,
        DropReason::WrongSource,
    ];

    /// A stable snake_case name, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Oversized => "oversized",
            DropReason::BadTtl => "bad_ttl",
            DropReason::NoTtl => "no_ttl",
            DropReason::UnknownDiscriminator => "unknown_discriminator",
            DropReason::UnknownPeer => "unknown_peer",
            DropReason::WrongSource => "wrong_source",
            DropReason::Truncated => "truncated",
            DropReason::BadVersion => "bad_version",
            DropReason::LengthTooSmall => "length_too_small",
            DropReason::LengthBeyondPayload => "length_beyond_payload",
            DropReason::ZeroDetectMult => "zero_detect_mult",
            DropReason::Multipoint => "multipoint",
            DropReason::ZeroMyDiscriminator => "zero_my_discriminator",
            DropReason::ZeroYourDiscriminator => "zero_your_discriminator",
            DropReason::Authenticated => "authentication",
        }
    }
}

impl From<PacketError> for DropReason {
    fn from(e: PacketError) -> Self {
        match e {
            PacketError::Truncated { .. } => DropReason::Truncated,
            PacketError::Version(_) => DropReason::BadVersion,
            PacketError::LengthTooSmall(_) => DropReason::LengthTooSmall,
            PacketError::LengthBeyondPayload { .. } => DropReason::LengthBeyondPayload,
            PacketError::ZeroDetectMult => DropReason::ZeroDetectMult,
            PacketError::Multipoint => DropReason::Multipoint,
            PacketError::ZeroMyDiscriminator => DropReason::ZeroMyDiscriminator,
            PacketError::ZeroYourDiscriminator(_) => DropReason::ZeroYourDiscriminator,
            PacketError::Authenticated => DropReason::Authenticated,
        }
    }
}

/// One counter per [`DropReason`], plus datagrams that did reach a session.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    drops: [AtomicU64; DropReason::ALL.len()],
    accepted: AtomicU64,
}

impl Counters {
    pub(crate) fn dropped(&self, reason: DropReason) {
        if let Some(c) = self.drops.get(reason as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn accept(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Drops {
        Drops {
            by_reason: DropReason::ALL.map(|r| {
                let n = self
                    .drops
                    .get(r as usize)
                    .map_or(0, |c| c.load(Ordering::Relaxed));
                (r, n)
            }),
            accepted: self.accepted.load(Ordering::Relaxed),
        }
    }
}

/// Counters as read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drops {
    /// Dropped datagrams per reason, every reason listed.
    pub by_reason: [(DropReason, u64); DropReason::ALL.len()],
    /// Datagrams handed to a session.
    pub accepted: u64,
}

impl Drops {
    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.by_reason
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.by_reason.iter().map(|(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_reason_at_its_own_index() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "{}", r.as_str());
        }
        let c = Counters::default();
        c.dropped(DropReason::WrongSource);
        c.dropped(DropReason::WrongSource);
        assert_eq!(c.snapshot().get(DropReason::WrongSource), 2);
        assert_eq!(c.snapshot().total(), 2);
    }
}
