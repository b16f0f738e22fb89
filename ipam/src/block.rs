//! Choosing the host's block inside the cluster range.

use ipnet::Ipv4Net;

use crate::{IpamError, IpamSettings};

/// The configured `ipam.block`, or else the `ipam.node_index`-th block of `cluster.cidr`.
pub fn choose_block(s: &IpamSettings) -> Result<Ipv4Net, IpamError> {
    let cluster = s.cluster.trunc();
    if s.block_prefix_len < cluster.prefix_len() || s.block_prefix_len > 32 {
        return Err(IpamError::BadConfig {
            field: "cluster.block_prefix_len",
            message: format!(
                "must be between the cluster prefix length /{} and /32",
                cluster.prefix_len()
            ),
        });
    }
    if let Some(block) = s.block {
        if block.addr() != block.network() {
            return Err(bad_block(format!(
                "{block} has host bits set (did you mean {}?)",
                block.trunc()
            )));
        }
        if block.prefix_len() != s.block_prefix_len {
            return Err(bad_block(format!(
                "{block} is not a /{} (cluster.block_prefix_len)",
                s.block_prefix_len
            )));
        }
        if !cluster.contains(&block) {
            return Err(bad_block(format!(
                "{block} is not inside cluster.cidr {cluster}"
            )));
        }
        return Ok(block);
    }
    let Some(index) = s.node_index else {
        return Err(IpamError::BadConfig {
            field: "ipam.block",
            message: "set ipam.block or ipam.node_index to choose this host's block".into(),
        });
    };
    let out_of_range = || IpamError::BadConfig {
        field: "ipam.node_index",
        message: format!(
            "{cluster} has no block number {index} of size /{}",
            s.block_prefix_len
        ),
    };
    cluster
        .subnets(s.block_prefix_len)
        .map_err(|_| out_of_range())?
        .nth(index as usize)
        .ok_or_else(out_of_range)
}

fn bad_block(message: String) -> IpamError {
    IpamError::BadConfig {
        field: "ipam.block",
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(block: Option<&str>, index: Option<u32>) -> IpamSettings {
        IpamSettings {
            cluster: "10.244.0.0/16".parse().unwrap(),
            block_prefix_len: 24,
            block: block.map(|b| b.parse().unwrap()),
            node_index: index,
            state_dir: "/nonexistent".into(),
        }
    }

    #[test]
    fn configured_block_wins() {
        assert_eq!(
            choose_block(&settings(Some("10.244.7.0/24"), Some(1)))
                .unwrap()
                .to_string(),
            "10.244.7.0/24"
        );
    }

    #[test]
    fn node_index_picks_the_nth_block() {
        assert_eq!(
            choose_block(&settings(None, Some(0))).unwrap().to_string(),
            "10.244.0.0/24"
        );
        assert_eq!(
            choose_block(&settings(None, Some(3))).unwrap().to_string(),
            "10.244.3.0/24"
        );
        assert_eq!(
            choose_block(&settings(None, Some(255)))
                .unwrap()
                .to_string(),
            "10.244.255.0/24"
        );
    }

    #[test]
    fn bad_choices_name_their_field() {
        let cases = [
            (settings(None, Some(256)), "ipam.node_index"),
            (settings(None, None), "ipam.block"),
            (settings(Some("10.245.0.0/24"), None), "ipam.block"),
            (settings(Some("10.244.0.0/25"), None), "ipam.block"),
            (settings(Some("10.244.0.1/24"), None), "ipam.block"),
        ];
        for (s, field) in cases {
            match choose_block(&s) {
                Err(IpamError::BadConfig { field: f, .. }) => assert_eq!(f, field, "{s:?}"),
                other => panic!("{s:?}: {other:?}"),
            }
        }
        let mut s = settings(None, Some(0));
        s.block_prefix_len = 8;
        assert!(matches!(
            choose_block(&s),
            Err(IpamError::BadConfig {
                field: "cluster.block_prefix_len",
                ..
            })
        ));
    }
}
