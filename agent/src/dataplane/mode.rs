//! `dataplane.mode`: the ways a container can be wired, as the configuration names them.
//! [`Wiring::for_mode`](super::Wiring::for_mode) is the one place a mode becomes its wiring.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How containers are wired (`dataplane.mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataplaneMode {
    /// `routed-veth`: a veth pair per container, routed on the host.
    #[default]
    RoutedVeth,
    /// `ipvlan-l3`: an ipvlan slave of `dataplane.parent` per container, L3 mode.
    IpvlanL3,
    /// `ipvlan-l3s`: the same in L3S mode (the host's netfilter sees slave traffic).
    IpvlanL3s,
}

impl fmt::Display for DataplaneMode {
    /// serde's spelling, so each name is written once (in the attributes above).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => f.write_str(&name),
            _ => Err(fmt::Error),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_are_the_configuration_s() {
        for (mode, name) in [
            (DataplaneMode::RoutedVeth, "routed-veth"),
            (DataplaneMode::IpvlanL3, "ipvlan-l3"),
            (DataplaneMode::IpvlanL3s, "ipvlan-l3s"),
        ] {
            assert_eq!(mode.to_string(), name);
            let parsed: DataplaneMode = serde_json::from_value(name.into()).unwrap();
            assert_eq!(parsed, mode);
        }
        assert!(serde_json::from_value::<DataplaneMode>("bridge".into()).is_err());
    }

    #[test]
    fn each_mode_becomes_its_wiring() {
        use crate::dataplane::{IpvlanWiring, Wiring, GATEWAY};
        use crate::kernel::IpvlanMode;
        assert_eq!(
            Wiring::for_mode(DataplaneMode::RoutedVeth, None),
            Ok(Wiring::RoutedVeth)
        );
        for (mode, ipvlan) in [
            (DataplaneMode::IpvlanL3, IpvlanMode::L3),
            (DataplaneMode::IpvlanL3s, IpvlanMode::L3s),
        ] {
            let want = Wiring::Ipvlan(IpvlanWiring {
                parent: "eth1".into(),
                mode: ipvlan,
                host_address: GATEWAY,
            });
            assert_eq!(Wiring::for_mode(mode, Some("eth1")), Ok(want));
            let missing = Wiring::for_mode(mode, None).unwrap_err();
            assert!(
                missing.starts_with(&format!("required by mode \"{mode}\"")),
                "{missing}"
            );
        }
    }
}
