//! Notifications from inside container namespaces, for wirings whose container side can break
//! without the host noticing (an ipvlan slave deleted in the container: the host namespace
//! keeps its host slave, parent and routes, and sends no notification at all).
//!
//! One subscription per watched container namespace; any link, address or route change there
//! (our own route additions excepted) wakes the reconciler, which then probes and rewires. The
//! subscription's socket keeps the namespace alive while held, so a container is unwatched as
//! soon as it is detached or found gone.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tracing::warn;

use crate::dataplane::{AttachSpec, ContainerKey, DesiredState, RTPROT_LATTICE};
use crate::kernel::Kernel;

/// The watched container namespaces and the signal their changes raise.
#[derive(Debug, Default)]
pub(super) struct ContainerWatch {
    changed: Arc<Notify>,
    tasks: Mutex<HashMap<ContainerKey, AbortHandle>>,
}

impl ContainerWatch {
    /// Starts watching the namespace of `spec` (once; a live watch is kept). Failing to
    /// subscribe is not fatal: the periodic resync still probes the container.
    pub(super) async fn watch(&self, host: &dyn Kernel, key: &ContainerKey, spec: &AttachSpec) {
        if self.tasks().get(key).is_some_and(|t| !t.is_finished()) {
            return;
        }
        let events = match host.netns(&spec.netns).await {
            Ok(ctr) => ctr.subscribe(&[RTPROT_LATTICE]).await,
            Err(e) => Err(e),
        };
        let mut events = match events {
            Ok(rx) => rx,
            Err(e) => {
                warn!(container = %key.0, error = %e, "no notifications from the container's namespace: relying on periodic resync");
                return;
            }
        };
        let changed = Arc::clone(&self.changed);
        let task = tokio::spawn(async move {
            while events.recv().await.is_some() {
                changed.notify_one();
            }
        });
        if let Some(old) = self.tasks().insert(key.clone(), task.abort_handle()) {
            old.abort();
        }
    }

    /// Stops watching a container (detached or gone).
    pub(super) fn unwatch(&self, key: &ContainerKey) {
        if let Some(task) = self.tasks().remove(key) {
            task.abort();
        }
    }

    /// Resolves once something changed in a watched namespace since the last call.
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }

    fn tasks(&self) -> MutexGuard<'_, HashMap<ContainerKey, AbortHandle>> {
        // A poisoned map only means a panic elsewhere mid-insert; the map itself is fine.
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for ContainerWatch {
    fn drop(&mut self) {
        for task in self.tasks().values() {
            task.abort();
        }
    }
}

/// The containers whose own interface is missing or down (only wirings that need the check are
/// probed). A probe that fails for another reason counts as fine until the next resync.
pub(super) async fn sides_down(
    host: &dyn Kernel,
    desired: &DesiredState,
) -> BTreeSet<ContainerKey> {
    let mut down = BTreeSet::new();
    if !desired.wiring.probes_container_side() {
        return down;
    }
    for (key, spec) in &desired.containers {
        match desired.wiring.container_side_ok(host, spec).await {
            Ok(true) => {}
            Ok(false) => {
                down.insert(key.clone());
            }
            Err(e) => warn!(container = %key.0, error = %e, "probing the container's interface"),
        }
    }
    down
}

#[cfg(test)]
#[path = "container_watch_tests.rs"]
mod tests;
