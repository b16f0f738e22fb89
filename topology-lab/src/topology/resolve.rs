//! Merging (node > group > kind > defaults) and validation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::file::{NodeSettings, TopologyFile};
use super::model::{Bind, Endpoint, Kind, Lab, Link, Node};

/// (where, what) of a semantic error.
pub(super) type Problem = (String, String);

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;
/// Upper bound on containers per lattice node (one /24 block).
const MAX_CONTAINERS: u32 = 250;

/// Merge and validate a parsed file.
pub(super) fn resolve(file: &TopologyFile, base: &Path) -> Result<Lab, Problem> {
    check_name("name", &file.name)?;
    let t = &file.topology;
    check_sections(file)?;
    if t.nodes.is_empty() {
        return Err(("topology.nodes".into(), "the lab has no nodes".into()));
    }
    let mut notes = Vec::new();
    let mut nodes = Vec::new();
    for (name, own) in &t.nodes {
        nodes.push(resolve_node(file, name, own, base, &mut notes)?);
    }
    check_container_names(&nodes)?;
    let links = resolve_links(file, &nodes)?;
    Ok(Lab {
        name: file.name.clone(),
        nodes,
        links,
        notes,
    })
}

/// `kind` may not appear under `kinds`, `group` only on nodes; kind names must be known.
fn check_sections(file: &TopologyFile) -> Result<(), Problem> {
    let t = &file.topology;
    if t.defaults.group.is_some() {
        return Err((
            "topology.defaults.group".into(),
            "`group` is only allowed on nodes".into(),
        ));
    }
    for (k, s) in &t.kinds {
        let at = format!("topology.kinds.{k}");
        if Kind::parse(k).is_none() {
            return Err((
                at,
                format!("unknown kind `{k}` (known: frr, linux, lattice)"),
            ));
        }
        if s.kind.is_some() || s.group.is_some() {
            return Err((
                at,
                "`kind` and `group` are not allowed inside a kind".into(),
            ));
        }
    }
    for (g, s) in &t.groups {
        check_name(&format!("topology.groups.{g}"), g)?;
        if s.group.is_some() {
            return Err((
                format!("topology.groups.{g}.group"),
                "groups cannot nest".into(),
            ));
        }
    }
    Ok(())
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

fn resolve_node(
    file: &TopologyFile,
    name: &str,
    own: &NodeSettings,
    base: &Path,
    notes: &mut Vec<String>,
) -> Result<Node, Problem> {
    let t = &file.topology;
    let at = format!("topology.nodes.{name}");
    check_name(&at, name)?;
    let group = match &own.group {
        Some(g) => Some(
            t.groups
                .get(g)
                .ok_or_else(|| (format!("{at}.group"), format!("unknown group `{g}`")))?,
        ),
        None => None,
    };
    let kind_name = own
        .kind
        .as_ref()
        .or(group.and_then(|g| g.kind.as_ref()))
        .or(t.defaults.kind.as_ref())
        .ok_or_else(|| {
            (
                at.clone(),
                "no `kind` (set it on the node, its group or defaults)".into(),
            )
        })?;
    let kind = Kind::parse(kind_name).ok_or_else(|| {
        (
            format!("{at}.kind"),
            format!("unknown kind `{kind_name}` (known: frr, linux, lattice)"),
        )
    })?;
    let mut layers = vec![own];
    layers.extend(group);
    layers.extend(t.kinds.get(kind_name.as_str()));
    layers.push(&t.defaults);

    if let Some(image) = pick(&layers, |l| l.image.as_ref()) {
        notes.push(format!(
            "node {name}: image `{image}` ignored (no container engine)"
        ));
    }
    let startup_config = pick(&layers, |l| l.startup_config.as_ref()).map(|p| base.join(p));
    let exec = pick(&layers, |l| l.exec.as_ref())
        .cloned()
        .unwrap_or_default();
    let binds = merge_binds(&layers, &at, base)?;
    let containers = pick(&layers, |l| l.containers.as_ref()).copied();
    let containers = match (kind, containers) {
        (Kind::Lattice, Some(n)) if n > MAX_CONTAINERS => {
            return Err((
                format!("{at}.containers"),
                format!("at most {MAX_CONTAINERS} containers"),
            ))
        }
        (Kind::Lattice, n) => n.unwrap_or(0),
        (_, Some(_)) => {
            return Err((
                format!("{at}.containers"),
                format!("`containers` is only for kind lattice, not {kind}"),
            ))
        }
        (_, None) => 0,
    };
    if kind == Kind::Lattice && startup_config.is_none() {
        return Err((
            at,
            "a lattice node needs a `startup-config` (latticed's YAML)".into(),
        ));
    }
    if kind == Kind::Linux && startup_config.is_some() {
        notes.push(format!(
            "node {name}: startup-config ignored for kind linux"
        ));
    }
    note_binds(name, kind, &binds, notes);
    Ok(Node {
        name: name.to_string(),
        kind,
        startup_config,
        exec,
        binds,
        containers,
    })
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

/// `host:container[:ro|rw]`.
pub(super) fn parse_bind(raw: &str, base: &Path) -> Result<Bind, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (host, container, mode) = match parts.as_slice() {
        [h, c] => (*h, *c, None),
        [h, c, m] => (*h, *c, Some(*m)),
        _ => return Err(format!("bind `{raw}` is not host:container[:ro]")),
    };
    if host.is_empty() || !container.starts_with('/') {
        return Err(format!(
            "bind `{raw}`: need a host path and an absolute container path"
        ));
    }
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(m) => return Err(format!("bind `{raw}`: unknown mode `{m}` (ro or rw)")),
    };
    Ok(Bind {
        host: base.join(host),
        container: container.to_string(),
        read_only,
    })
}

/// Tell the operator which binds do nothing.
fn note_binds(name: &str, kind: Kind, binds: &[Bind], notes: &mut Vec<String>) {
    for b in binds {
        let used = kind == Kind::Frr && crate::kinds::frr::bind_target(&b.container).is_some();
        if !used {
            notes.push(format!(
                "node {name}: bind to {} ignored (no mount namespace; only FRR config binds are used)",
                b.container
            ));
        }
    }
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

fn resolve_links(file: &TopologyFile, nodes: &[Node]) -> Result<Vec<Link>, Problem> {
    let mut used: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut links = Vec::new();
    for (li, spec) in file.topology.links.iter().enumerate() {
        let at = format!("topology.links[{li}].endpoints");
        let [a, b] = spec.endpoints.as_slice() else {
            return Err((
                at,
                format!("need exactly 2 endpoints, got {}", spec.endpoints.len()),
            ));
        };
        let mut eps = Vec::new();
        for (ei, raw) in [a, b].into_iter().enumerate() {
            let eat = format!("{at}[{ei}]");
            let ep = parse_endpoint(raw).map_err(|m| (eat.clone(), m))?;
            if !nodes.iter().any(|n| n.name == ep.node) {
                return Err((eat, format!("`{raw}` names unknown node `{}`", ep.node)));
            }
            let key = (ep.node.clone(), ep.ifname.clone());
            if let Some(prev) = used.insert(key, eat.clone()) {
                return Err((eat, format!("interface `{raw}` is already used at {prev}")));
            }
            eps.push(ep);
        }
        let mut it = eps.into_iter();
        if let (Some(a), Some(b)) = (it.next(), it.next()) {
            links.push(Link { a, b });
        }
    }
    Ok(links)
}

/// `node:ifname` with a usable Linux interface name.
pub(super) fn parse_endpoint(raw: &str) -> Result<Endpoint, String> {
    let Some((node, ifname)) = raw.split_once(':') else {
        return Err(format!("endpoint `{raw}` is not node:interface"));
    };
    if node.is_empty() || ifname.is_empty() {
        return Err(format!("endpoint `{raw}` is not node:interface"));
    }
    let if_ok = ifname.len() <= MAX_IFNAME
        && ifname != "lo"
        && ifname
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !if_ok {
        return Err(format!(
            "endpoint `{raw}`: `{ifname}` is not a usable interface name (1-15 of [A-Za-z0-9_.-], not lo)"
        ));
    }
    Ok(Endpoint {
        node: node.to_string(),
        ifname: ifname.to_string(),
    })
}
