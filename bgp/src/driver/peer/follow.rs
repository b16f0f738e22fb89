//! An interface peer's side of its task: following the neighbour its discovery task publishes
//! (`driver/link/`), showing why it waits, and taking connections from that neighbour only.

use std::net::IpAddr;

use tokio::net::TcpStream;
use tracing::debug;

use super::PeerTask;
use crate::driver::link::Hint;
use crate::fsm::peer::Input;

impl PeerTask {
    /// The neighbour discovery's view changed: follow the neighbour (a new one, or none, takes
    /// the sessions with the old one down first) and show why the peer waits.
    pub(super) async fn on_link(&mut self) {
        let Some(link) = self.link.as_mut() else {
            return;
        };
        let view = link.view.borrow_and_update().clone();
        let neighbour = view.neighbour.map(|n| (IpAddr::V6(n.address), n.ifindex));
        self.show_link(&view);
        let current = self.remote.zip(self.ifindex);
        if neighbour == current {
            return;
        }
        if current.is_some() {
            let why = match (&view.waiting, neighbour) {
                (Some(w), _) => w.clone(),
                (None, Some((to, _))) => format!(
                    "the neighbour on {} is now {to}",
                    self.cfg.peer.interface().unwrap_or_default()
                ),
                (None, None) => "the neighbour is gone".into(),
            };
            self.process(Input::TransportDown(why)).await;
        }
        self.remote = neighbour.map(|n| n.0);
        self.ifindex = neighbour.map(|n| n.1);
        if neighbour.is_some() {
            self.process(Input::TransportUp).await;
        }
    }

    /// Show an interface peer's neighbour, or why it waits, in its status.
    pub(super) fn show_link(&self, view: &crate::neighbour::View) {
        self.shared.with_status(&self.cfg.peer, |e| {
            e.status.neighbour = view.neighbour.map(|n| n.address);
            e.status.neighbour_heard_by = view.neighbour.map(|n| n.heard_by.as_str().to_string());
            e.status.waiting.clone_from(&view.waiting);
        });
    }

    /// Whether to take an inbound connection: always for an address peer; for an interface
    /// peer, only from its neighbour. One from another address on the link is a hint for the
    /// neighbour choice (and is closed).
    pub(super) fn accepts(&self, stream: &TcpStream) -> bool {
        let Some(link) = &self.link else {
            return true;
        };
        let from = stream.peer_addr().ok().map(|a| a.ip());
        if from.is_some() && from == self.remote {
            return true;
        }
        if let Some(IpAddr::V6(source)) = from {
            link.hint(Hint::Connection(source));
        }
        debug!(peer = %self.cfg.peer, ?from, "connection from another than the neighbour closed");
        false
    }
}
