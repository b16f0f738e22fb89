//! [`Driver`]: the remote driver's state (networks, endpoints and their store) over a
//! [`Backend`]. Its calls live in the modules above it: `network` (NetworkDriver),
//! `ipam_calls` (IpamDriver), and `dispatch` routes a request path to them. No HTTP here.

use tokio::sync::Mutex;

use super::backend::Backend;
use super::endpoints::{EndpointStore, Saved};

/// The NetworkDriver and IpamDriver of the remote-driver protocol.
pub struct Driver {
    pub(super) backend: Box<dyn Backend>,
    /// Where each call's duration goes (`lattice_request_duration_seconds{interface="docker"}`).
    pub(super) metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    /// Networks, pools, endpoints and address pairing, kept in `store` across restarts.
    pub(super) state: Mutex<Saved>,
    pub(super) store: EndpointStore,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

impl Driver {
    /// A driver over `backend`.
    pub fn new(backend: Box<dyn Backend>) -> Self {
        Self {
            backend,
            metrics: None,
            state: Mutex::new(Saved::default()),
            store: EndpointStore::default(),
        }
    }

    /// Keep the endpoints in `store`, starting from the ones it holds (a restart).
    pub fn with_store(mut self, store: EndpointStore) -> Self {
        self.state = Mutex::new(store.load());
        self.store = store;
        self
    }

    /// Time every call into `metrics`.
    pub fn with_metrics(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }
}
