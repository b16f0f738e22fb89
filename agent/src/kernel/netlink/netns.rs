//! Running code inside another network namespace.
//!
//! A netlink socket belongs to the namespace of the thread that created it, and /proc/sys/net
//! shows the namespace of the thread that opens it. So namespace-bound work runs on a fresh OS
//! thread that `setns`es first and then exits: tokio's worker and blocking-pool threads are never
//! moved to another namespace.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use nix::sched::{setns, CloneFlags};

use crate::kernel::{KernelError, KernelResult};

/// Opens a namespace file (`/run/netns/x`, `/proc/PID/ns/net`).
pub(super) fn open(path: &Path) -> KernelResult<File> {
    File::open(path).map_err(|e| KernelError::from_io(format!("netns {}", path.display()), e))
}

/// Runs `f` on a new thread that first joins the namespace `netns`; awaits its result.
pub(super) async fn run_in<T, F>(netns: Arc<File>, what: String, f: F) -> KernelResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = move || {
        let result = setns(&*netns, CloneFlags::CLONE_NEWNET)
            .map_err(io::Error::from)
            .and_then(|()| f());
        // The receiver is gone only if the caller was cancelled; nothing to report then.
        let _ = tx.send(result);
    };
    std::thread::Builder::new()
        .name("lattice-netns".into())
        .spawn(job)
        .map_err(|e| KernelError::from_io(format!("{what}: spawn netns thread"), e))?;
    match rx.await {
        Ok(result) => result.map_err(|e| KernelError::from_io(what, e)),
        Err(_) => Err(KernelError::Io {
            op: what,
            source: io::Error::other("netns thread ended without a result"),
        }),
    }
}

/// Creates an rtnetlink connection inside `netns` and spawns its driver on the current runtime.
pub(super) async fn connect_in(netns: Arc<File>, what: String) -> KernelResult<rtnetlink::Handle> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| KernelError::Invalid(format!("{what}: no tokio runtime: {e}")))?;
    let rt = runtime.clone();
    let (conn, handle) = run_in(netns, what, move || {
        // The socket registers with the runtime's reactor, so enter it on this thread.
        let _guard = rt.enter();
        let (conn, handle, _) = rtnetlink::new_connection()?;
        Ok((conn, handle))
    })
    .await?;
    runtime.spawn(conn);
    Ok(handle)
}
