//! The namespace an attach targets, checked before an address is taken: it must be a network
//! namespace, not latticed's own (CNI_NETNS=/proc/self/ns/net would put a container's `eth0`,
//! /32 and default route into the host), and not steal an attachment that lives in another one.
//! What a path is, the kernel says ([`crate::kernel::Kernel::classify_netns`]).

use std::path::Path;

use super::shared::AgentHandler;
use crate::kernel::NetnsKind;

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
        let kind = self
            .kernel
            .classify_netns(netns)
            .await
            .map_err(|e| format!("netns {shown}: {e}"))?;
        let target = match kind {
            NetnsKind::Network(id) => id,
            NetnsKind::NotNamespace => {
                return Err(format!(
                    "netns {shown} is not a network namespace (expected a file such as /run/netns/NAME or /proc/PID/ns/net)"
                ))
            }
            NetnsKind::OtherNamespace => {
                return Err(format!(
                    "netns {shown} is a namespace but not a network namespace"
                ))
            }
            NetnsKind::Own => {
                return Err(format!(
                    "netns {shown} is latticed's own network namespace (the host's): a container is never wired there"
                ))
            }
        };
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
        let elsewhere = matches!(
            self.kernel.classify_netns(&recorded).await,
            Ok(NetnsKind::Network(other)) if other != target
        );
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
