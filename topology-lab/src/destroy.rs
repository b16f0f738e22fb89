//! `destroy`: stop every process of the lab, delete its namespaces and its state directory.
//! Works from the topology alone, so it also cleans up after a crash or a half-done deploy.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::LabError;
use crate::paths::LabDir;
use crate::state::LabState;
use crate::topology::{self, Lab};
use crate::{netns, procs};

/// Destroy the lab described by `topo`.
pub fn destroy(topo: &Path) -> Result<(), LabError> {
    let lab = topology::load(topo)?;
    let dir = LabDir::for_lab(&lab.name);
    destroy_lab(&lab, &dir)?;
    println!("lab {} destroyed", lab.name);
    Ok(())
}

/// Stop processes, delete namespaces, remove the state dir; fails if anything is left.
pub fn destroy_lab(lab: &Lab, dir: &LabDir) -> Result<(), LabError> {
    let state = LabState::load(dir).unwrap_or_else(|e| {
        eprintln!("warning: ignoring unreadable state: {e}");
        None
    });
    let mut namespaces: BTreeSet<String> = lab.all_namespaces().into_iter().collect();
    namespaces.extend(state.iter().flat_map(|s| s.namespaces.iter().cloned()));
    let namespaces: Vec<String> = namespaces
        .into_iter()
        .filter(|n| netns::exists(n))
        .collect();

    let lab_path = dir.root().display().to_string();
    let mut pids: BTreeSet<u32> = BTreeSet::new();
    // Recorded pids only if they are still ours: in a lab namespace or started with the lab dir.
    for p in state.iter().flat_map(LabState::all_pids) {
        if procs::cmdline_contains(p, &lab_path) || namespaces.iter().any(|n| procs::in_netns(p, n))
        {
            pids.insert(p);
        }
    }
    for ns in &namespaces {
        pids.extend(netns::pids(ns).unwrap_or_default());
    }
    pids.extend(procs::find_daemons(&format!("{lab_path}/")));
    let pids: Vec<u32> = pids.into_iter().collect();
    let survivors = procs::stop(&pids);

    let mut problems = Vec::new();
    if !survivors.is_empty() {
        problems.push(format!(
            "processes still alive after SIGKILL: {survivors:?}"
        ));
    }
    for ns in &namespaces {
        if let Err(e) = netns::del(ns) {
            problems.push(e.to_string());
        }
    }
    if dir.root().exists() {
        if let Err(e) = std::fs::remove_dir_all(dir.root()) {
            problems.push(format!("removing {}: {e}", dir.root().display()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LabError::Failed(format!(
            "destroy of lab {} incomplete: {}",
            lab.name,
            problems.join("; ")
        )))
    }
}
