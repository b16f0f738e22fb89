//! Merging the way containerlab merges (node > group > kind > defaults) and validation.
//!
//! Scalars come from the most specific layer that sets them; `exec`, `binds` and `env-files`
//! are concatenated from `defaults` to the node (binds keyed by their container path, the more
//! specific winning); `env`, `labels` and `sysctls` are merged key by key. A node's kind is its
//! own, else its group's, else the group named in `defaults`, else `defaults`'; its group is its
//! own, else its kind's, else `defaults`'. A group without an entry under `topology.groups` is a
//! plain label (containerlab uses groups to sort graphs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::file::{NodeSettings, Scalar, TopologyFile};
use super::model::{Bind, Kind, Lab, Node};
use super::notes::{self, Notes};

/// (where, what) of a semantic error.
pub(super) type Problem = (String, String);

/// Upper bound on containers per lattice node (one /24 block).
const MAX_CONTAINERS: u32 = 250;

/// Merge and validate a parsed file.
pub(super) fn resolve(file: &TopologyFile, base: &Path) -> Result<Lab, Problem> {
    check_name("name", &file.name)?;
    let t = &file.topology;
    if t.nodes.is_empty() {
        return Err(("topology.nodes".into(), "the lab has no nodes".into()));
    }
    let mut notes = Notes::default();
    notes::file_notes(file, &mut notes);
    let mut nodes = Vec::new();
    for (name, own) in &t.nodes {
        nodes.push(resolve_node(file, name, own, base, &mut notes)?);
    }
    check_container_names(&nodes)?;
    let links = super::links::resolve_links(file, &nodes, &mut notes)?;
    Ok(Lab {
        name: file.name.clone(),
        nodes,
        links,
        notes: notes.into_vec(),
    })
}

/// Names become parts of namespace names: keep them to a safe alphabet.
fn check_name(at: &str, name: &str) -> Result<(), Problem> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with(['-', '.']);
    if ok {
        Ok(())
    } else {
        Err((
            at.into(),
            format!("`{name}` is not a valid name (use 1-64 of [A-Za-z0-9_.-])"),
        ))
    }
}

/// The first of node > group > kind > defaults that sets a key.
fn pick<'a, T>(
    layers: &[&'a NodeSettings],
    get: impl Fn(&'a NodeSettings) -> Option<&'a T>,
) -> Option<&'a T> {
    layers.iter().find_map(|l| get(l))
}

/// Lists from defaults to the node, each entry once (containerlab's `exec`, `env-files`).
fn concat<'a>(
    layers: &[&'a NodeSettings],
    get: impl Fn(&'a NodeSettings) -> Option<&'a Vec<String>>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in layers.iter().rev() {
        for item in get(l).into_iter().flatten() {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
    }
    out
}

/// Maps merged key by key, the more specific layer winning (`env`, `labels`, `sysctls`).
fn merge_maps<'a>(
    layers: &[&'a NodeSettings],
    get: impl Fn(&'a NodeSettings) -> Option<&'a BTreeMap<String, Scalar>>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for l in layers.iter().rev() {
        for (k, v) in get(l).into_iter().flatten() {
            out.insert(k.clone(), v.0.clone());
        }
    }
    out
}

/// The kind name and the settings layers (node, group, kind, defaults) of a node.
fn layers<'a>(
    file: &'a TopologyFile,
    at: &str,
    own: &'a NodeSettings,
) -> Result<(&'a str, Vec<&'a NodeSettings>), Problem> {
    let t = &file.topology;
    let group_of = |g: Option<&String>| g.and_then(|g| t.groups.get(g));
    let kind_name = own
        .kind
        .as_ref()
        .or(group_of(own.group.as_ref()).and_then(|g| g.kind.as_ref()))
        .or(group_of(t.defaults.group.as_ref()).and_then(|g| g.kind.as_ref()))
        .or(t.defaults.kind.as_ref())
        .ok_or_else(|| {
            (
                at.to_string(),
                "no `kind` (set it on the node, its group or defaults)".into(),
            )
        })?;
    let kind_layer = t.kinds.get(kind_name.as_str());
    let group = own
        .group
        .as_ref()
        .or(kind_layer.and_then(|k| k.group.as_ref()))
        .or(t.defaults.group.as_ref());
    let mut layers = vec![own];
    layers.extend(group_of(group));
    layers.extend(kind_layer);
    layers.push(&t.defaults);
    Ok((kind_name.as_str(), layers))
}

/// Whether an image reference names FRR's image (`quay.io/frrouting/frr:10.5.1`,
/// `frrouting/frr:v8.4.1`, `registry:5000/frr`).
pub fn is_frr_image(image: &str) -> bool {
    let repo = image.split('@').next().unwrap_or(image);
    let last = repo.rsplit('/').next().unwrap_or(repo);
    let last = last.split(':').next().unwrap_or(last);
    last == "frr" || last.starts_with("frr-") || repo.contains("frrouting/")
}

fn resolve_kind(at: &str, kind_name: &str, image: Option<&String>) -> Result<Kind, Problem> {
    match kind_name {
        "frr" => Ok(Kind::Frr),
        "lattice" => Ok(Kind::Lattice),
        "etcd" => Ok(Kind::Etcd),
        "linux" if image.is_some_and(|i| is_frr_image(i)) => Ok(Kind::Frr),
        "linux" => Ok(Kind::Linux),
        other => Err((
            format!("{at}.kind"),
            format!(
                "kind `{other}` cannot run here: lattice-lab runs `linux` nodes (FRR routers when \
                 the image is FRR's), `frr`, `lattice` and `etcd`"
            ),
        )),
    }
}

fn resolve_node(
    file: &TopologyFile,
    name: &str,
    own: &NodeSettings,
    base: &Path,
    notes: &mut Notes,
) -> Result<Node, Problem> {
    let at = format!("topology.nodes.{name}");
    check_name(&at, name)?;
    let (kind_name, layers) = layers(file, &at, own)?;
    let image = pick(&layers, |l| l.image.as_ref());
    let kind = resolve_kind(&at, kind_name, image)?;
    notes::image(name, kind, image, notes);
    check_network_mode(&at, &layers)?;

    let mut startup_config = pick(&layers, |l| l.startup_config.as_ref()).map(|p| base.join(p));
    if kind_name == "linux" && startup_config.is_some() {
        startup_config = None;
        notes.push(format!(
            "node {name}: startup-config ignored: containerlab's linux kind has none{}",
            if kind == Kind::Frr {
                " (bind the file to /etc/frr/frr.conf)"
            } else {
                ""
            }
        ));
    }
    let containers = containers(&at, kind, pick(&layers, |l| l.containers.as_ref()))?;
    if kind == Kind::Lattice && startup_config.is_none() {
        return Err((
            at,
            "a lattice node needs a `startup-config` (latticed's YAML)".into(),
        ));
    }
    let binds = merge_binds(&layers, &at, base)?;
    notes::binds(name, kind, &binds, notes);
    let hostname = pick(&layers, |l| l.hostname.as_ref());
    if hostname.is_some() && kind != Kind::Frr {
        notes.push(format!(
            "node {name}: hostname ignored: only FRR uses it (there is no UTS namespace)"
        ));
    }
    let extras = pick(&layers, |l| l.extras.as_ref());
    let frr_daemons = extras
        .and_then(|e| e.frr.as_ref())
        .map(|f| f.daemons.clone());
    if frr_daemons.is_some() && kind != Kind::Frr {
        notes.push(format!(
            "node {name}: extras.frr ignored: the node does not run FRR"
        ));
    }
    Ok(Node {
        name: name.to_string(),
        kind,
        startup_config,
        exec: concat(&layers, |l| l.exec.as_ref()),
        binds,
        containers,
        env_files: concat(&layers, |l| l.env_files.as_ref())
            .iter()
            .map(|f| base.join(f))
            .collect(),
        env: merge_maps(&layers, |l| l.env.as_ref()),
        labels: merge_maps(&layers, |l| l.labels.as_ref()),
        sysctls: sysctls(
            &at,
            name,
            merge_maps(&layers, |l| l.sysctls.as_ref()),
            notes,
        )?,
        hostname: hostname.cloned().unwrap_or_else(|| name.to_string()),
        startup_delay: pick(&layers, |l| l.startup_delay.as_ref())
            .copied()
            .unwrap_or(0),
        frr_daemons,
    })
}

fn containers(at: &str, kind: Kind, n: Option<&u32>) -> Result<u32, Problem> {
    match (kind, n.copied()) {
        (Kind::Lattice, Some(n)) if n > MAX_CONTAINERS => Err((
            format!("{at}.containers"),
            format!("at most {MAX_CONTAINERS} containers"),
        )),
        (Kind::Lattice, n) => Ok(n.unwrap_or(0)),
        (_, Some(_)) => Err((
            format!("{at}.containers"),
            format!("`containers` is only for kind lattice, not {kind}"),
        )),
        (_, None) => Ok(0),
    }
}

/// `none` is what every node here is; sharing the machine's or another node's namespace
/// would change the lab (and touch the machine's network).
fn check_network_mode(at: &str, layers: &[&NodeSettings]) -> Result<(), Problem> {
    match pick(layers, |l| l.network_mode.as_ref()).map(String::as_str) {
        None | Some("none") | Some("bridge") => Ok(()),
        Some(m) => Err((
            format!("{at}.network-mode"),
            format!(
                "network-mode `{m}` is not supported: every node has its own network namespace \
                 and lattice-lab never uses the machine's"
            ),
        )),
    }
}

/// Keep `net.*` (per network namespace); IPC sysctls are ignored (no IPC namespace); any other
/// would change the machine itself.
fn sysctls(
    at: &str,
    name: &str,
    all: BTreeMap<String, String>,
    notes: &mut Notes,
) -> Result<BTreeMap<String, String>, Problem> {
    let mut out = BTreeMap::new();
    for (k, v) in all {
        let ipc = k.starts_with("kernel.shm")
            || k.starts_with("kernel.msg")
            || k == "kernel.sem"
            || k.starts_with("fs.mqueue.");
        if k.starts_with("net.") {
            out.insert(k, v);
        } else if ipc {
            notes.push(format!(
                "node {name}: sysctl {k} ignored: there is no IPC namespace"
            ));
        } else {
            return Err((
                format!("{at}.sysctls.{k}"),
                "not a network-namespace sysctl: setting it would change the machine itself".into(),
            ));
        }
    }
    Ok(out)
}

/// Binds from every layer; for the same container path the more specific layer wins.
fn merge_binds(layers: &[&NodeSettings], at: &str, base: &Path) -> Result<Vec<Bind>, Problem> {
    let mut out: Vec<Bind> = Vec::new();
    for layer in layers {
        for (i, raw) in layer.binds.iter().flatten().enumerate() {
            let b = parse_bind(raw, base).map_err(|m| (format!("{at}.binds[{i}]"), m))?;
            if !out.iter().any(|o| o.container == b.container) {
                out.push(b);
            }
        }
    }
    Ok(out)
}

/// Docker's bind options containerlab passes through.
const BIND_OPTIONS: [&str; 11] = [
    "ro", "rw", "z", "Z", "shared", "rshared", "slave", "rslave", "private", "rprivate", "nocopy",
];

/// `host:container[:options]`, options comma-separated (`ro`, `rw`, `Z`, ...).
pub(super) fn parse_bind(raw: &str, base: &Path) -> Result<Bind, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (host, container, options) = match parts.as_slice() {
        [h, c] => (*h, *c, ""),
        [h, c, o] => (*h, *c, *o),
        _ => return Err(format!("bind `{raw}` is not host:container[:options]")),
    };
    if host.is_empty() || !container.starts_with('/') {
        return Err(format!(
            "bind `{raw}`: need a host path and an absolute container path"
        ));
    }
    let options: Vec<&str> = options.split(',').filter(|o| !o.is_empty()).collect();
    if let Some(bad) = options.iter().find(|o| !BIND_OPTIONS.contains(o)) {
        return Err(format!(
            "bind `{raw}`: unknown option `{bad}` (ro, rw, z, Z, [r]shared, [r]slave, \
             [r]private, nocopy)"
        ));
    }
    Ok(Bind {
        host: base.join(host),
        container: container.to_string(),
        read_only: options.contains(&"ro"),
    })
}

/// `<node>-c<i>` names of containers must not clash with node names.
fn check_container_names(nodes: &[Node]) -> Result<(), Problem> {
    let names: BTreeSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    for n in nodes {
        for i in 1..=n.containers {
            let c = Lab::container_name(&n.name, i);
            if names.contains(c.as_str()) {
                return Err((
                    format!("topology.nodes.{c}"),
                    format!(
                        "node name clashes with container {i} of lattice node {}",
                        n.name
                    ),
                ));
            }
        }
    }
    Ok(())
}
