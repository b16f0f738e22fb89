//! The reconciler's event loop: learned-route batches, kernel notifications (debounced, an
//! overrun at once; while learned batches keep coming, after the burst), notifications from container namespaces, the periodic resync and the end
//! of adoption, all as inputs to one [`Reconciler`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::{Reconciler, Timing};
use crate::dataplane::{LearnedRoute, RTPROT_LATTICE};
use crate::kernel::{KernelEvent, RTPROT_BGP};
use crate::metrics::Metrics;

impl Reconciler {
    /// True if a notification means the kernel may have drifted from the desired state.
    pub(super) async fn relevant(&self, event: &KernelEvent) -> bool {
        match event {
            KernelEvent::Overrun | KernelEvent::Link { .. } | KernelEvent::Address { .. } => true,
            KernelEvent::Route {
                destination,
                protocol,
                deleted,
            } => {
                let mut inner = self.state.lock().await;
                let ours = *protocol == RTPROT_LATTICE || *protocol == RTPROT_BGP;
                if *deleted && ours {
                    if inner.own_deletes.remove(destination) {
                        return false;
                    }
                    // A route of ours is gone: drift only if we still want it. The echo of a
                    // deletion of ours that outlived `own_deletes`' bound (a full table
                    // withdrawn: the echoes lag by more than its size) is not, and taking it
                    // for drift made every such echo a full resync of the whole table.
                    return if *protocol == RTPROT_BGP {
                        inner.desired.learned.wants(*destination)
                    } else {
                        inner.desired.owns(*destination)
                    };
                }
                // Our own installs echo back as NEWROUTE with our protocol: not drift.
                !ours && inner.desired.owns(*destination)
            }
        }
    }

    /// Stops pruning nothing: from now on learned routes nobody announces are removed.
    pub async fn end_adoption(&self) {
        self.state.lock().await.desired.prune_learned = true;
    }

    /// Runs until `learned` closes: initial adoption, learned batches, event-driven and periodic
    /// resyncs.
    pub async fn run(
        self: Arc<Self>,
        mut learned: mpsc::Receiver<Vec<LearnedRoute>>,
        timing: Timing,
    ) {
        // Our own installs echo back as additions with our protocols: never drift.
        let mut events = match self.kernel.subscribe(&[RTPROT_LATTICE, RTPROT_BGP]).await {
            Ok(rx) => Some(rx),
            Err(e) => {
                warn!(error = %e, "no netlink notifications: relying on periodic resync");
                None
            }
        };
        self.watch_recorded().await;
        if let Err(e) = self.resync().await {
            warn!(error = %e, "initial resync");
        }
        let mut periodic = Instant::now() + timing.resync;
        let mut adopt_end = Some(Instant::now() + timing.adopt_window);
        let mut pending: Option<Instant> = None;
        // When the last batch of learned routes was applied: while batches keep coming (a
        // full table learned or withdrawn), a resync waits for the burst to end. The burst's
        // own deletions overrun the notification socket again and again, and a resync of the
        // whole table each time made a 1M-route withdrawal take minutes; the periodic resync
        // still bounds how long drift can wait.
        let mut last_batch: Option<Instant> = None;
        loop {
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                batch = learned.recv() => match batch {
                    Some(batch) => {
                        self.apply_learned(&batch).await;
                        last_batch = Some(Instant::now());
                    }
                    None => return,
                },
                event = next_event(&mut events) => match event {
                    Some(event) => {
                        if self.relevant(&event).await {
                            debug!(?event, "kernel drift suspected");
                            let at = if event == KernelEvent::Overrun {
                                warn!("netlink notifications lost (kernel ENOBUFS, or latticed fell behind): full resync now");
                                self.report(Metrics::netlink_resync);
                                Instant::now()
                            } else {
                                Instant::now() + timing.debounce
                            };
                            pending = Some(pending.map_or(at, |p| p.min(at)));
                        }
                    }
                    None => {
                        warn!("netlink notifications ended: relying on periodic resync");
                        events = None;
                    }
                },
                () = self.watch.changed() => {
                    let at = Instant::now() + timing.debounce;
                    pending = Some(pending.map_or(at, |p| p.min(at)));
                }
                _ = tokio::time::sleep_until(pending.unwrap_or(far)), if pending.is_some() => {
                    match last_batch.map(|t| t + timing.debounce) {
                        Some(quiet) if quiet > Instant::now() => pending = Some(quiet),
                        _ => {
                            pending = None;
                            self.resync_logged().await;
                        }
                    }
                }
                _ = tokio::time::sleep_until(periodic) => {
                    periodic = Instant::now() + timing.resync;
                    pending = None;
                    self.resync_logged().await;
                }
                _ = tokio::time::sleep_until(adopt_end.unwrap_or(far)), if adopt_end.is_some() => {
                    adopt_end = None;
                    self.end_adoption().await;
                    self.resync_logged().await;
                }
            }
        }
    }

    /// Watches the namespaces of the containers recorded by a previous run.
    async fn watch_recorded(&self) {
        let inner = self.state.lock().await;
        if inner.desired.wiring.probes_container_side() {
            for (key, spec) in &inner.desired.containers {
                self.watch.watch(self.kernel.as_ref(), key, spec).await;
            }
        }
    }

    async fn resync_logged(&self) {
        if let Err(e) = self.resync().await {
            self.report(Metrics::reconcile_error);
            warn!(error = %e, "resync failed; retrying at the next one");
        }
    }
}

async fn next_event(events: &mut Option<crate::kernel::EventReceiver>) -> Option<KernelEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
