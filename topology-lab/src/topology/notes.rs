//! What the lab accepts but does not use, told to the operator once each, with the reason.
//!
//! Ignored keys are reported where they are written (`topology.kinds.linux.cpu`), not once per
//! node that inherits them.

use super::file::{NodeSettings, TopologyFile};
use super::model::{Bind, Kind};

/// Notes in the order found, each once.
#[derive(Debug, Default)]
pub struct Notes(Vec<String>);

impl Notes {
    /// Add a note unless the same text is already there.
    pub fn push(&mut self, note: String) {
        if !self.0.contains(&note) {
            self.0.push(note);
        }
    }

    /// The notes.
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// Kinds whose nodes the lab runs.
const RUNNABLE_KINDS: [&str; 4] = ["frr", "linux", "lattice", "etcd"];

/// Notes about the file as a whole and each settings layer.
pub fn file_notes(file: &TopologyFile, notes: &mut Notes) {
    let top = [
        (
            "prefix",
            file.prefix.is_some(),
            "namespaces are always named <name>-<node>",
        ),
        (
            "mgmt",
            file.mgmt.is_some(),
            "there is no management network (nodes get no eth0 and no management address)",
        ),
        (
            "settings",
            file.settings.is_some(),
            "no certificate authority is made",
        ),
        ("debug", file.debug.is_some(), "it is containerlab's"),
    ];
    for (key, set, why) in top {
        if set {
            notes.push(format!("{key} ignored: {why}"));
        }
    }
    let t = &file.topology;
    layer_notes("topology.defaults", &t.defaults, notes);
    for (k, s) in &t.kinds {
        let at = format!("topology.kinds.{k}");
        if !RUNNABLE_KINDS.contains(&k.as_str()) {
            notes.push(format!(
                "{at} ignored: lattice-lab does not run kind {k} (a node of that kind is an error)"
            ));
            continue;
        }
        if s.kind.is_some() {
            notes.push(format!(
                "{at}.kind ignored: a kind's settings cannot change its kind"
            ));
        }
        layer_notes(&at, s, notes);
    }
    for (g, s) in &t.groups {
        let at = format!("topology.groups.{g}");
        if s.group.is_some() {
            notes.push(format!("{at}.group ignored: groups do not nest"));
        }
        layer_notes(&at, s, notes);
    }
    for (n, s) in &t.nodes {
        layer_notes(&format!("topology.nodes.{n}"), s, notes);
    }
}

/// Ignored keys and vendor extras of one settings layer.
fn layer_notes(at: &str, s: &NodeSettings, notes: &mut Notes) {
    for (key, why) in s.ignored() {
        notes.push(format!("{at}.{key} ignored: {why}"));
    }
    for key in s.extras.iter().flat_map(|e| e.vendor_keys()) {
        notes.push(format!(
            "{at}.extras.{key} ignored: it is for a kind lattice-lab does not run"
        ));
    }
}

/// What happens to a node's image.
pub fn image(name: &str, kind: Kind, image: Option<&String>, notes: &mut Notes) {
    let Some(image) = image else { return };
    let note = match kind {
        Kind::Frr if super::resolve::is_frr_image(image) => format!(
            "node {name}: image `{image}` is FRR's: the node runs this machine's FRR daemons the \
             way that image runs them"
        ),
        Kind::Linux => format!(
            "node {name}: image `{image}` ignored (no container engine): exec lines run with \
             this machine's tools"
        ),
        _ => format!("node {name}: image `{image}` ignored (no container engine)"),
    };
    notes.push(note);
}

/// Tell the operator which binds do nothing.
pub fn binds(name: &str, kind: Kind, binds: &[Bind], notes: &mut Notes) {
    for b in binds {
        let used = kind == Kind::Frr && crate::kinds::frr::bind_target(&b.container).is_some();
        if !used {
            notes.push(format!(
                "node {name}: bind to {} ignored (no mount namespace; only FRR's files under \
                 /etc/frr are used, by FRR nodes)",
                b.container
            ));
        }
    }
}
