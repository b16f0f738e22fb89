#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! docs/configuration.md has a row for every key latticed's configuration accepts. The keys
//! are not listed here by hand: each section is given an unknown key, and the parser's
//! refusal (`unknown field ..., expected one of ...`) names the keys it takes, so a key added
//! to the code without its row fails here.

use std::path::Path;

use agent::config::Config;

const BASE: &str = "\
node: {name: h, asn: 65100, router_id: 10.0.0.1}
cluster: {cidr: 10.244.0.0/16}
ipam: {block: 10.244.1.0/24}
bgp: {peers: [{address: 10.0.0.2, asn: 65000}], policies: {p: {rules: [{action: accept}]}}}
";

/// Each section: how its keys are written in the docs, and the file with an unknown key
/// `zzz` in that section.
fn probes() -> Vec<(&'static str, String)> {
    let add = |line: &str| format!("{BASE}{line}\n");
    vec![
        ("node", BASE.replace("node: {", "node: {zzz: 1, ")),
        ("cluster", BASE.replace("cluster: {", "cluster: {zzz: 1, ")),
        ("ipam", BASE.replace("ipam: {", "ipam: {zzz: 1, ")),
        (
            "ipam.fan",
            BASE.replace("ipam: {", "ipam: {fan: {zzz: 1}, "),
        ),
        (
            "ipam.etcd",
            BASE.replace("ipam: {", "ipam: {etcd: {zzz: 1}, "),
        ),
        ("dataplane", add("dataplane: {zzz: 1}")),
        ("api", add("api: {zzz: 1}")),
        ("metrics", add("metrics: {zzz: 1}")),
        ("docker", add("docker: {zzz: 1}")),
        ("bgp", BASE.replace("bgp: {", "bgp: {zzz: 1, ")),
        (
            "bgp.listen",
            BASE.replace("bgp: {", "bgp: {listen: {zzz: 1}, "),
        ),
        (
            "bgp.graceful_restart",
            BASE.replace("bgp: {", "bgp: {graceful_restart: {zzz: 1}, "),
        ),
        (
            "bgp.multipath",
            BASE.replace("bgp: {", "bgp: {multipath: {zzz: 1}, "),
        ),
        (
            "bgp.peers[]",
            BASE.replace("{address: 10.0.0.2", "{zzz: 1, address: 10.0.0.2"),
        ),
        (
            "bgp.policies.NAME",
            BASE.replace("{p: {rules", "{p: {zzz: 1, rules"),
        ),
        (
            "bgp.policies.NAME.rules[]",
            BASE.replace("{action: accept}", "{zzz: 1, action: accept}"),
        ),
        (
            "bgp.policies.NAME.rules[].match",
            BASE.replace("{action: accept}", "{match: {zzz: 1}, action: accept}"),
        ),
        (
            "bgp.policies.NAME.rules[].set",
            BASE.replace("{action: accept}", "{set: {zzz: 1}, action: accept}"),
        ),
    ]
}

/// The keys the parser says it expected instead of `zzz`.
fn expected_keys(section: &str, text: &str) -> Vec<String> {
    assert!(Config::from_yaml_str(BASE, "base").is_ok());
    let err = Config::from_yaml_str(text, "probe")
        .expect_err(section)
        .to_string();
    assert!(err.contains("unknown field `zzz`"), "{section}: {err}");
    let expected = err.split("expected").nth(1).unwrap_or("");
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn every_key_has_its_row_in_configuration_md() {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("docs")
            .join("configuration.md"),
    )
    .unwrap();
    let rows: Vec<&str> = page.lines().filter(|l| l.starts_with("| `")).collect();
    let mut missing = Vec::new();
    let mut checked = 0;
    for (section, text) in probes() {
        let keys = expected_keys(section, &text);
        assert!(!keys.is_empty(), "{section}: no keys found");
        for key in keys {
            let name = format!("{section}.{key}");
            // The key's own row, or rows for its parts (`bgp.listen.port` for `bgp.listen`).
            let documented = rows.iter().any(|r| {
                r.strip_prefix(&format!("| `{name}"))
                    .is_some_and(|rest| rest.starts_with(['`', '.', '[']))
            });
            checked += 1;
            if !documented {
                missing.push(name);
            }
        }
    }
    assert!(checked > 60, "only {checked} keys found");
    assert!(
        missing.is_empty(),
        "keys without a row in docs/configuration.md: {missing:?}"
    );
}
