//! From the running configuration and a new one to the speaker commands that apply only the
//! difference (pure). Peers are matched by their key (`address`, or `interface` for an
//! interface peer); an entry whose key changed in place (the same position in `bgp.peers` and
//! the same `asn`, neither its old nor its new key another entry's) is that peer reset, not one
//! removed and another added. What a changed key takes is the table's (`keys.rs`).

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
    /// The key it ran under, when its `address` or `interface` changed in place.
    pub was: Option<PeerKey>,
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
    let rekeyed = rekeyed(old, new, running);
    for key in running.keys() {
        if !wanted.iter().any(|(k, _, _)| k == key) && !rekeyed.contains_key(key) {
            plan.removed.push(key.clone());
        }
    }
    for (key, entry, config) in wanted {
        if let Some((was, (before, _))) = rekeyed.iter().find(|(_, (_, to))| *to == key) {
            let what = changed_peer_keys(before, entry)
                .into_iter()
                .map(|(k, _)| k.to_string())
                .collect();
            plan.reset.push(PeerChange {
                config,
                was: Some(was.clone()),
                what,
            });
            continue;
        }
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
                was: None,
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
            plan.reset.push(PeerChange {
                config,
                was: None,
                what,
            });
        } else if keys.iter().any(|(_, e)| *e == Effect::Reset) {
            plan.reset.push(PeerChange {
                config,
                was: None,
                what,
            });
        } else {
            plan.live.push(PeerChange {
                config,
                was: None,
                what,
            });
        }
    }
    Ok(plan)
}

/// Who a `bgp.peers` entry is: its address, or its interface.
pub fn identity(p: &PeerConfig) -> PeerKey {
    p.key()
}

/// Entries whose key changed in place: at the same position of `bgp.peers` in both files and
/// with the same `asn` (the same neighbour, reached at another address or interface), a
/// running peer whose key no entry of `new` has, and a key no entry of `old` had. Keyed by the
/// old key: the old entry and the new key.
fn rekeyed<'a>(
    old: &'a Config,
    new: &Config,
    running: &BTreeMap<PeerKey, Running>,
) -> BTreeMap<PeerKey, (&'a PeerConfig, PeerKey)> {
    let old_keys: Vec<PeerKey> = old.bgp.peers.iter().map(identity).collect();
    let new_keys: Vec<PeerKey> = new.bgp.peers.iter().map(identity).collect();
    old.bgp
        .peers
        .iter()
        .zip(&new.bgp.peers)
        .zip(old_keys.iter().zip(&new_keys))
        .filter(|((before, after), (was, is))| {
            was != is
                && before.asn == after.asn
                && running.contains_key(*was)
                && !running.contains_key(*is)
                && !new_keys.contains(was)
                && !old_keys.contains(is)
        })
        .map(|((entry, _), (was, is))| (was.clone(), (entry, is.clone())))
        .collect()
}
