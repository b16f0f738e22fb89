//! `deploy`: validate everything, then namespaces, links, nodes; undo it all on failure.

use std::path::Path;

use crate::destroy;
use crate::error::LabError;
use crate::kinds::{self, Ctx};
use crate::netns;
use crate::paths::LabDir;
use crate::plan::{self, Plan};
use crate::state::{now_ms, LabState};
use crate::topology::{self, Lab};

/// Deploy the lab described by `topo`.
pub fn deploy(topo: &Path) -> Result<(), LabError> {
    let lab = topology::load(topo)?;
    for note in &lab.notes {
        println!("note: {note}");
    }
    let dir = LabDir::for_lab(&lab.name);
    check_not_deployed(&lab, &dir)?;
    let plan = plan::plan(&lab, &dir)?;
    for (_, prep) in &plan.starts {
        for note in prep.notes() {
            println!("note: {note}");
        }
    }
    create_dir(&dir)?;
    let topo_abs = std::path::absolute(topo).unwrap_or_else(|_| topo.to_path_buf());
    let mut state = LabState::new(&lab.name, topo_abs);
    state.save(&dir)?;
    println!(
        "deploying lab {} ({} nodes, {} links)",
        lab.name,
        lab.nodes.len(),
        lab.links.len()
    );
    match build(&lab, &plan, &dir, &mut state) {
        Ok(()) => {
            state.deployed_at_ms = Some(now_ms());
            state.save(&dir)?;
            println!(
                "lab {} deployed; state in {}",
                lab.name,
                dir.root().display()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("deploy failed: {e}\ndestroying what was created");
            if let Err(d) = destroy::destroy_lab(&lab, &dir) {
                eprintln!("cleanup after the failed deploy also failed: {d}");
            }
            Err(e)
        }
    }
}

fn check_not_deployed(lab: &Lab, dir: &LabDir) -> Result<(), LabError> {
    let existing: Vec<String> = lab
        .all_namespaces()
        .into_iter()
        .filter(|n| netns::exists(n))
        .collect();
    if dir.root().exists() || !existing.is_empty() {
        let what = if existing.is_empty() {
            format!("{} exists", dir.root().display())
        } else {
            format!("namespaces exist: {}", existing.join(", "))
        };
        return Err(LabError::Failed(format!(
            "lab `{}` is already deployed ({what}); run `lattice-lab destroy` first",
            lab.name
        )));
    }
    Ok(())
}

/// The lab dir must be traversable by user frr (FRR's daemons drop root).
fn create_dir(dir: &LabDir) -> Result<(), LabError> {
    use std::os::unix::fs::PermissionsExt;
    let root = dir.root();
    std::fs::create_dir_all(root).map_err(LabError::io(format!("creating {}", root.display())))?;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))
        .map_err(LabError::io(format!("chmod {}", root.display())))
}

fn build(lab: &Lab, plan: &Plan<'_>, dir: &LabDir, state: &mut LabState) -> Result<(), LabError> {
    for (node, ns) in &plan.namespaces {
        netns::add(ns)?;
        state.namespaces.push(ns.clone());
        state.node_mut(&node.name, node.kind, ns);
        state.save(dir)?;
        let node_dir = dir.node_dir(&node.name);
        std::fs::create_dir_all(&node_dir)
            .map_err(LabError::io(format!("creating {}", node_dir.display())))?;
    }
    for v in &plan.veths {
        netns::veth(&v.a.ns, &v.a.ifname, &v.b.ns, &v.b.ifname)?;
        for e in [&v.a, &v.b] {
            netns::configure(&e.ns, &e.ifname, v.mtu, e.mac.as_deref(), &e.addrs)?;
        }
    }
    println!(
        "{} namespaces and {} links created",
        plan.namespaces.len(),
        plan.veths.len()
    );
    for (node, prep) in &plan.starts {
        println!("starting {} ({})", node.name, node.kind);
        let mut ctx = Ctx {
            lab,
            dir,
            state: &mut *state,
        };
        kinds::start(&mut ctx, node, prep)?;
    }
    Ok(())
}
