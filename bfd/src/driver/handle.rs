//! [`Bfd`]: the agent's handle on the driver thread.

use std::fmt::Debug;
use std::hash::Hash;
use std::io;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::counters::Counters;
use super::runner::Runner;
use super::{BfdError, BfdEvent, DriverConfig, Drops, SessionSnapshot, SessionSpec};
use crate::session::Params;

/// What the handle asks of the driver thread.
#[derive(Debug)]
pub(crate) enum Command<K> {
    Add(SessionSpec<K>, oneshot::Sender<Result<(), BfdError>>),
    Remove(K, oneshot::Sender<Result<(), BfdError>>),
    SetParams(K, Params, oneshot::Sender<Result<(), BfdError>>),
    SetControlPlaneIndependent(bool, oneshot::Sender<()>),
    AdminDownAll(oneshot::Sender<usize>),
    Snapshot(oneshot::Sender<Vec<SessionSnapshot<K>>>),
    Stop(oneshot::Sender<()>),
}

/// A running BFD driver. Cloning gives another handle on the same thread; the thread stops
/// when [`Bfd::shutdown`] is called or the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Bfd<K> {
    commands: mpsc::UnboundedSender<Command<K>>,
    counters: Arc<Counters>,
    realtime: Result<(), String>,
}

impl<K> Bfd<K>
where
    K: Clone + Eq + Hash + Debug + Send + 'static,
{
    /// Spawns the driver's OS thread and its current-thread runtime. Its sockets belong to the
    /// network namespace of the calling thread. State changes arrive on the returned receiver
    /// (unbounded: the driver never waits for the agent; changes are rare).
    pub fn start(
        config: DriverConfig,
    ) -> io::Result<(Bfd<K>, mpsc::UnboundedReceiver<BfdEvent<K>>)> {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (events, event_rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let (ready, started) = std::sync::mpsc::channel();
        let priority = config.realtime_priority;
        let runner = Runner::new(config, events, counters.clone());
        std::thread::Builder::new()
            .name("lattice-bfd".into())
            .spawn(move || {
                let realtime = priority.map_or(Ok(()), realtime);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build();
                match rt {
                    Ok(rt) => {
                        let _ = ready.send(Ok(realtime));
                        rt.block_on(runner.run(command_rx));
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            })?;
        let realtime = started
            .recv()
            .map_err(|_| io::Error::other("the BFD thread died at start"))??;
        Ok((
            Bfd {
                commands,
                counters,
                realtime,
            },
            event_rx,
        ))
    }

    /// Whether the driver's thread runs under `SCHED_FIFO` as
    /// [`DriverConfig::realtime_priority`] asked, or why not (also `Ok` when not asked).
    pub fn realtime(&self) -> Result<(), String> {
        self.realtime.clone()
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command<K>,
    ) -> Result<T, BfdError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .map_err(|_| BfdError::Stopped)?;
        rx.await.map_err(|_| BfdError::Stopped)
    }

    /// Creates a session; it starts in Down and sends its first packet at once.
    pub async fn add_session(&self, spec: SessionSpec<K>) -> Result<(), BfdError> {
        self.ask(|tx| Command::Add(spec, tx)).await?
    }

    /// Removes a session after telling the peer AdminDown (so it does not count it a failure).
    pub async fn remove_session(&self, key: K) -> Result<(), BfdError> {
        self.ask(|tx| Command::Remove(key, tx)).await?
    }

    /// New intervals or multiplier: a Poll Sequence if the peer is known (RFC 5880 §6.8.3).
    pub async fn set_params(&self, key: K, params: Params) -> Result<(), BfdError> {
        self.ask(|tx| Command::SetParams(key, params, tx)).await?
    }

    /// Sets the C bit on every session, present and future (RFC 5880 §4.1, RFC 5882 §4.3).
    pub async fn set_control_plane_independent(&self, on: bool) -> Result<(), BfdError> {
        self.ask(|tx| Command::SetControlPlaneIndependent(on, tx))
            .await
    }

    /// Takes every session to AdminDown (diag 7) and returns once each has sent its AdminDown
    /// packet: for a graceful stop, after which peers see no failure. Returns how many.
    pub async fn admin_down_all(&self) -> Result<usize, BfdError> {
        self.ask(Command::AdminDownAll).await
    }

    /// Every session's state, negotiated intervals, detection time, last down reason, counters.
    pub async fn sessions(&self) -> Result<Vec<SessionSnapshot<K>>, BfdError> {
        self.ask(Command::Snapshot).await
    }

    /// One session's snapshot.
    pub async fn session(&self, key: &K) -> Result<Option<SessionSnapshot<K>>, BfdError> {
        Ok(self.sessions().await?.into_iter().find(|s| &s.key == key))
    }

    /// Datagrams dropped per reason, and accepted: read without involving the driver thread.
    pub fn drops(&self) -> Drops {
        self.counters.snapshot()
    }

    /// Stops the thread; its sockets are closed when this returns. Sessions just go silent:
    /// call [`Bfd::admin_down_all`] first for a graceful stop.
    pub async fn shutdown(self) {
        let _ = self.ask(Command::Stop).await;
    }
}

/// Puts the calling thread under `SCHED_FIFO` at `priority` (on Linux, pid 0 of
/// `sched_setscheduler` is the calling thread, not the process). nix has no wrapper for it.
#[allow(unsafe_code)]
fn realtime(priority: u8) -> Result<(), String> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority.clamp(1, 99)),
    };
    // SAFETY: a plain system call on the calling thread with a valid, initialised parameter.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "SCHED_FIFO {priority}: {} (needs CAP_SYS_NICE)",
            io::Error::last_os_error()
        ))
    }
}
