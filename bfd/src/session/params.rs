//! A session's configured timers, and the jitter the transmit timer draws from.

use std::time::Duration;

/// Smallest interval we accept: a user-space daemon on a shared CPU cannot honour less.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// Largest interval we accept (FRR's limit too).
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// What the operator asks for (RFC 5880 §6.8.1 `bfd.DesiredMinTxInterval`,
/// `bfd.RequiredMinRxInterval`, `bfd.DetectMult`), valid by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Params {
    desired_min_tx_us: u32,
    required_min_rx_us: u32,
    detect_mult: u8,
}

/// Parameters outside what we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// An interval outside 10 ms ..= 60 s.
    #[error("{name} {value:?} is outside 10 ms ..= 60 s")]
    Interval {
        /// Which interval.
        name: &'static str,
        /// The value given.
        value: Duration,
    },
    /// A multiplier of 0.
    #[error("the detection multiplier must be at least 1")]
    ZeroMultiplier,
}

impl Params {
    /// Validated parameters: intervals in 10 ms ..= 60 s, multiplier 1 ..= 255.
    pub fn new(
        desired_min_tx: Duration,
        required_min_rx: Duration,
        detect_mult: u8,
    ) -> Result<Params, ParamsError> {
        let us = |name, value: Duration| {
            if (MIN_INTERVAL..=MAX_INTERVAL).contains(&value) {
                u32::try_from(value.as_micros()).map_err(|_| ParamsError::Interval { name, value })
            } else {
                Err(ParamsError::Interval { name, value })
            }
        };
        if detect_mult == 0 {
            return Err(ParamsError::ZeroMultiplier);
        }
        Ok(Params {
            desired_min_tx_us: us("desired min tx", desired_min_tx)?,
            required_min_rx_us: us("required min rx", required_min_rx)?,
            detect_mult,
        })
    }

    /// [`Params::new`] from milliseconds, the unit of Lattice's configuration.
    pub fn from_millis(
        min_tx_ms: u64,
        min_rx_ms: u64,
        multiplier: u8,
    ) -> Result<Params, ParamsError> {
        Params::new(
            Duration::from_millis(min_tx_ms),
            Duration::from_millis(min_rx_ms),
            multiplier,
        )
    }

    /// Desired Min TX Interval once Up.
    pub fn desired_min_tx(&self) -> Duration {
        Duration::from_micros(u64::from(self.desired_min_tx_us))
    }

    /// Required Min RX Interval.
    pub fn required_min_rx(&self) -> Duration {
        Duration::from_micros(u64::from(self.required_min_rx_us))
    }

    /// Detect Mult.
    pub fn detect_mult(&self) -> u8 {
        self.detect_mult
    }

    pub(crate) fn tx_us(&self) -> u32 {
        self.desired_min_tx_us
    }

    pub(crate) fn rx_us(&self) -> u32 {
        self.required_min_rx_us
    }
}

impl Default for Params {
    /// 300 ms both ways, multiplier 3: FRR's defaults and Lattice's `bgp.bfd` defaults.
    fn default() -> Self {
        Params {
            desired_min_tx_us: 300_000,
            required_min_rx_us: 300_000,
            detect_mult: 3,
        }
    }
}

/// The per-packet reduction of the transmit interval (RFC 5880 §6.8.7): "reduced by a random
/// value of 0 to 25%", and to 75-90 % of it when our Detect Mult is 1. Injected so tests are
/// exact; the driver seeds one per session.
#[derive(Debug, Clone)]
pub struct Jitter {
    /// xorshift64* state; `None` always takes the smallest reduction allowed.
    state: Option<u64>,
}

impl Jitter {
    /// A pseudo-random sequence from `seed` (any value, 0 included).
    pub fn from_seed(seed: u64) -> Jitter {
        Jitter {
            state: Some(seed | 1),
        }
    }

    /// No randomness: 100 % of the interval (90 % when Detect Mult is 1). For tests.
    pub fn none() -> Jitter {
        Jitter { state: None }
    }

    /// `interval_us` reduced for one packet, given our Detect Mult.
    pub(crate) fn apply(&mut self, interval_us: u32, detect_mult: u8) -> u64 {
        // Reduction in per-mille: 0..=250, or 100..=250 with a multiplier of 1.
        let floor: u64 = if detect_mult == 1 { 100 } else { 0 };
        let draw = self.state.as_mut().map_or(0, |s| {
            *s ^= *s >> 12;
            *s ^= *s << 25;
            *s ^= *s >> 27;
            s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33
        });
        let reduction = floor + draw % (251 - floor);
        u64::from(interval_us) * (1000 - reduction) / 1000
    }
}
