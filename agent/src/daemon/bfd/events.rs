//! Each BFD state change: the speaker told first (a fall from Up is a path failure, RFC 5882
//! §3.2: the BGP session goes down with Cease/10 at once), then one log line, then the view.

use std::sync::Arc;

use bfd::driver::BfdEvent;
use bfd::packet::State;
use bgp::driver::{BfdSignal, PeerKey};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::BfdSupervisor;

/// Runs until the driver stops (its event channel closes).
pub(super) async fn run(
    supervisor: Arc<BfdSupervisor>,
    mut events: mpsc::UnboundedReceiver<BfdEvent<PeerKey>>,
) {
    while let Some(e) = events.recv().await {
        let c = e.change;
        let signal = if c.is_path_failure() {
            Some(BfdSignal::Down {
                remote_control_plane_independent: c.remote_control_plane_independent,
            })
        } else if c.to == State::Up {
            Some(BfdSignal::Up)
        } else {
            None
        };
        if let Some(signal) = signal {
            if let Err(err) = supervisor.speaker.bfd(&e.key, signal).await {
                // The peer was removed meanwhile: nothing to tell.
                tracing::debug!(peer = %e.key, error = %err, "BFD change for a peer that is gone");
            }
        }
        let (peer, from, to) = (&e.key, c.from, c.to);
        if c.is_path_failure() {
            warn!(%peer, %from, %to, diag = %c.diag, remote_diag = %c.remote_diag,
                remote_c_bit = c.remote_control_plane_independent,
                "BFD session down: BGP session closed (Cease/10) and held down until BFD is up");
        } else if c.from == State::Up || (c.from == State::Init && c.to == State::Down) {
            warn!(%peer, %from, %to, diag = %c.diag, remote_diag = %c.remote_diag,
                remote_admin_down = c.remote_admin_down, "BFD session down");
        } else {
            info!(%peer, %from, %to, diag = %c.diag, "BFD session {}", to.as_str());
        }
        supervisor.refresh().await;
    }
}
