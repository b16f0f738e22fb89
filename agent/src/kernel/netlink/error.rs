//! Maps rtnetlink errors onto [`KernelError`]; the kernel's errno decides the variant.

use nix::errno::Errno;

use crate::kernel::KernelError;

/// Turns a failed request `op` about `what` into a [`KernelError`].
pub(super) fn map(op: &'static str, what: impl Into<String>, err: rtnetlink::Error) -> KernelError {
    let what = what.into();
    let rtnetlink::Error::NetlinkError(msg) = err else {
        return KernelError::Netlink {
            op,
            message: format!("{what}: {err}"),
        };
    };
    // Netlink carries a negative errno.
    let errno = msg.code.map(|c| Errno::from_raw(c.get().saturating_neg()));
    match errno {
        Some(Errno::ENODEV | Errno::ESRCH | Errno::ENOENT) => KernelError::NotFound { what },
        Some(Errno::EEXIST) => KernelError::Exists { what },
        _ => KernelError::Netlink {
            op,
            message: format!("{what}: {}", msg.to_io()),
        },
    }
}
