//! What the peer tasks, the listener and the agent's handle share: the RIB, every peer's
//! status, where inbound connections go, and the signal that wakes the RIB's consumer.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Notify};

use super::status::PeerStatus;
use crate::fsm::GrOptions;
use crate::rib::Rib;
use crate::PeerKey;

/// State shared by the peer tasks. Every lock is held for in-memory work only.
#[derive(Debug)]
pub(super) struct Shared {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    pub graceful_restart: Option<GrOptions>,
    pub hostname: Option<String>,
    /// Our CLUSTER_ID when we reflect routes (RFC 4456).
    pub cluster_id: Option<Ipv4Addr>,
    pub rib: Mutex<Rib>,
    pub status: Mutex<HashMap<PeerKey, PeerEntry>>,
    /// Where the listener hands each peer's inbound connections.
    pub inbound: Mutex<HashMap<PeerKey, mpsc::Sender<TcpStream>>>,
    pub signal: ChangeSignal,
    /// The head of the RIB's reflection log, for the peers that are sent reflected routes.
    pub reflected: watch::Sender<u64>,
    /// The Shutdown Communication (RFC 9003) the speaker's stop sends, if any.
    pub shutdown_message: Mutex<Option<String>>,
}

/// A peer's status and when it became Established.
#[derive(Debug, Clone)]
pub(super) struct PeerEntry {
    pub status: PeerStatus,
    /// The peer's key in the RIB.
    pub rib_id: crate::rib::PeerId,
    pub since: Option<std::time::Instant>,
    /// Prefixes the peer announced that the import policy refused: (IPv4, IPv6).
    pub refused: (u64, u64),
}

impl Shared {
    /// The reflection log moved on to `head` (read under the RIB lock): wake the peers.
    pub fn reflected_to(&self, head: Option<u64>) {
        if let Some(head) = head {
            self.reflected.send_if_modified(|seen| {
                let moved = *seen != head;
                *seen = head;
                moved
            });
        }
    }

    /// The Shutdown Communication to send as the speaker stops.
    pub fn shutdown_communication(&self) -> Option<String> {
        self.shutdown_message.lock().ok().and_then(|m| m.clone())
    }

    /// Run `f` on `peer`'s status entry, if it has one.
    pub fn with_status(&self, peer: &PeerKey, f: impl FnOnce(&mut PeerEntry)) {
        if let Ok(mut status) = self.status.lock() {
            if let Some(e) = status.get_mut(peer) {
                f(e);
            }
        }
    }
}

/// What the peer tasks use to wake the consumer of Loc-RIB changes.
#[derive(Debug, Default)]
pub(super) struct ChangeSignal {
    notify: Notify,
    stopped: AtomicBool,
}

impl ChangeSignal {
    /// The RIB has new changes.
    pub fn changed(&self) {
        self.notify.notify_one();
    }

    /// The speaker stopped: the consumer ends once it has taken everything.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Whether the speaker stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Wait for the next [`ChangeSignal::changed`] or [`ChangeSignal::stop`].
    pub async fn wait(&self) {
        self.notify.notified().await;
    }
}
