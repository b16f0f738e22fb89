//! Shared by the containerlab-lab tests: a lab directory laid out as containerlab's are (the
//! topology file next to per-node config directories) copied whole into a tempdir, with only
//! the lab's name changed so that concurrent runs do not collide.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::{can_run, Lab};

/// `examples/<example>/` of this crate.
pub fn example_dir(example: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(example)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// These tests need root and FRR: without them they fail, saying why.
pub fn require_root_and_frr() {
    assert!(can_run(&[]), "this test cannot run here (see above)");
}

/// The lab in `dir` (topology `<dir>/<topo>`, lab `name: <orig>`) as lab `<tag><pid>`.
pub fn lab_from_dir(dir: &Path, topo: &str, orig: &str, tag: &str) -> Lab {
    require_root_and_frr();
    let tmp = tempfile::tempdir().unwrap();
    // FRR's daemons run as user frr and must traverse the state directory.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = tmp.path().join("lab");
    copy_tree(dir, &copy);
    let name = format!("{tag}{}", std::process::id());
    let topo_path = copy.join(topo);
    let text = std::fs::read_to_string(&topo_path).unwrap();
    let renamed = text.replacen(&format!("name: {orig}\n"), &format!("name: {name}\n"), 1);
    assert_ne!(renamed, text, "{topo} names its lab `{orig}`");
    std::fs::write(&topo_path, renamed).unwrap();
    let state_root = tmp.path().join("state");
    Lab {
        dir: tmp,
        topo: topo_path,
        name,
        state_root,
    }
}

/// `examples/<example>/<example>.clab.yml` as lab `<tag><pid>`.
pub fn example(example: &str, tag: &str) -> Lab {
    lab_from_dir(
        &example_dir(example),
        &format!("{example}.clab.yml"),
        example,
        tag,
    )
}

/// A file of the copied lab.
pub fn file(lab: &Lab, rel: &str) -> PathBuf {
    lab.topo.parent().unwrap().join(rel)
}

/// Replace `from` by `to` in a file of the copied lab; the 1-based line where `to` now is.
pub fn edit(lab: &Lab, rel: &str, from: &str, to: &str) -> usize {
    let path = file(lab, rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{rel} has no `{from}`");
    let text = text.replacen(from, to, 1);
    std::fs::write(&path, &text).unwrap();
    let first = to.lines().next().unwrap_or(to);
    text.lines()
        .position(|l| l.contains(first))
        .map(|i| i + 1)
        .unwrap()
}

/// `state.json` of the deployed lab.
pub fn state(lab: &Lab) -> serde_json::Value {
    let text = std::fs::read_to_string(lab.lab_dir().join("state.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The daemons the deploy recorded for a node.
pub fn daemons(lab: &Lab, node: &str) -> Vec<String> {
    let st = state(lab);
    let n = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == node)
        .unwrap_or_else(|| panic!("no node {node} in state"))
        .clone();
    n["daemons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

/// Output of `lattice-lab exec NODE -- ARGS...` (must succeed).
pub fn exec(lab: &Lab, node: &str, args: &[&str]) -> String {
    let mut all = vec![node, "--"];
    all.extend_from_slice(args);
    lab.ok("exec", &all)
}

/// Whether `ping -c1 -W1 ADDR` from `node` gets an answer.
pub fn pings(lab: &Lab, node: &str, addr: &str) -> bool {
    lab.run("exec", &[node, "--", "ping", "-c1", "-W1", addr])
        .status
        .success()
}

/// The lab left nothing: no namespace, process or state directory.
pub fn nothing_left(lab: &Lab) {
    assert_eq!(lab.namespaces(), Vec::<String>::new(), "namespaces left");
    assert_eq!(lab.processes(), Vec::<String>::new(), "processes left");
    assert!(!lab.lab_dir().exists(), "state dir left");
}
