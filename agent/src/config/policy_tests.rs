//! `bgp.policies` and peers naming them: parsing, errors naming file, line and key, and what
//! the speaker is given.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::super::Config;
use super::*;
use bgp::policy as engine;

const HEAD: &str = "\
node:      { name: host1, asn: 65101, router_id: 10.0.1.2 }
cluster:   { cidr: 10.244.0.0/16 }
ipam:      { block: 10.244.1.0/24 }
bgp:
  peers:
    - { address: 10.0.1.1, asn: 65001, import: tor-in, export: tor-out }
    - { address: 10.0.2.1, asn: 65002, import: [{prefix: 0.0.0.0/0}], export: [10.96.0.0/12] }
  policies:
";

const POLICIES: &str = "    tor-in:
      rules:
        - match: { prefix: [{prefix: 10.244.0.0/16, le: 26}], community: ['65000:666'] }
          action: reject
        - match:
            prefix: [{prefix: 10.244.0.0/16, le: 26}, {prefix: 0.0.0.0/0}]
            as_path_length: { max: 4 }
            not: { as_path_contains: 64512 }
          set: { local_pref: 200, add_communities: ['65101:1', '65101:0:1'] }
          action: accept
    tor-out:
      default: accept
      rules:
        - match: { source: [announced], family: ipv4, large_community: ['65101:9:9'], peer: [10.0.1.1], origin_as: 1 }
          set: { med: 10, remove_communities: ['65000:1'], prepend: { count: 2 } }
          action: continue
";

fn parse(policies: &str) -> Result<Config, crate::config::ConfigError> {
    Config::from_yaml_str(&format!("{HEAD}{policies}"), "host1.yaml")
}

#[test]
fn policies_parse_and_peers_name_them() {
    let c = parse(POLICIES).unwrap();
    assert_eq!(
        c.bgp.peers[0].import,
        Some(NamedOr::Policy("tor-in".into()))
    );
    assert_eq!(c.bgp.peers[0].export, NamedOr::Policy("tor-out".into()));
    // The list forms are what they always were.
    assert_eq!(c.bgp.peers[1].import.as_ref().unwrap().list().len(), 1);
    assert_eq!(c.bgp.peers[1].export.list().len(), 1);
    let all = policies(&c.bgp);
    let tor_in = &all["tor-in"];
    assert_eq!(tor_in.statements.len(), 2);
    assert_eq!(tor_in.default, engine::Verdict::Reject);
    assert_eq!(tor_in.statements[1].conditions.len(), 3);
    assert_eq!(
        tor_in.statements[1].actions,
        vec![
            engine::Action::SetLocalPref(200),
            engine::Action::AddCommunities(vec![(65101 << 16) | 1]),
            engine::Action::AddLargeCommunities(vec![bgp::wire::LargeCommunity {
                global: 65101,
                local1: 0,
                local2: 1
            }]),
        ]
    );
    let tor_out = &all["tor-out"];
    assert_eq!(tor_out.default, engine::Verdict::Accept);
    assert_eq!(tor_out.statements[0].conditions.len(), 5);
    assert_eq!(
        tor_out.statements[0].then,
        engine::StatementAction::Continue
    );
    // What the speaker runs: a named import decides alone.
    let speaker = crate::daemon::peer_configs(&c);
    assert_eq!(speaker[0].import, bgp::policy::ImportPolicy::accept_all());
    assert_eq!(speaker[0].import_policy.as_deref(), Some(tor_in.as_ref()));
    assert_eq!(speaker[0].export_policy.as_deref(), Some(tor_out.as_ref()));
    assert!(speaker[1].import_policy.is_none() && speaker[1].export_policy.is_none());
}

/// The error for `policies` as `FILE:LINE: key: message`.
fn error(policies: &str) -> String {
    parse(policies).unwrap_err().to_string()
}

#[test]
fn a_missing_policy_is_an_error_naming_the_peer_line() {
    let e = error("    tor-in: { rules: [] }\n");
    assert_eq!(
        e,
        "host1.yaml:6: bgp.peers[0].export: no policy named \"tor-out\" in bgp.policies (defined: tor-in)"
    );
    let text = HEAD.replace("  policies:\n", "");
    let e = Config::from_yaml_str(&text, "host1.yaml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "host1.yaml:6: bgp.peers[0].import: no policy named \"tor-in\": bgp.policies defines none"
    );
}

#[test]
fn bad_policies_name_the_key_and_line() {
    let both = "    tor-out: { default: accept }\n";
    for (policy, line, key) in [
        // Line 9: tor-in's first rule.
        (
            "    tor-in:\n      rules:\n        - match: { community: ['65000:1:1'] }\n          action: accept\n",
            11,
            "bgp.policies.tor-in.rules[0].match.community[0]",
        ),
        (
            "    tor-in:\n      rules:\n        - match: { prefix: [{prefix: 10.0.0.1/8}] }\n          action: accept\n",
            11,
            "bgp.policies.tor-in.rules[0].match.prefix[0]",
        ),
        (
            "    tor-in:\n      rules:\n        - set: { prepend: { count: 11 } }\n          action: accept\n",
            11,
            "bgp.policies.tor-in.rules[0].set.prepend.count",
        ),
        (
            "    tor-in:\n      rules:\n        - match: { as_path_length: {min: 3, max: 2} }\n          action: accept\n",
            11,
            "bgp.policies.tor-in.rules[0].match.as_path_length",
        ),
        (
            "    tor-in:\n      rules:\n        - match: { not: {} }\n          action: accept\n",
            11,
            "bgp.policies.tor-in.rules[0].match.not",
        ),
        // Schema errors: an unknown key, a missing action, a wrong verdict.
        (
            "    tor-in:\n      rules:\n        - match: { prefixes: [] }\n          action: accept\n",
            11,
            "bgp.policies.tor-in.rules[0].match.prefixes",
        ),
        (
            "    tor-in:\n      rules:\n        - match: { family: ipv4 }\n",
            11,
            "bgp.policies.tor-in.rules[0]",
        ),
        (
            "    tor-in: { default: maybe }\n",
            9,
            "bgp.policies.tor-in.default",
        ),
    ] {
        let e = parse(&format!("{policy}{both}")).unwrap_err();
        assert_eq!(e.key(), Some(key), "{e}");
        assert_eq!(e.line(), Some(line), "{e}");
    }
    // A name defined twice.
    let e = parse("    tor-in: {}\n    tor-out: {}\n    tor-in: {}\n").unwrap_err();
    assert!(e.to_string().contains("\"tor-in\" is defined twice"), "{e}");
    // The line YAML reports is the map's first.
    assert_eq!(e.line(), Some(9), "{e}");
    // A peer naming a policy with a number is a schema error at the peer.
    let e = Config::from_yaml_str(&HEAD.replace("import: tor-in", "import: 12"), "f").unwrap_err();
    assert_eq!(e.key(), Some("bgp.peers[0].import"), "{e}");
    assert!(e.to_string().contains("policy"), "{e}");
}
