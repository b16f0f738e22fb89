//! Stable host-side interface names.

/// FNV-1a, 64-bit (offset basis and prime from the FNV reference). Implemented here because
/// std's `DefaultHasher` may change between Rust releases, and a host veth name must not:
/// a restarted latticed has to find the veth an older build created.
pub fn fnv1a64(data: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    data.iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// 11 hex characters (44 bits) of FNV-1a of `container_id/ifname`.
fn tag(container_id: &str, ifname: &str) -> String {
    let key = format!("{container_id}/{ifname}");
    format!("{:011x}", fnv1a64(key.as_bytes()) & ((1 << 44) - 1))
}

/// The host-side veth name: `lat` + 11 hex chars, 14 bytes, within IFNAMSIZ (15 + NUL).
pub fn host_ifname(container_id: &str, ifname: &str) -> String {
    format!("lat{}", tag(container_id, ifname))
}

/// The name the container-side peer is created under before it is renamed to `ifname`;
/// derived the same way so concurrent attaches into one namespace never collide.
pub(crate) fn temp_peer_ifname(container_id: &str, ifname: &str) -> String {
    format!("latp{}", tag(container_id, ifname))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        // Vectors from the FNV reference test suite.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn host_names_are_stable_short_and_distinct() {
        let a = host_ifname("c0ffee", "eth0");
        assert_eq!(a, host_ifname("c0ffee", "eth0"));
        assert_eq!(a.len(), 14);
        assert!(a.starts_with("lat"));
        assert_ne!(a, host_ifname("c0ffee", "eth1"));
        assert_ne!(a, host_ifname("c0ffef", "eth0"));
        assert_eq!(temp_peer_ifname("c0ffee", "eth0").len(), 15);
    }
}
