//! When a peer tries again: the connect-retry back-off with jitter (RFC 4271 §10), and the
//! hold-down after a maximum-prefix teardown (RFC 4486 Cease/1).

use std::time::{Duration, Instant};

/// Connect-retry doubles after each failed attempt, up to this many times...
const MAX_BACKOFF_DOUBLINGS: u32 = 5;
/// ...and to no more than this (unless connect_retry itself is longer).
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long a session closed for too many prefixes stays down before it is retried.
pub const MAX_PREFIX_HOLD_DOWN: Duration = Duration::from_secs(30);

/// A peer's retry state.
#[derive(Debug, Clone)]
pub(super) struct Retry {
    /// Attempts that failed since the last Established session.
    failures: u32,
    /// Per-peer xorshift state for the jitter.
    rng: u64,
    /// The next automatic start waits this long instead (after a max-prefix teardown).
    hold_down: Option<Duration>,
    /// Until then, inbound connections are refused too.
    held_down_until: Option<Instant>,
}

impl Retry {
    /// No failures yet; `seed` makes this peer's jitter its own.
    pub fn new(seed: u64) -> Self {
        Self {
            failures: 0,
            rng: seed,
            hold_down: None,
            held_down_until: None,
        }
    }

    /// An attempt failed: the next wait doubles.
    pub fn failed(&mut self) {
        self.failures = self.failures.saturating_add(1);
    }

    /// A session came up: back to the configured wait.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// The session is being closed for too many prefixes: hold the next start down.
    pub fn hold_down(&mut self) {
        self.hold_down = Some(MAX_PREFIX_HOLD_DOWN);
    }

    /// Whether inbound connections are refused at `now`.
    pub fn held_down(&self, now: Instant) -> bool {
        self.held_down_until.is_some_and(|t| now < t)
    }

    /// The wait before the next automatic start after the session fell at `now`, and whether
    /// it is a hold-down (which no inbound connection shortens).
    pub fn next_start(&mut self, now: Instant, base: Duration) -> (Duration, bool) {
        match self.hold_down.take() {
            Some(d) => {
                self.held_down_until = Some(now + d);
                (d, true)
            }
            None => (self.delay(base), false),
        }
    }

    /// The connect-retry wait after the failures so far: doubled each time (like BIRD's error
    /// wait time), so an absent peer is not hammered; jittered (RFC 4271 §10).
    pub fn delay(&mut self, base: Duration) -> Duration {
        let doublings = self.failures.min(MAX_BACKOFF_DOUBLINGS);
        let cap = MAX_BACKOFF.max(base);
        self.jitter(base.saturating_mul(1 << doublings).min(cap))
    }

    /// 75-100% of `d` (RFC 4271 §10 jitter), from the per-peer xorshift.
    fn jitter(&mut self, d: Duration) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let fraction = 0.75 + 0.25 * ((self.rng % 1000) as f64 / 1000.0);
        d.mul_f64(fraction)
    }
}
