//! The namespace an attach targets, checked before an address is taken: it must be a network
//! namespace, not latticed's own (CNI_NETNS=/proc/self/ns/net would put a container's `eth0`,
//! /32 and default route into the host), and not steal an attachment that lives in another one.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::statfs::{statfs, NSFS_MAGIC};

use super::shared::AgentHandler;

/// The namespace latticed itself runs in (its host side).
const OWN_NETNS: &str = "/proc/self/ns/net";

/// A namespace file's identity: (device, inode), equal for every path to one namespace.
fn identity(path: &Path) -> std::io::Result<(u64, u64)> {
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

/// Joins the namespace on a throwaway thread: the kernel refuses (EINVAL) any namespace file
/// that is not a network namespace. Nothing else runs on that thread, and it ends right after.
async fn is_network_namespace(path: &Path) -> Result<bool, String> {
    let file = File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("lattice-nsprobe".into())
        .spawn(move || {
            let _ = tx.send(setns(&file, CloneFlags::CLONE_NEWNET));
        })
        .map_err(|e| format!("probing {}: {e}", path.display()))?;
    match rx.await {
        Ok(Ok(())) => Ok(true),
        Ok(Err(Errno::EINVAL)) => Ok(false),
        Ok(Err(e)) => Err(format!("probing {}: {e}", path.display())),
        Err(_) => Err(format!("probing {}: the probe thread died", path.display())),
    }
}

/// Whether `path` is a live namespace file (nsfs), without opening it.
fn is_namespace_file(path: &Path) -> bool {
    statfs(path).is_ok_and(|fs| fs.filesystem_type() == NSFS_MAGIC)
}

impl AgentHandler {
    /// Refuses (with a message for a `bad_request` error) a target that is not a network
    /// namespace, is latticed's own, or when `container_id`/`ifname` is already wired into
    /// another namespace that still exists: two runtimes on one host using one container id
    /// must not take each other's address. A retry of the same ADD (same namespace) passes.
    pub(super) async fn check_target(
        &self,
        container_id: &str,
        ifname: &str,
        netns: &Path,
    ) -> Result<(), String> {
        let shown = netns.display();
        if !netns.is_absolute() {
            return Err(format!("netns {shown:?} must be an absolute path"));
        }
        if !is_namespace_file(netns) {
            return Err(format!(
                "netns {shown} is not a network namespace (expected a file such as /run/netns/NAME or /proc/PID/ns/net)"
            ));
        }
        let target = identity(netns).map_err(|e| format!("netns {shown}: {e}"))?;
        if identity(Path::new(OWN_NETNS)).is_ok_and(|own| own == target) {
            return Err(format!(
                "netns {shown} is latticed's own network namespace (the host's): a container is never wired there"
            ));
        }
        if !is_network_namespace(netns).await? {
            return Err(format!(
                "netns {shown} is a namespace but not a network namespace"
            ));
        }
        let key = (container_id.to_string(), ifname.to_string());
        let recorded = match self.netns.lock().await.get(&key).cloned() {
            Some(p) => Some(p),
            None => self
                .dataplane
                .attachments()
                .await
                .into_iter()
                .find(|s| s.container_id == container_id && s.ifname == ifname)
                .map(|s| s.netns),
        };
        let Some(recorded) = recorded else {
            return Ok(());
        };
        let elsewhere =
            is_namespace_file(&recorded) && identity(&recorded).is_ok_and(|other| other != target);
        if elsewhere {
            return Err(format!(
                "{container_id}/{ifname} is already attached in {}, which still exists; \
                 a second runtime using the same container id cannot take its address (delete it there first)",
                recorded.display()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_network_namespace_files_are_network_namespaces() {
        assert!(is_namespace_file(Path::new("/proc/self/ns/net")));
        assert!(is_namespace_file(Path::new("/proc/self/ns/uts")));
        assert!(!is_namespace_file(Path::new("/etc/hostname")));
        assert!(!is_namespace_file(Path::new("/")));
        assert!(!is_namespace_file(Path::new("/nonexistent")));
        // Joining needs CAP_SYS_ADMIN; without it the probe is an error, never a yes.
        if nix::unistd::geteuid().is_root() {
            assert_eq!(
                is_network_namespace(Path::new("/proc/self/ns/net")).await,
                Ok(true)
            );
            assert_eq!(
                is_network_namespace(Path::new("/proc/self/ns/uts")).await,
                Ok(false)
            );
        }
    }
}
