//! Sysctls under /proc/sys/net, read and written from inside the kernel's namespace.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use crate::kernel::{validate_sysctl_key, KernelResult};

use super::netns;

fn path(key: &str) -> PathBuf {
    PathBuf::from("/proc/sys").join(key)
}

/// Writes `value` to the sysctl `key` as seen from namespace `ns`.
pub(super) async fn write(ns: Arc<File>, key: &str, value: &str) -> KernelResult<()> {
    validate_sysctl_key(key)?;
    let (p, v) = (path(key), value.to_string());
    netns::run_in(ns, format!("write sysctl {key}"), move || {
        std::fs::write(p, v)
    })
    .await
}

/// Reads the sysctl `key` as seen from namespace `ns`, trimmed.
pub(super) async fn read(ns: Arc<File>, key: &str) -> KernelResult<String> {
    validate_sysctl_key(key)?;
    let p = path(key);
    let text = netns::run_in(ns, format!("read sysctl {key}"), move || {
        std::fs::read_to_string(p)
    })
    .await?;
    Ok(text.trim().to_string())
}
