//! From the running configuration and a new one to the speaker commands that apply only the
//! difference (pure). Peers are matched by address; what a changed key takes is the table's
//! (`keys.rs`).

use std::collections::BTreeMap;

use bgp::driver::PeerConfig as Running;
use bgp::PeerKey;

use super::keys::{changed_peer_keys, restart_required, Effect};
use crate::config::{Config, PeerConfig};
use crate::daemon::peer_configs;

/// A peer whose configuration changed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerChange {
    /// Its new configuration, as the speaker runs it.
    pub config: Running,
    /// The keys (and policies) that changed, for the operator.
    pub what: Vec<String>,
}

/// What a reload does, peer by peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Peers no longer configured: Cease/3.
    pub removed: Vec<PeerKey>,
    /// Peers whose session changed: Cease/6 and a new session.
    pub reset: Vec<PeerChange>,
    /// Peers whose import or export changed: applied to the running session.
    pub live: Vec<PeerChange>,
    /// New peers.
    pub added: Vec<Running>,
    /// Peers left exactly as they are.
    pub unchanged: usize,
}

impl Plan {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty()
            && self.reset.is_empty()
            && self.live.is_empty()
            && self.added.is_empty()
    }
}

/// The plan taking the speaker from `running` (what it runs now, per peer; `old` is the
/// configuration that made it) to `new`. Keys that need a restart are refused by name, and
/// nothing is planned then.
pub fn plan(
    old: &Config,
    new: &Config,
    running: &BTreeMap<PeerKey, Running>,
) -> Result<Plan, Vec<&'static str>> {
    let restart = restart_required(old, new);
    if !restart.is_empty() {
        return Err(restart);
    }
    let old_entries: BTreeMap<PeerKey, &PeerConfig> =
        old.bgp.peers.iter().map(|p| (identity(p), p)).collect();
    let mut plan = Plan::default();
    let wanted: Vec<(PeerKey, &PeerConfig, Running)> = new
        .bgp
        .peers
        .iter()
        .zip(peer_configs(new))
        .map(|(p, r)| (identity(p), p, r))
        .collect();
    for key in running.keys() {
        if !wanted.iter().any(|(k, _, _)| k == key) {
            plan.removed.push(key.clone());
        }
    }
    for (key, entry, config) in wanted {
        let Some(now) = running.get(&key) else {
            plan.added.push(config);
            continue;
        };
        if *now == config {
            plan.unchanged += 1;
            continue;
        }
        let Some(before) = old_entries.get(&key) else {
            // Running, but not from the old file (cannot happen): start it afresh.
            plan.reset.push(PeerChange {
                config,
                what: vec!["configuration".into()],
            });
            continue;
        };
        let keys = changed_peer_keys(before, entry);
        let mut what: Vec<String> = keys.iter().map(|(k, _)| (*k).to_string()).collect();
        // The same policy name with a new definition.
        for (name, name_before, was, is) in [
            (
                entry.import.as_ref().and_then(|i| i.policy()),
                before.import.as_ref().and_then(|i| i.policy()),
                &now.import_policy,
                &config.import_policy,
            ),
            (
                entry.export.policy(),
                before.export.policy(),
                &now.export_policy,
                &config.export_policy,
            ),
        ] {
            if let (Some(name), true) = (name, name == name_before && was != is) {
                let key = format!("bgp.policies.{name}");
                if !what.contains(&key) {
                    what.push(key);
                }
            }
        }
        if what.is_empty() {
            // The running configuration differs from the file's for no key: a command that
            // failed before. Apply it again, as a reset: it is what the file says.
            what.push("configuration".into());
            plan.reset.push(PeerChange { config, what });
        } else if keys.iter().any(|(_, e)| *e == Effect::Reset) {
            plan.reset.push(PeerChange { config, what });
        } else {
            plan.live.push(PeerChange { config, what });
        }
    }
    Ok(plan)
}

/// Who a `bgp.peers` entry is.
pub fn identity(p: &PeerConfig) -> PeerKey {
    p.address.into()
}
