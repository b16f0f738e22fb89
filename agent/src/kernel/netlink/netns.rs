//! Running code inside another network namespace.
//!
//! A netlink socket belongs to the namespace of the thread that created it, and /proc/sys/net
//! shows the namespace of the thread that opens it. So namespace-bound work runs on a fresh OS
//! thread that `setns`es first and then exits: tokio's worker and blocking-pool threads are never
//! moved to another namespace.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::statfs::{statfs, NSFS_MAGIC};

use crate::kernel::{KernelError, KernelResult, NetnsId, NetnsKind};

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

/// What `path` is, seen from the kernel acting in `own` ([`crate::kernel::Kernel::classify_netns`]).
pub(super) async fn classify(own: &File, path: &Path) -> KernelResult<NetnsKind> {
    // nsfs, checked without opening the file (a FIFO or a device would block or act).
    if !statfs(path).is_ok_and(|fs| fs.filesystem_type() == NSFS_MAGIC) {
        return Ok(NetnsKind::NotNamespace);
    }
    let shown = path.display();
    let id = std::fs::metadata(path)
        .map(|m| NetnsId {
            dev: m.dev(),
            ino: m.ino(),
        })
        .map_err(|e| KernelError::from_io(format!("netns {shown}"), e))?;
    let own_id = own
        .metadata()
        .map(|m| NetnsId {
            dev: m.dev(),
            ino: m.ino(),
        })
        .map_err(|e| KernelError::from_io("own netns".to_string(), e))?;
    if id == own_id {
        return Ok(NetnsKind::Own);
    }
    if !is_network_namespace(path).await? {
        return Ok(NetnsKind::OtherNamespace);
    }
    Ok(NetnsKind::Network(id))
}

/// Joins the namespace on a throwaway thread: the kernel refuses (EINVAL) any namespace file
/// that is not a network namespace. Nothing else runs on that thread, and it ends right after.
async fn is_network_namespace(path: &Path) -> KernelResult<bool> {
    let what = format!("probing netns {}", path.display());
    let file = open(path)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("lattice-nsprobe".into())
        .spawn(move || {
            let _ = tx.send(setns(&file, CloneFlags::CLONE_NEWNET));
        })
        .map_err(|e| KernelError::from_io(what.clone(), e))?;
    match rx.await {
        Ok(Ok(())) => Ok(true),
        Ok(Err(Errno::EINVAL)) => Ok(false),
        Ok(Err(e)) => Err(KernelError::from_io(what, io::Error::from(e))),
        Err(_) => Err(KernelError::Io {
            op: what,
            source: io::Error::other("the probe thread ended without a result"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn namespace_files_are_told_apart() {
        let own = File::open("/proc/self/ns/net").unwrap_or_else(|e| panic!("{e}"));
        let kind = |p: &'static str| {
            let own = own.try_clone().unwrap_or_else(|e| panic!("{e}"));
            async move { classify(&own, Path::new(p)).await }
        };
        assert_eq!(
            kind("/etc/hostname").await.ok(),
            Some(NetnsKind::NotNamespace)
        );
        assert_eq!(kind("/").await.ok(), Some(NetnsKind::NotNamespace));
        assert_eq!(
            kind("/nonexistent").await.ok(),
            Some(NetnsKind::NotNamespace)
        );
        assert_eq!(kind("/proc/self/ns/net").await.ok(), Some(NetnsKind::Own));
        // Joining needs CAP_SYS_ADMIN; without it the probe is an error, never a yes.
        if nix::unistd::geteuid().is_root() {
            assert_eq!(
                kind("/proc/self/ns/uts").await.ok(),
                Some(NetnsKind::OtherNamespace)
            );
        }
    }
}
