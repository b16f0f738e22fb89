//! `bgp.bfd` (the timers every peer's BFD session uses unless it sets its own) and
//! `bgp.peers[].bfd` (whether a peer has a BFD session, and its own timers).

use serde::Deserialize;

/// Shortest interval accepted (a user-space daemon on a shared CPU cannot honour less).
pub const MIN_INTERVAL_MS: u32 = 10;
/// Longest interval accepted (FRR's limit too).
pub const MAX_INTERVAL_MS: u32 = 60_000;

/// `bgp.bfd.*`: defaults for every peer's BFD session (RFC 5880 §6.8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BfdDefaults {
    /// `min_rx_ms` (default 300): the fastest we let the peer send (Required Min RX Interval).
    #[serde(default = "default_interval")]
    pub min_rx_ms: u32,
    /// `min_tx_ms` (default 300): how fast we would like to send once Up (Desired Min TX).
    #[serde(default = "default_interval")]
    pub min_tx_ms: u32,
    /// `multiplier` (default 3): packets missed before the peer declares us down.
    #[serde(default = "default_multiplier")]
    pub multiplier: u8,
}

impl Default for BfdDefaults {
    fn default() -> Self {
        BfdDefaults {
            min_rx_ms: default_interval(),
            min_tx_ms: default_interval(),
            multiplier: default_multiplier(),
        }
    }
}

/// `bgp.peers[].bfd.*`: the peer's BFD session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerBfdConfig {
    /// `enabled` (default false): run a BFD session with this peer; its fall takes the BGP
    /// session down at once (Cease/10, RFC 9384).
    #[serde(default)]
    pub enabled: bool,
    /// `min_rx_ms` (default `bgp.bfd.min_rx_ms`).
    #[serde(default)]
    pub min_rx_ms: Option<u32>,
    /// `min_tx_ms` (default `bgp.bfd.min_tx_ms`).
    #[serde(default)]
    pub min_tx_ms: Option<u32>,
    /// `multiplier` (default `bgp.bfd.multiplier`).
    #[serde(default)]
    pub multiplier: Option<u8>,
    /// `multihop` (default: decided from the kernel, single hop when the peer is on a
    /// connected prefix): force RFC 5883 multihop (`true`) or RFC 5881 single hop (`false`).
    #[serde(default)]
    pub multihop: Option<bool>,
}

/// A peer's BFD timers with the defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdTimers {
    /// Required Min RX Interval (ms).
    pub min_rx_ms: u32,
    /// Desired Min TX Interval once Up (ms).
    pub min_tx_ms: u32,
    /// Detect Mult.
    pub multiplier: u8,
}

impl PeerBfdConfig {
    /// The timers of an enabled session: the peer's own, else `bgp.bfd`'s.
    pub fn timers(&self, defaults: &BfdDefaults) -> Option<BfdTimers> {
        self.enabled.then(|| BfdTimers {
            min_rx_ms: self.min_rx_ms.unwrap_or(defaults.min_rx_ms),
            min_tx_ms: self.min_tx_ms.unwrap_or(defaults.min_tx_ms),
            multiplier: self.multiplier.unwrap_or(defaults.multiplier),
        })
    }
}

/// Checks `bgp.bfd` and every `bgp.peers[i].bfd`: (key path, message) of the first problem.
pub(super) fn check(bgp: &super::BgpConfig) -> Result<(), (String, String)> {
    let d = &bgp.bfd;
    check_timers(
        "bgp.bfd",
        Some(d.min_rx_ms),
        Some(d.min_tx_ms),
        Some(d.multiplier),
    )?;
    for (i, p) in bgp.peers.iter().enumerate() {
        let b = &p.bfd;
        check_timers(
            &format!("bgp.peers[{i}].bfd"),
            b.min_rx_ms,
            b.min_tx_ms,
            b.multiplier,
        )?;
    }
    Ok(())
}

fn check_timers(
    at: &str,
    min_rx_ms: Option<u32>,
    min_tx_ms: Option<u32>,
    multiplier: Option<u8>,
) -> Result<(), (String, String)> {
    for (key, value) in [("min_rx_ms", min_rx_ms), ("min_tx_ms", min_tx_ms)] {
        if value.is_some_and(|v| !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&v)) {
            return Err((
                format!("{at}.{key}"),
                format!("must be between {MIN_INTERVAL_MS} and {MAX_INTERVAL_MS} milliseconds"),
            ));
        }
    }
    if multiplier == Some(0) {
        return Err((
            format!("{at}.multiplier"),
            "must be between 1 and 255".into(),
        ));
    }
    Ok(())
}

fn default_interval() -> u32 {
    300
}
fn default_multiplier() -> u8 {
    3
}
