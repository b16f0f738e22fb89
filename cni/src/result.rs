//! The ADD result, in the format of the caller's `cniVersion`.

use std::net::IpAddr;

use api::proto::{Attachment, GATEWAY};
use serde_json::{json, Map, Value};

use super::conf::NetConf;

/// The result JSON for an attachment: the host veth and the container interface, the /32 with
/// its link-local gateway, and the default route through it.
pub fn add_result(conf: &NetConf, a: &Attachment) -> Value {
    let mut host = Map::new();
    host.insert("name".into(), json!(a.host_ifname));
    if let Some(mac) = &a.host_mac {
        host.insert("mac".into(), json!(mac));
    }
    let mut ctr = Map::new();
    ctr.insert("name".into(), json!(a.ifname));
    if let Some(mac) = &a.container_mac {
        ctr.insert("mac".into(), json!(mac));
    }
    ctr.insert("sandbox".into(), json!(a.netns));

    let mut ips = vec![ip_entry(
        conf,
        IpAddr::V4(a.address),
        Some(IpAddr::V4(GATEWAY)),
    )];
    let mut routes = vec![json!({"dst": "0.0.0.0/0", "gw": GATEWAY.to_string()})];
    if let Some(v6) = a.address_v6 {
        ips.push(ip_entry(conf, IpAddr::V6(v6), None));
        routes.push(json!({"dst": "::/0"}));
    }
    let mut out = Map::new();
    out.insert("cniVersion".into(), json!(conf.cni_version));
    out.insert(
        "interfaces".into(),
        Value::Array(vec![Value::Object(host), Value::Object(ctr)]),
    );
    out.insert("ips".into(), Value::Array(ips));
    out.insert("routes".into(), Value::Array(routes));
    out.insert("dns".into(), conf.dns.clone().unwrap_or_else(|| json!({})));
    Value::Object(out)
}

fn ip_entry(conf: &NetConf, address: IpAddr, gateway: Option<IpAddr>) -> Value {
    let prefix = if address.is_ipv4() { 32 } else { 128 };
    let mut e = Map::new();
    if conf.version.ips_carry_version() {
        e.insert(
            "version".into(),
            json!(if address.is_ipv4() { "4" } else { "6" }),
        );
    }
    e.insert("address".into(), json!(format!("{address}/{prefix}")));
    if let Some(gw) = gateway {
        e.insert("gateway".into(), json!(gw.to_string()));
    }
    // Index 1 in `interfaces`: the container side.
    e.insert("interface".into(), json!(1));
    Value::Object(e)
}

/// The addresses a `prevResult` lists (for CHECK), unparseable entries skipped.
pub fn prev_addresses(prev: &Value) -> Vec<String> {
    prev.get("ips")
        .and_then(Value::as_array)
        .map(|ips| {
            ips.iter()
                .filter_map(|ip| ip.get("address")?.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
