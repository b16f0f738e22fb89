//! A new configuration for a running peer whose session part did not change: its import and
//! export are applied to the session as it runs, with no reset.

use tracing::info;

use super::PeerTask;
use crate::driver::config::PeerConfig;

/// How a changed import was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportApplied {
    /// The import did not change.
    Unchanged,
    /// The peer was asked to send its routes again (ROUTE-REFRESH, RFC 2918): they go through
    /// the new import as they arrive.
    RouteRefresh,
    /// The peer cannot be asked (no ROUTE-REFRESH): the routes it sent, kept as received, went
    /// through the new import again.
    KeptAdjRibIn,
    /// No session: the next one imports with the new configuration.
    NotEstablished,
}

/// What applying a new configuration to a running peer took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerUpdate {
    /// The import.
    pub import: ImportApplied,
    /// Whether what the peer is sent changed in the configuration.
    pub export_changed: bool,
    /// UPDATE messages that took to the peer (0 without a session).
    pub updates_sent: u64,
}

impl PeerUpdate {
    /// Nothing changed.
    pub const UNCHANGED: PeerUpdate = PeerUpdate {
        import: ImportApplied::Unchanged,
        export_changed: false,
        updates_sent: 0,
    };
}

impl PeerTask {
    /// Take `new` (whose session part is this one's): send the export's difference, and take
    /// the import again by route refresh, or from the kept Adj-RIB-In.
    pub(super) async fn reconfigure(&mut self, new: PeerConfig) -> PeerUpdate {
        let import_changed = self.cfg.import_differs(&new);
        let export_changed = self.cfg.export_differs(&new);
        self.cfg = new;
        let established = self.machine.established();
        let updates_sent = if export_changed {
            self.readvertise(true).await
        } else {
            0
        };
        let import = match (import_changed, established) {
            (false, _) => ImportApplied::Unchanged,
            (true, None) => ImportApplied::NotEstablished,
            (true, Some((_, n))) if n.route_refresh => {
                self.request_refresh().await;
                ImportApplied::RouteRefresh
            }
            (true, Some(_)) => {
                if self.reimport_kept() {
                    ImportApplied::KeptAdjRibIn
                } else {
                    ImportApplied::NotEstablished
                }
            }
        };
        info!(peer = %self.cfg.peer, ?import, export_changed, updates_sent,
            "configuration applied to the running session");
        PeerUpdate {
            import,
            export_changed,
            updates_sent,
        }
    }
}
