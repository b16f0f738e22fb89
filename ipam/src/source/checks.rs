//! Checks every datastore makes on block sizes and configured blocks; errors name the config key.

use ipnet::IpNet;

use crate::IpamError;

/// `len` must lie between `range`'s own length and the family's maximum.
pub(super) fn check_len(range: IpNet, len: u8, key: &'static str) -> Result<(), IpamError> {
    if len < range.prefix_len() || len > range.max_prefix_len() {
        return Err(bad(
            key,
            format!(
                "must be between the cluster prefix length /{} and /{}",
                range.prefix_len(),
                range.max_prefix_len()
            ),
        ));
    }
    Ok(())
}

/// `block` must be a network address, a `/len`, and inside `range`.
pub(super) fn check_block(
    block: IpNet,
    range: IpNet,
    len: u8,
    key: &'static str,
) -> Result<(), IpamError> {
    if block.addr() != block.network() {
        return Err(bad(
            key,
            format!(
                "{block} has host bits set (did you mean {}?)",
                block.trunc()
            ),
        ));
    }
    if block.prefix_len() != len {
        return Err(bad(
            key,
            format!("{block} is not a /{len} (the cluster's block size)"),
        ));
    }
    if !range.trunc().contains(&block) {
        return Err(bad(
            key,
            format!("{block} is not inside the cluster range {}", range.trunc()),
        ));
    }
    Ok(())
}

/// A [`IpamError::BadConfig`] for `field`.
pub(super) fn bad(field: &'static str, message: String) -> IpamError {
    IpamError::BadConfig { field, message }
}
