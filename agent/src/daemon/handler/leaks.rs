//! Leaked attachments: addresses whose container is gone but whose DEL never came (a container
//! removed without one, a runtime that crashed, a DEL sent while latticed was down and never
//! retried). containerd 1.6 and 1.7 never send CNI GC, so without this such an address stays
//! allocated for ever (the leak Calico users know from its IPAM).
//!
//! An attachment is orphaned when the namespace it was wired into is no longer a namespace
//! (deleted, or an unmounted leftover file), or, for a routed veth whose namespace latticed never
//! learnt (records lost), when its host veth is gone: the kernel deletes a veth pair with its
//! namespace. One orphaned for `ipam.leak_grace_period` is unwired and released, logged once and
//! counted. The grace period leaves a slow runtime time to send its own DEL.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipam::AllocationKey;
use prometheus::IntCounter;
use tracing::{debug, warn};

use super::shared::AgentHandler;
use crate::dataplane;
use api::proto::DOCKER_ID_PREFIX;

/// When each orphaned attachment was first seen orphaned (sans-IO: time is passed in).
#[derive(Debug, Default)]
pub(in crate::daemon) struct LeakClock {
    since: HashMap<AllocationKey, u64>,
    /// Releases that failed once (logged once, retried every pass).
    failed: HashSet<AllocationKey>,
}

impl LeakClock {
    /// Records the attachments orphaned `now` and returns those orphaned for at least `grace`
    /// seconds; one no longer orphaned (a DEL came, or it was never gone) starts over.
    pub(in crate::daemon) fn due(
        &mut self,
        now: u64,
        grace: u64,
        orphans: Vec<AllocationKey>,
    ) -> Vec<AllocationKey> {
        let mut since = HashMap::with_capacity(orphans.len());
        let mut due = Vec::new();
        for key in orphans {
            let first = self.since.get(&key).copied().unwrap_or(now);
            if now.saturating_sub(first) >= grace {
                due.push(key.clone());
            }
            since.insert(key, first);
        }
        self.failed.retain(|k| since.contains_key(k));
        self.since = since;
        due
    }

    /// Whether this failure is the first for `key` (so it is logged once).
    fn first_failure(&mut self, key: &AllocationKey) -> bool {
        self.failed.insert(key.clone())
    }
}

/// How often the reaper looks: a tenth of the grace period, between 1 s and 60 s.
pub(in crate::daemon) fn period(grace_secs: u64) -> std::time::Duration {
    std::time::Duration::from_secs((grace_secs / 10).clamp(1, 60))
}

/// Runs the reaper for ever (the daemon aborts it at shutdown).
pub(in crate::daemon) async fn reap_forever(
    handler: Arc<AgentHandler>,
    grace_secs: u64,
    released: IntCounter,
) {
    let mut clock = LeakClock::default();
    loop {
        tokio::time::sleep(period(grace_secs)).await;
        handler.reap_leaks(&mut clock, grace_secs, &released).await;
    }
}

/// Whether `path` no longer holds a namespace: missing, or a file that is not on nsfs (the
/// runtime unmounted it). An error that says neither (permissions) counts as alive.
fn namespace_gone(path: &Path) -> bool {
    use nix::sys::statfs::{statfs, NSFS_MAGIC};
    match statfs(path) {
        Ok(fs) => fs.filesystem_type() != NSFS_MAGIC,
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => true,
        Err(_) => false,
    }
}

impl AgentHandler {
    /// One pass: find the orphaned attachments, release those orphaned for the grace period.
    pub(in crate::daemon) async fn reap_leaks(
        &self,
        clock: &mut LeakClock,
        grace_secs: u64,
        released: &IntCounter,
    ) {
        let keys: Vec<AllocationKey> = {
            let ipam = self.ipam.lock().await;
            let wiring = self.wiring();
            ipam.ipam()
                .allocations()
                .into_iter()
                .map(|a| a.key)
                .filter(|k| !k.container_id.starts_with(DOCKER_ID_PREFIX) && !wiring.contains(k))
                .collect()
        };
        let paths = self.known_namespaces().await;
        let mut orphans = Vec::new();
        for key in keys {
            if self.orphaned(&key, &paths).await {
                orphans.push(key);
            }
        }
        if !orphans.is_empty() {
            debug!(
                count = orphans.len(),
                "attachments whose container namespace is gone"
            );
        }
        for key in clock.due(self.now(), grace_secs, orphans) {
            match self.release_leak(&key, grace_secs).await {
                Ok(true) => released.inc(),
                Ok(false) => {}
                Err(e) if clock.first_failure(&key) => {
                    warn!(container = %key.container_id, ifname = %key.ifname, error = %e, "releasing a leaked attachment failed; retrying every pass");
                }
                Err(_) => {}
            }
        }
    }

    /// The namespace of every attachment latticed knows one for: wired since start, or recorded
    /// by the reconciler (kept across restarts).
    async fn known_namespaces(&self) -> HashMap<(String, String), PathBuf> {
        let mut paths: HashMap<(String, String), PathBuf> = self
            .dataplane
            .attachments()
            .await
            .into_iter()
            .map(|s| ((s.container_id, s.ifname), s.netns))
            .collect();
        paths.extend(
            self.netns
                .lock()
                .await
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        paths
    }

    async fn orphaned(
        &self,
        key: &AllocationKey,
        paths: &HashMap<(String, String), PathBuf>,
    ) -> bool {
        if let Some(path) = paths.get(&(key.container_id.clone(), key.ifname.clone())) {
            return namespace_gone(path);
        }
        // No namespace on record: only a routed veth can still be judged, by its host end (an
        // ipvlan slave leaves no trace on the host).
        if self.dataplane.wiring().await.probes_container_side() {
            return false;
        }
        let veth = dataplane::host_ifname(&key.container_id, &key.ifname);
        matches!(self.kernel.link_by_name(&veth).await, Err(e) if e.is_not_found())
    }

    /// Unwires and releases one leaked attachment if it is still orphaned (checked again under
    /// the IPAM lock, so a concurrent ADD of the same key wins). Ok(true) when released.
    async fn release_leak(&self, key: &AllocationKey, grace_secs: u64) -> Result<bool, String> {
        let mut ipam = self.ipam.lock().await;
        if self.wiring().contains(key) || ipam.ipam().get(key).is_none() {
            return Ok(false);
        }
        let paths = self.known_namespaces().await;
        if !self.orphaned(key, &paths).await {
            return Ok(false);
        }
        let netns = paths.get(&(key.container_id.clone(), key.ifname.clone()));
        self.dataplane
            .detach(&key.container_id, &key.ifname)
            .await
            .map_err(|e| e.to_string())?;
        let released = ipam.release(key, self.now()).map_err(|e| e.to_string())?;
        self.netns
            .lock()
            .await
            .remove(&(key.container_id.clone(), key.ifname.clone()));
        self.publish_usage(ipam.ipam());
        if let Some(a) = released {
            warn!(
                container = %key.container_id,
                ifname = %key.ifname,
                address = %a.v4,
                address_v6 = ?a.v6,
                netns = ?netns,
                grace_secs,
                "released a leaked attachment: its container namespace is gone and no DEL came within ipam.leak_grace_period"
            );
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: &str) -> AllocationKey {
        AllocationKey::new(c, "eth0")
    }

    #[test]
    fn due_only_after_the_grace_period_and_reset_when_no_longer_orphaned() {
        let mut clock = LeakClock::default();
        assert!(clock.due(100, 30, vec![key("a")]).is_empty());
        assert!(clock.due(110, 30, vec![key("a"), key("b")]).is_empty());
        assert_eq!(clock.due(130, 30, vec![key("a"), key("b")]), vec![key("a")]);
        // b came back (its DEL's retry re-attached it, say): its clock starts over.
        assert!(clock.due(135, 30, vec![key("a")]).len() == 1);
        assert!(clock.due(140, 30, vec![key("b")]).is_empty());
        assert!(clock.due(169, 30, vec![key("b")]).is_empty());
        assert_eq!(clock.due(170, 30, vec![key("b")]), vec![key("b")]);
    }

    #[test]
    fn a_zero_grace_period_releases_at_once_and_time_going_back_does_not_underflow() {
        let mut clock = LeakClock::default();
        assert_eq!(clock.due(5, 0, vec![key("a")]), vec![key("a")]);
        let mut clock = LeakClock::default();
        assert!(clock.due(100, 30, vec![key("a")]).is_empty());
        assert!(clock.due(50, 30, vec![key("a")]).is_empty());
    }

    #[test]
    fn failures_are_logged_once_until_the_attachment_leaves() {
        let mut clock = LeakClock::default();
        clock.due(0, 0, vec![key("a")]);
        assert!(clock.first_failure(&key("a")));
        assert!(!clock.first_failure(&key("a")));
        clock.due(1, 0, vec![]);
        assert!(clock.first_failure(&key("a")));
    }

    #[test]
    fn a_namespace_file_is_alive_and_anything_else_is_gone() {
        assert!(!namespace_gone(Path::new("/proc/self/ns/net")));
        assert!(namespace_gone(Path::new("/nonexistent/netns")));
        assert!(namespace_gone(Path::new("/etc/hostname")));
        assert!(namespace_gone(Path::new("/etc/hostname/x")));
    }

    #[test]
    fn the_period_is_a_tenth_of_the_grace_between_1_and_60_s() {
        assert_eq!(period(3).as_secs(), 1);
        assert_eq!(period(300).as_secs(), 30);
        assert_eq!(period(3600).as_secs(), 60);
    }
}
