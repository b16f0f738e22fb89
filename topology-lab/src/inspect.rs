//! `inspect`: what runs where, from the state file and the live namespaces.

use std::path::Path;

use serde::Serialize;

use crate::error::LabError;
use crate::paths::LabDir;
use crate::state::LabState;
use crate::topology;
use crate::{netns, procs};

/// One row of the table (`--json` prints a list of these).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Node or container name.
    pub node: String,
    /// Kind (`container` for a lattice container).
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Recorded daemon pids.
    pub pids: Vec<u32>,
    /// `running`, `degraded`, `stopped`, `up` (no daemons) or `missing` (no namespace).
    pub state: String,
    /// `ifname=addr/len` of its IPv4 addresses.
    pub addresses: Vec<String>,
    /// The node's `labels` (none for containers).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// Print the lab's table (or JSON).
pub fn inspect(topo: &Path, json: bool) -> Result<(), LabError> {
    let lab = topology::load(topo)?;
    let dir = LabDir::for_lab(&lab.name);
    let state = LabState::require(&dir, &lab.name)?;
    let rows = rows(&state);
    if json {
        let text = serde_json::to_string_pretty(&rows)
            .map_err(|e| LabError::Failed(format!("encoding JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", table(&rows));
        if state.deployed_at_ms.is_none() {
            println!("(deploy did not finish)");
        }
    }
    Ok(())
}

fn row(node: &str, kind: String, ns: &str, pids: &[u32]) -> Row {
    let exists = netns::exists(ns);
    let live = pids.iter().filter(|p| procs::alive(**p)).count();
    let state = match (exists, pids.len(), live) {
        (false, _, _) => "missing",
        (true, 0, _) => "up",
        (true, n, l) if l == n => "running",
        (true, _, 0) => "stopped",
        _ => "degraded",
    };
    let addresses = if exists {
        netns::ipv4_addresses(ns).unwrap_or_default()
    } else {
        Vec::new()
    };
    Row {
        node: node.into(),
        kind,
        namespace: ns.into(),
        pids: pids.to_vec(),
        state: state.into(),
        addresses,
        labels: Default::default(),
    }
}

/// Rows for every node, each followed by its containers.
pub fn rows(state: &LabState) -> Vec<Row> {
    let mut out = Vec::new();
    for n in &state.nodes {
        let mut r = row(&n.name, n.kind.to_string(), &n.namespace, &n.pids);
        r.labels = n.labels.clone();
        out.push(r);
        for c in &n.containers {
            out.push(row(&c.name, "container".into(), &c.namespace, &[]));
        }
    }
    out
}

/// Render rows as an aligned text table.
pub fn table(rows: &[Row]) -> String {
    let header = ["NODE", "KIND", "NAMESPACE", "PID", "STATE", "ADDRESSES"].map(String::from);
    let mut cells: Vec<[String; 6]> = vec![header];
    for r in rows {
        let pids = if r.pids.is_empty() {
            "-".to_string()
        } else {
            r.pids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let addrs = if r.addresses.is_empty() {
            "-".to_string()
        } else {
            r.addresses.join(" ")
        };
        cells.push([
            r.node.clone(),
            r.kind.clone(),
            r.namespace.clone(),
            pids,
            r.state.clone(),
            addrs,
        ]);
    }
    let mut widths = [0usize; 6];
    for c in &cells {
        for (w, s) in widths.iter_mut().zip(c.iter()) {
            *w = (*w).max(s.len());
        }
    }
    let mut out = String::new();
    for c in &cells {
        let line: Vec<String> = c
            .iter()
            .zip(widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let r = Row {
            node: "spine1".into(),
            kind: "frr".into(),
            namespace: "lab-spine1".into(),
            pids: vec![1, 2],
            state: "running".into(),
            addresses: vec!["eth1=10.0.0.0/31".into()],
            labels: Default::default(),
        };
        let t = table(&[r]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("NODE    KIND  NAMESPACE   PID  STATE"));
        assert!(lines[1].starts_with("spine1  frr   lab-spine1  1,2  running  eth1=10.0.0.0/31"));
    }
}
