//! A peer's clocks: the next deadline of any timer, expiring them, and the connect-retry
//! back-off with jitter.

use std::time::Duration;

use tokio::time::Instant;

use super::{PeerTask, Which};
use crate::fsm::{Input, Timer};

/// Connect-retry doubles after each failed attempt, up to this many times...
const MAX_BACKOFF_DOUBLINGS: u32 = 5;
/// ...and to no more than this (unless connect_retry itself is longer).
const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl PeerTask {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let slots = std::iter::once(&self.primary).chain(self.candidate.as_ref());
        slots
            .flat_map(|s| s.timers.values().copied())
            .chain(self.restart_at)
            .chain(self.gr_restart_deadline)
            .chain(self.gr_stale_deadline)
            .chain(self.loser_deadline())
            .min()
    }

    pub(super) async fn on_timers(&mut self) {
        let now = Instant::now();
        self.gr_timers(now);
        if self.loser_deadline().is_some_and(|t| t <= now) {
            self.release_loser(true).await;
        }
        if self.restart_at.is_some_and(|t| t <= now) {
            self.restart_at = None;
            // AutomaticStart after a session went down (RFC 4271 §8.1.1 Event 3).
            self.feed(Which::Primary, Input::ManualStart).await;
        }
        for which in [Which::Primary, Which::Candidate] {
            let expired: Vec<Timer> = match self.slot(which) {
                Some(s) => s
                    .timers
                    .iter()
                    .filter(|(_, t)| **t <= now)
                    .map(|(k, _)| *k)
                    .collect(),
                None => continue,
            };
            for timer in expired {
                if let Some(s) = self.slot_mut(which) {
                    s.timers.remove(&timer);
                }
                self.feed(which, Input::TimerExpired(timer)).await;
            }
        }
    }

    /// The connect-retry wait after `self.failures` failed attempts: doubled each time (like
    /// BIRD's error wait time), so an absent peer is not hammered; jittered (RFC 4271 §10).
    pub(super) fn retry_delay(&mut self, base: Duration) -> Duration {
        let doublings = self.failures.min(MAX_BACKOFF_DOUBLINGS);
        let cap = MAX_BACKOFF.max(base);
        self.jitter(base.saturating_mul(1 << doublings).min(cap))
    }

    /// 75-100% of `d` (RFC 4271 §10 jitter), from a per-peer xorshift.
    fn jitter(&mut self, d: Duration) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let fraction = 0.75 + 0.25 * ((self.rng % 1000) as f64 / 1000.0);
        d.mul_f64(fraction)
    }
}

pub(super) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
