//! Address arithmetic shared by both families: an address is its block plus an offset (u128).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Offsets and sizes of a prefix, for IPv4 and IPv6 alike.
pub trait IpNetExt {
    /// Number of addresses (saturating at `u128::MAX` for `::/0`).
    fn size(&self) -> u128;
    /// The offset of the last address.
    fn last_offset(&self) -> u128;
    /// The address `offset` past the network address (callers keep it below the size).
    fn at(&self, offset: u128) -> IpAddr;
}

impl IpNetExt for IpNet {
    fn size(&self) -> u128 {
        let bits = host_bits(*self);
        1u128.checked_shl(bits).unwrap_or(u128::MAX)
    }

    fn last_offset(&self) -> u128 {
        let bits = host_bits(*self);
        1u128.checked_shl(bits).map_or(u128::MAX, |s| s - 1)
    }

    fn at(&self, offset: u128) -> IpAddr {
        match self {
            IpNet::V4(n) => {
                let base = u32::from(n.network());
                // Offsets come from the block's own range, so they fit in 32 bits.
                let off = u32::try_from(offset).unwrap_or(u32::MAX);
                IpAddr::V4(Ipv4Addr::from(base.wrapping_add(off)))
            }
            IpNet::V6(n) => {
                IpAddr::V6(Ipv6Addr::from(u128::from(n.network()).wrapping_add(offset)))
            }
        }
    }
}

fn host_bits(n: IpNet) -> u32 {
    u32::from(n.max_prefix_len()).saturating_sub(u32::from(n.prefix_len()))
}

/// `address`'s offset inside `block`, if it is inside.
pub fn offset_of(block: IpNet, address: IpAddr) -> Option<u128> {
    if !block.contains(&address) {
        return None;
    }
    match (block, address) {
        (IpNet::V4(n), IpAddr::V4(a)) => Some(u128::from(u32::from(a) - u32::from(n.network()))),
        (IpNet::V6(n), IpAddr::V6(a)) => Some(u128::from(a) - u128::from(n.network())),
        _ => None,
    }
}

/// The `index`-th subnet of length `len` inside `range`, computed without walking.
pub fn nth_subnet(range: IpNet, len: u8, index: u128) -> Option<IpNet> {
    if len < range.prefix_len() || len > range.max_prefix_len() {
        return None;
    }
    let count_bits = u32::from(len - range.prefix_len());
    if count_bits < 128 && index >= (1u128 << count_bits) {
        return None;
    }
    let host = u32::from(range.max_prefix_len() - len);
    let step = 1u128.checked_shl(host)?;
    let offset = index.checked_mul(step)?;
    match range.trunc() {
        IpNet::V4(n) => {
            let base = u32::from(n.network());
            let off = u32::try_from(offset).ok()?;
            Ipv4Net::new(Ipv4Addr::from(base.checked_add(off)?), len)
                .ok()
                .map(IpNet::V4)
        }
        IpNet::V6(n) => {
            let base = u128::from(n.network());
            Ipv6Net::new(Ipv6Addr::from(base.checked_add(offset)?), len)
                .ok()
                .map(IpNet::V6)
        }
    }
}

/// How many subnets of length `len` fit in `range` (saturating).
pub fn subnet_count(range: IpNet, len: u8) -> u128 {
    let bits = u32::from(len.saturating_sub(range.prefix_len()));
    1u128.checked_shl(bits).unwrap_or(u128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn nth_subnet_matches_ipnet_subnets() {
        let r = net("10.244.0.0/16");
        let walked: Vec<_> = r.subnets(24).unwrap().collect();
        for (i, w) in walked.iter().enumerate() {
            assert_eq!(nth_subnet(r, 24, i as u128), Some(*w));
        }
        assert_eq!(nth_subnet(r, 24, 256), None);
        assert_eq!(nth_subnet(r, 8, 0), None);
        assert_eq!(
            nth_subnet(net("0.0.0.0/0"), 32, u128::from(u32::MAX)),
            Some(net("255.255.255.255/32"))
        );
        assert_eq!(
            nth_subnet(net("fd00:10:244::/56"), 120, 3),
            Some(net("fd00:10:244::300/120"))
        );
        assert_eq!(subnet_count(net("fd00::/8"), 128), 1 << 120);
        assert_eq!(subnet_count(net("::/0"), 128), u128::MAX);
    }

    #[test]
    fn offsets_round_trip() {
        let b = net("fd00::100/120");
        let a = b.at(5);
        assert_eq!(offset_of(b, a), Some(5));
        assert_eq!(offset_of(b, "10.0.0.1".parse().unwrap()), None);
        assert_eq!(net("::/0").size(), u128::MAX);
        assert_eq!(net("10.0.0.0/30").last_offset(), 3);
    }
}
