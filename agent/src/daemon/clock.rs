//! The daemon's clock: seconds on the wall clock, for IPAM's grace periods and the age of
//! block conflicts. Unix time, because a grace period must survive a restart of latticed.
//!
//! Only the daemon's edge reads it (`run`, the reaper, the learned-route task); the cores
//! are handed `now` ([`ipam`] takes it in every call that can start or end a grace period).
//! Tests pass a [`ManualClock`] and move it themselves.

use std::sync::atomic::{AtomicU64, Ordering};

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch (or since whatever epoch the clock keeps).
    fn now(&self) -> u64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that moves only when told (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: u64) -> Self {
        ManualClock(AtomicU64::new(now))
    }

    /// Move the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_moves_only_when_told_and_system_is_unix_time() {
        let c = ManualClock::new(100);
        assert_eq!(c.now(), 100);
        c.advance(5);
        assert_eq!(c.now(), 105);
        // Past 2020-01-01: the wall clock, not a monotonic one.
        assert!(SystemClock.now() > 1_577_836_800);
    }
}
