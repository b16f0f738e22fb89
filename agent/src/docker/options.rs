//! What a network asks of the lattice driver through `docker network create -o`, and which
//! wiring modes can live side by side on one host. Sans-IO: the driver asks, then wires.
//!
//! An ipvlan parent has one mode for all its slaves (the kernel keeps it per parent and a new
//! slave of another mode switches every slave over), so this host's ipvlan networks, its
//! `dataplane.mode` and Docker's own ipvlan networks on `dataplane.parent` must agree on one.

use serde_json::Value;

use crate::dataplane::DataplaneMode;

/// `-o lattice.mode=routed-veth|ipvlan-l3|ipvlan-l3s`: how the network's containers are wired
/// (default: the host's `dataplane.mode`).
pub const MODE: &str = "lattice.mode";

/// `-o parent=IF`: accepted when it names `dataplane.parent`, the one parent latticed wires.
pub const PARENT: &str = "parent";

/// Where libnetwork puts the `-o` options in `CreateNetwork.Options`.
const GENERIC: &str = "com.docker.network.generic";

/// What a network's `-o` options ask for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NetworkOptions {
    /// `lattice.mode`, if given.
    pub mode: Option<DataplaneMode>,
    /// `parent`, if given.
    pub parent: Option<String>,
}

/// Reads the options Docker passes to `CreateNetwork`; an unknown `lattice.*` option or a bad
/// value is refused with a message for the user.
pub fn parse(options: Option<&Value>) -> Result<NetworkOptions, String> {
    let mut out = NetworkOptions::default();
    let Some(generic) = options.and_then(|o| o.get(GENERIC)) else {
        return Ok(out);
    };
    let Some(generic) = generic.as_object() else {
        return Err(format!("lattice: {GENERIC} is not an object"));
    };
    for (name, value) in generic {
        let text = || {
            value
                .as_str()
                .ok_or_else(|| format!("lattice: -o {name}: the value is not a string"))
        };
        if name == MODE {
            let mode = text()?;
            out.mode = Some(
                serde_json::from_value(Value::String(mode.to_string())).map_err(|_| {
                    format!("lattice: -o {MODE}={mode}: one of routed-veth, ipvlan-l3, ipvlan-l3s")
                })?,
            );
        } else if name == PARENT {
            out.parent = Some(text()?.to_string());
        } else if name.starts_with("lattice.") {
            return Err(format!(
                "lattice: unknown option -o {name}; the lattice driver knows -o {MODE}"
            ));
        }
    }
    Ok(out)
}

/// The ipvlan mode on the parent, if any: the host's, else that of an ipvlan network already
/// on it.
pub fn parent_mode(
    host: DataplaneMode,
    networks: impl IntoIterator<Item = DataplaneMode>,
) -> Option<DataplaneMode> {
    std::iter::once(host)
        .chain(networks)
        .find(|m| *m != DataplaneMode::RoutedVeth)
}

/// Refuses `wanted` if the parent already runs another ipvlan mode (`current`, from
/// [`parent_mode`]).
pub fn check_mode(
    wanted: DataplaneMode,
    current: Option<DataplaneMode>,
    parent: &str,
) -> Result<(), String> {
    match current {
        Some(m) if wanted != DataplaneMode::RoutedVeth && wanted != m => Err(format!(
            "lattice: {MODE} {wanted}: {parent} already carries {m} slaves, and an ipvlan \
             parent has one mode for all its slaves; use {m} or routed-veth"
        )),
        _ => Ok(()),
    }
}

/// The mode of the host slave through which latticed reaches the containers of Docker's own
/// ipvlan driver on the parent: the parent's, else L3 (`ipvlan_mode=l3`, the L3 mode Docker's
/// ipvlan driver has).
pub fn foreign_mode(current: Option<DataplaneMode>) -> DataplaneMode {
    current.unwrap_or(DataplaneMode::IpvlanL3)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    use DataplaneMode::{IpvlanL3, IpvlanL3s, RoutedVeth};

    fn opts(generic: Value) -> Value {
        json!({"com.docker.network.enable_ipv6": false, "com.docker.network.generic": generic})
    }

    #[test]
    fn options_are_read_from_docker_s_generic_map() {
        assert_eq!(parse(None).unwrap(), NetworkOptions::default());
        assert_eq!(parse(Some(&json!({}))).unwrap(), NetworkOptions::default());
        let o = parse(Some(&opts(
            json!({"lattice.mode": "ipvlan-l3s", "parent": "eth1", "other": "kept"}),
        )))
        .unwrap();
        assert_eq!(o.mode, Some(IpvlanL3s));
        assert_eq!(o.parent.as_deref(), Some("eth1"));
        for bad in [
            json!({"lattice.mode": "bridge"}),
            json!({"lattice.mode": 3}),
            json!({"lattice.mdoe": "ipvlan-l3"}),
            json!({"parent": ["eth1"]}),
            json!("lattice.mode=ipvlan-l3"),
        ] {
            let e = parse(Some(&opts(bad.clone()))).unwrap_err();
            assert!(e.starts_with("lattice: "), "{bad}: {e}");
        }
        let e = parse(Some(&opts(json!({"lattice.mode": "l3"})))).unwrap_err();
        assert!(e.contains("routed-veth, ipvlan-l3, ipvlan-l3s"), "{e}");
    }

    #[test]
    fn a_parent_keeps_one_ipvlan_mode() {
        assert_eq!(parent_mode(RoutedVeth, []), None);
        assert_eq!(
            parent_mode(RoutedVeth, [RoutedVeth, IpvlanL3s]),
            Some(IpvlanL3s)
        );
        assert_eq!(parent_mode(IpvlanL3, [IpvlanL3s]), Some(IpvlanL3));
        for wanted in [RoutedVeth, IpvlanL3, IpvlanL3s] {
            assert!(check_mode(wanted, None, "eth1").is_ok());
        }
        assert!(check_mode(RoutedVeth, Some(IpvlanL3), "eth1").is_ok());
        assert!(check_mode(IpvlanL3, Some(IpvlanL3), "eth1").is_ok());
        let e = check_mode(IpvlanL3s, Some(IpvlanL3), "eth1").unwrap_err();
        assert!(e.contains("eth1 already carries ipvlan-l3 slaves"), "{e}");
        assert_eq!(foreign_mode(None), IpvlanL3);
        assert_eq!(foreign_mode(Some(IpvlanL3s)), IpvlanL3s);
    }
}
