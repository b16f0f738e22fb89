//! The speaker's listening socket: TCP MD5 keys per peer (set before `listen()` for the peers
//! configured at start, added and removed with peers later), and the accept loop that hands
//! each inbound connection to its peer's task.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::config::PeerConfig;
use super::md5;
use super::password::Password;
use super::shared::Shared;
use crate::PeerKey;

/// The bound, listening socket.
#[derive(Debug, Clone)]
pub(super) struct Listener {
    socket: Arc<TcpListener>,
    v6: bool,
    /// [`Listener::close`] was called: the accept loop ends quietly.
    closed: Arc<AtomicBool>,
}

impl Listener {
    /// Bind and listen on `addr`, with each password-protected peer's key installed before
    /// `listen()`, so no unsigned SYN from such a peer is ever accepted.
    pub fn bind(addr: SocketAddr, peers: &[PeerConfig]) -> std::io::Result<Self> {
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        // As TcpListener::bind does: a restarted speaker must not wait for TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        for peer in peers {
            if let Some((address, password)) = keyed(addr.is_ipv6(), peer) {
                md5::set_key(&socket, address, password.expose()).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("TCP MD5 key for peer {} on the listener: {e}", peer.peer),
                    )
                })?;
            }
        }
        Ok(Self {
            socket: Arc::new(socket.listen(1024)?),
            v6: addr.is_ipv6(),
            closed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Install the key of a peer added after start. The peer's inbound connections are not
    /// routed to it before this returns, so none of them arrives unsigned.
    pub fn add_key(&self, peer: &PeerConfig) -> std::io::Result<()> {
        match keyed(self.v6, peer) {
            Some((address, password)) => md5::set_key(&*self.socket, address, password.expose()),
            None => Ok(()),
        }
    }

    /// Remove a removed peer's key.
    pub fn remove_key(&self, peer: &PeerConfig) -> std::io::Result<()> {
        match keyed(self.v6, peer) {
            Some((address, _)) => md5::del_key(&*self.socket, address),
            None => Ok(()),
        }
    }

    /// Stop listening now, however many holders the socket still has: `shutdown(2)` on a
    /// listening socket makes the kernel reset the connections not yet accepted and refuse
    /// new ones.
    ///
    /// The speaker does this before it closes its sessions. A peer that reconnects the moment
    /// its session closes (OpenBGPD, a graceful-restart helper, does) must be refused, not
    /// handed a handshake that our exit then resets: OpenBGPD 7.7 then sends its OPEN twice on
    /// its next connection, the restarted speaker answers that with the FSM error RFC 4271
    /// asks for, and the NOTIFICATION ends the graceful restart with the routes flushed.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Err(e) =
            nix::sys::socket::shutdown(self.socket.as_raw_fd(), nix::sys::socket::Shutdown::Read)
        {
            warn!(error = %e, "closing the BGP listener");
        }
    }

    /// Accept until `stop` (or [`Listener::close`]), handing each connection to its peer's task.
    pub fn spawn_accept(&self, shared: Arc<Shared>, stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(accept_loop(
            self.socket.clone(),
            self.closed.clone(),
            shared,
            stop,
        ))
    }
}

/// The address and key a peer has on a listener of this family, if it has one. An IPv6 peer
/// cannot reach an IPv4 listener: there is nothing to key for it there.
fn keyed(v6_listener: bool, peer: &PeerConfig) -> Option<(IpAddr, &Password)> {
    // An interface peer's address is learned: it has no key on the listener.
    let address = peer.peer.address()?;
    let reachable = v6_listener || address.to_canonical().is_ipv4();
    peer.password
        .as_ref()
        .filter(|_| reachable)
        .map(|p| (address, p))
}

/// Whose connection this is: a link-local source belongs to the interface peer of the
/// interface it arrived on, any other to the peer of that address.
fn peer_of(from: SocketAddr) -> Option<PeerKey> {
    match from {
        SocketAddr::V6(a) if a.ip().is_unicast_link_local() => {
            super::link::name_of(a.scope_id()).map(PeerKey::Interface)
        }
        SocketAddr::V6(a) => Some(PeerKey::Address(
            a.ip()
                .to_ipv4_mapped()
                .map_or(IpAddr::V6(*a.ip()), IpAddr::V4),
        )),
        SocketAddr::V4(a) => Some(PeerKey::Address(IpAddr::V4(*a.ip()))),
    }
}

/// Hand inbound connections to their peer's task; refuse unknown sources.
async fn accept_loop(
    listener: Arc<TcpListener>,
    closed: Arc<AtomicBool>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, from)) => {
                    let Some(key) = peer_of(from) else {
                        debug!(%from, "connection from a link-local address on an unknown interface refused");
                        continue;
                    };
                    let to = shared
                        .inbound
                        .lock()
                        .ok()
                        .and_then(|peers| peers.get(&key).cloned());
                    match to {
                        Some(tx) => {
                            if tx.try_send(stream).is_err() {
                                debug!(%from, "peer task busy: inbound connection dropped");
                            }
                        }
                        None => debug!(%from, "connection from an unconfigured address refused"),
                    }
                }
                Err(_) if closed.load(Ordering::SeqCst) => return,
                Err(e) => {
                    warn!(error = %e, "BGP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}
