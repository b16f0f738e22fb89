//! The thin driver of an interface peer's [`Discovery`]: it polls the interface every second,
//! reads and writes ICMPv6 on it, feeds the machine and publishes its [`View`] to the peer's
//! task. Every decision (whom to peer with, when to advertise or probe) is the machine's.

mod interface;
mod socket;

pub(crate) use interface::{holding, name_of};

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::neighbour::{icmpv6, Discovery, Input, Send, View};
use socket::IcmpSocket;

/// How often the interface is looked at.
const POLL: Duration = Duration::from_secs(1);

/// What the peer's task tells the link task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hint {
    /// A connection came from this link-local address on the interface.
    Connection(std::net::Ipv6Addr),
    /// The peer's session is (not) Established.
    Established(bool),
}

/// The peer task's end of its link task; the task stops when this is dropped.
#[derive(Debug)]
pub(super) struct LinkHandle {
    /// The machine's current view.
    pub view: watch::Receiver<View>,
    hints: mpsc::Sender<Hint>,
    task: JoinHandle<()>,
}

impl LinkHandle {
    /// Start discovering the neighbour on `interface`.
    pub fn spawn(interface: &str) -> LinkHandle {
        let machine = Discovery::new(interface);
        let (view_tx, view) = watch::channel(machine.view());
        let (hints, hints_rx) = mpsc::channel(16);
        let task = tokio::spawn(run(interface.to_string(), machine, view_tx, hints_rx));
        LinkHandle { view, hints, task }
    }

    /// Tell the link task something (dropped if it is busy: the next one will do).
    pub fn hint(&self, hint: Hint) {
        let _ = self.hints.try_send(hint);
    }
}

impl Drop for LinkHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The task's state.
struct Link {
    name: String,
    machine: Discovery,
    view: watch::Sender<View>,
    socket: Option<IcmpSocket>,
    /// Why the socket could not be opened, said once per reason.
    socket_error: Option<String>,
}

async fn run(
    name: String,
    machine: Discovery,
    view: watch::Sender<View>,
    mut hints: mpsc::Receiver<Hint>,
) {
    let mut link = Link {
        name,
        machine,
        view,
        socket: None,
        socket_error: None,
    };
    let mut next_poll = Instant::now();
    loop {
        let deadline = link
            .machine
            .next_deadline()
            .map_or(next_poll, |d| Instant::from_std(d).min(next_poll));
        let input = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                if Instant::now() >= next_poll {
                    next_poll = Instant::now() + POLL;
                    let state = tokio::task::spawn_blocking({
                        let name = link.name.clone();
                        move || interface::state(&name)
                    })
                    .await
                    .unwrap_or(None);
                    link.keep_socket(state.filter(|s| s.up).map(|s| s.ifindex));
                    Input::Link(state)
                } else {
                    Input::Tick
                }
            }
            received = receive(link.socket.as_ref()) => match received {
                Ok(r) => match icmpv6::parse(&r.bytes) {
                    Ok(message) => Input::Received {
                        source: r.source,
                        hop_limit: r.hop_limit,
                        message,
                    },
                    Err(e) => {
                        debug!(interface = %link.name, source = %r.source, error = %e,
                            "malformed ICMPv6 ignored");
                        continue;
                    }
                },
                Err(e) => {
                    warn!(interface = %link.name, error = %e, "ICMPv6 socket failed; reopening");
                    link.socket = None;
                    continue;
                }
            },
            hint = hints.recv() => match hint {
                Some(Hint::Connection(source)) => Input::Connection(source),
                Some(Hint::Established(up)) => Input::Established(up),
                None => return,
            },
        };
        let sends = link.machine.process(Instant::now().into_std(), input);
        link.send(&sends);
        let mut now = link.machine.view();
        if let (Some(w), Some(e)) = (now.waiting.as_mut(), &link.socket_error) {
            w.push_str(&format!(" (no ICMPv6 socket: {e})"));
        }
        link.view.send_if_modified(|v| {
            if *v == now {
                return false;
            }
            match (&now.neighbour, &now.waiting) {
                (Some(n), _) => info!(interface = %link.name, neighbour = %n.address,
                    heard_by = n.heard_by.as_str(), "interface peer's neighbour"),
                (None, Some(why)) => info!(interface = %link.name, waiting = %why,
                    "interface peer waiting"),
                (None, None) => {}
            }
            *v = now.clone();
            true
        });
    }
}

/// The next message on `socket`, or never without one.
async fn receive(socket: Option<&IcmpSocket>) -> std::io::Result<socket::Received> {
    match socket {
        Some(s) => s.receive().await,
        None => std::future::pending().await,
    }
}

impl Link {
    /// Have a socket on interface `ifindex` while it is up (a recreated interface gets a new
    /// one); none while it is down or gone.
    fn keep_socket(&mut self, ifindex: Option<u32>) {
        let Some(ifindex) = ifindex else {
            self.socket = None;
            return;
        };
        if self.socket.as_ref().is_some_and(|s| s.ifindex() == ifindex) {
            return;
        }
        match IcmpSocket::open(&self.name, ifindex) {
            Ok(s) => {
                self.socket = Some(s);
                self.socket_error = None;
            }
            Err(e) => {
                let why = e.to_string();
                if self.socket_error.as_deref() != Some(why.as_str()) {
                    warn!(interface = %self.name, error = %why,
                        "no ICMPv6 socket (CAP_NET_RAW?): the neighbour can only be learned \
                         from a connection it opens");
                }
                self.socket = None;
                self.socket_error = Some(why);
            }
        }
    }

    fn send(&self, sends: &[Send]) {
        let Some(socket) = &self.socket else { return };
        for s in sends {
            if let Err(e) = socket.send(s.to, &s.message) {
                debug!(interface = %self.name, to = %s.to, error = %e, "ICMPv6 send failed");
            }
        }
    }
}
