//! The policy examples of docs/policy.md (Calico's BGPFilter, frr-k8s's allow-lists) parse as
//! latticed configuration and decide routes the way the originals do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use agent::config::{Config, PeerAsn};
use bgp::policy::{Policy, RouteAttrs, RouteContext, RouteSource};
use bgp::PeerKey;

/// The YAML block of docs/policy.md marked `# policy-example: NAME`, as a whole config file.
fn example(name: &str) -> Config {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("docs")
            .join("policy.md"),
    )
    .unwrap();
    let marker = format!("# policy-example: {name}\n");
    let start = page
        .find(&marker)
        .expect("the example is in docs/policy.md")
        + marker.len();
    let block = &page[start..start + page[start..].find("```").unwrap()];
    let text = format!(
        "node: {{name: h, asn: 65100, router_id: 10.0.0.1}}\ncluster: {{cidr: 10.244.0.0/16}}\nipam: {{block: 10.244.1.0/24}}\n{block}"
    );
    Config::from_yaml_str(&text, "docs/policy.md").unwrap()
}

fn policy(c: &Config, name: &str) -> std::sync::Arc<Policy> {
    agent::config::policy::policies(&c.bgp)[name].clone()
}

/// The peer every example route comes from or goes to.
static PEER: PeerKey = PeerKey::Address(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)));

fn route(prefix: &str, source: RouteSource) -> RouteContext<'static> {
    RouteContext {
        prefix: prefix.parse().unwrap(),
        peer: &PEER,
        source,
        local_as: 65100,
    }
}

#[test]
fn the_calico_bgpfilter_example_decides_as_calico_does() {
    let c = example("calico");
    let import = policy(&c, "my-filter-import");
    let export = policy(&c, "my-filter-export");
    let none = RouteAttrs::default();
    for (prefix, accepted) in [
        // importV4 rule 1: In 55.0.0.0/16 with length >= 30.
        ("55.0.3.4/30", true),
        ("55.0.3.4/32", true),
        // Not long enough: rule 2 (NotIn 44.0.0.0/16) rejects it.
        ("55.0.3.0/24", false),
        ("10.9.0.0/16", false),
        // In 44.0.0.0/16: no rule matches, the default accepts.
        ("44.0.7.0/24", true),
        // importV6: Equal 5000::/64 accepted, anything else rejected.
        ("5000::/64", true),
        ("5000::/80", false),
        ("2001:db8::/32", false),
    ] {
        let d = import.evaluate(&route(prefix, RouteSource::Learned), &none);
        assert_eq!(d.accepted(), accepted, "import {prefix}");
    }
    // exportV4/V6: the routes of '*.calico' interfaces (our blocks) are rejected; the rest
    // (announced service addresses) accepted by default.
    assert!(!export
        .evaluate(&route("10.244.1.0/24", RouteSource::Block), &none)
        .accepted());
    assert!(export
        .evaluate(&route("192.0.2.10/32", RouteSource::Announced), &none)
        .accepted());
}

#[test]
fn the_frr_k8s_example_decides_as_frr_k8s_does() {
    let c = example("frr-k8s");
    assert_eq!(c.bgp.peers[0].asn, PeerAsn::Number(4_200_000_000));
    let to = policy(&c, "to-172.30.0.3");
    let from = policy(&c, "from-172.30.0.3");
    let none = RouteAttrs::default();
    let d = to.evaluate(&route("192.168.2.0/24", RouteSource::Announced), &none);
    assert!(d.accepted());
    let attrs = d.changed.unwrap();
    assert_eq!(attrs.communities, vec![(10 << 16) | 100]);
    assert_eq!(attrs.local_pref, Some(200));
    // In the router's prefixes but not in this neighbour's allow-list: not advertised.
    assert!(!to
        .evaluate(&route("192.169.2.0/24", RouteSource::Announced), &none)
        .accepted());
    for (prefix, accepted) in [
        ("192.168.1.0/24", true),
        ("192.168.1.0/25", false),
        ("192.169.2.0/26", true),
        ("192.169.2.0/28", true),
        ("192.169.2.0/24", false),
        ("192.169.2.0/29", false),
        ("10.0.0.0/8", false),
    ] {
        let d = from.evaluate(&route(prefix, RouteSource::Learned), &none);
        assert_eq!(d.accepted(), accepted, "receive {prefix}");
    }
}
