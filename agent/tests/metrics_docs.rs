//! docs/metrics.md lists every metric latticed exports, and the Grafana dashboard queries only
//! metrics latticed exports: a renamed or added metric fails here until the docs follow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use agent::metrics::bfd::{BfdSessionRow, BfdSource};
use agent::metrics::peers::PeerSource;
use agent::metrics::Metrics;
use bgp::driver::PeerStatus;

struct OneBfdSession;

impl BfdSource for OneBfdSession {
    fn sessions(&self) -> Vec<BfdSessionRow> {
        vec![BfdSessionRow {
            peer: "10.0.1.1".into(),
            state: "up",
            detection_seconds: 0.9,
            up_transitions: 1,
            down_transitions: 0,
            sent: 10,
            send_errors: 0,
            received: 10,
        }]
    }
    fn drops(&self) -> Vec<(&'static str, u64)> {
        vec![("bad_ttl", 1)]
    }
}

struct OnePeer;

impl PeerSource for OnePeer {
    fn peers(&self) -> Vec<PeerStatus> {
        let mut p = PeerStatus::new("10.0.1.1".parse().unwrap(), 65001);
        // NOTIFICATION families only have series once one was counted.
        p.notifications_sent.insert("6/2".into(), 1);
        p.notifications_received.insert("6/2".into(), 1);
        vec![p]
    }
}

/// Metric family names of the exposition (from its `# TYPE` lines) with their types.
fn exported() -> BTreeSet<(String, String)> {
    let m = Metrics::new(Some(Box::new(OnePeer))).unwrap();
    // Per-block families only have series once a block is held.
    m.ipam_blocks(&[("10.244.1.0/24".parse().unwrap(), 1, 256)]);
    m.watch_block_conflicts(|| 0).unwrap();
    m.watch_bfd(Box::new(OneBfdSession)).unwrap();
    let text = m.encode();
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

fn docs(file: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("docs");
    std::fs::read_to_string(root.join(file)).unwrap()
}

/// Every `lattice_...` or `process_...` identifier in `text`.
fn names_in(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("lattice_") || w.starts_with("process_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_metrics_page_lists_every_exported_metric_with_its_type() {
    let page = docs("metrics.md");
    for (name, kind) in exported() {
        let row = page
            .lines()
            .find(|l| l.starts_with("| ") && l.contains(&format!("`{name}`")))
            .unwrap_or_else(|| panic!("{name} is exported but not in docs/metrics.md"));
        // The process collector's families share one row without a type.
        if name.starts_with("lattice_") {
            assert!(
                row.contains(&format!("| {kind} |")),
                "{name}: type {kind} not in {row}"
            );
        }
    }
}

#[test]
fn the_dashboard_queries_only_exported_metrics() {
    let text = docs("grafana/lattice.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(!dashboard["panels"].as_array().unwrap().is_empty());
    let exported: BTreeSet<String> = exported().into_iter().map(|(n, _)| n).collect();
    let used = names_in(&text);
    assert!(used.len() > 20, "{used:?}");
    for name in used {
        let family = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| exported.contains(*f))
            .unwrap_or(&name);
        assert!(
            exported.contains(family),
            "the dashboard queries {name}, which latticed does not export"
        );
    }
}

#[test]
fn the_alerting_rules_are_valid_fire_as_tested_and_use_exported_metrics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("docs")
        .join("prometheus");
    let exported: BTreeSet<String> = exported().into_iter().map(|(n, _)| n).collect();
    let rules = docs("prometheus/lattice-alerts.yml");
    for name in names_in(&rules) {
        assert!(
            exported.contains(&name),
            "the alerting rules use {name}, which latticed does not export"
        );
    }
    let promtool = Path::new("/usr/bin/promtool");
    if !testkit::require(false, &["/usr/bin/promtool"]) {
        return;
    }
    for args in [
        &["check", "rules", "lattice-alerts.yml"][..],
        &["test", "rules", "lattice-alerts.test.yml"],
    ] {
        let out = std::process::Command::new(promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
