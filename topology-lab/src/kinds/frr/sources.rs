//! Where an FRR node's files come from: its startup-config (an integrated `frr.conf`) and binds
//! into `/etc/frr` (a whole directory, or single files: `frr.conf`, `daemons`, `vtysh.conf`,
//! `<daemon>.conf`). A single-file bind wins over the same file in a bound directory, as a
//! file mounted over a mounted directory does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::daemons::DAEMONS;
use crate::error::LabError;
use crate::topology::model::Bind;
use crate::topology::Node;

/// FRR's config directory inside a real FRR container.
pub const FRR_ETC: &str = "/etc/frr";

/// A file FRR reads from `/etc/frr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FrrFile {
    /// `frr.conf`: the integrated config, applied with `vtysh -b`.
    Integrated,
    /// `daemons`: which daemons run, with their options.
    Daemons,
    /// `vtysh.conf`.
    Vtysh,
    /// `<daemon>.conf`, read by that daemon at start.
    Daemon(&'static str),
}

impl FrrFile {
    /// Its name under `/etc/frr`.
    pub fn file_name(self) -> String {
        match self {
            FrrFile::Integrated => "frr.conf".into(),
            FrrFile::Daemons => "daemons".into(),
            FrrFile::Vtysh => "vtysh.conf".into(),
            FrrFile::Daemon(d) => format!("{d}.conf"),
        }
    }

    /// Every file the lab looks for in a bound `/etc/frr` directory.
    fn all() -> impl Iterator<Item = FrrFile> {
        [FrrFile::Integrated, FrrFile::Daemons, FrrFile::Vtysh]
            .into_iter()
            .chain(DAEMONS.iter().map(|d| FrrFile::Daemon(d)))
    }

    fn from_name(name: &str) -> Option<FrrFile> {
        FrrFile::all().find(|f| f.file_name() == name)
    }
}

/// What a bind into `/etc/frr` provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindTarget {
    /// The whole `/etc/frr` directory.
    Dir,
    /// One file.
    File(FrrFile),
}

/// The FRR file or directory a bind's container path targets, if the lab can use it.
pub fn bind_target(container: &str) -> Option<BindTarget> {
    let path = container.trim_end_matches('/');
    if path == FRR_ETC {
        return Some(BindTarget::Dir);
    }
    let name = path.strip_prefix(FRR_ETC)?.strip_prefix('/')?;
    FrrFile::from_name(name).map(BindTarget::File)
}

/// One file's text and the host path it was read from (named in errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Host path.
    pub origin: PathBuf,
    /// Contents.
    pub text: String,
}

/// Every FRR file a node has, by the name it has under `/etc/frr`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrrSources {
    /// The files found.
    pub files: BTreeMap<FrrFile, Source>,
}

impl FrrSources {
    /// The integrated config, if any.
    pub fn integrated(&self) -> Option<&Source> {
        self.files.get(&FrrFile::Integrated)
    }

    /// A file, if the node has it.
    pub fn get(&self, f: FrrFile) -> Option<&Source> {
        self.files.get(&f)
    }
}

fn read(path: &Path, node: &str) -> Result<Source, LabError> {
    let text = std::fs::read_to_string(path).map_err(LabError::io(format!(
        "node {node}: reading {}",
        path.display()
    )))?;
    Ok(Source {
        origin: path.to_path_buf(),
        text,
    })
}

/// The host path that provides `f`: a file bind, else the file in a bound directory.
fn bound(binds: &[Bind], f: FrrFile) -> Option<PathBuf> {
    let file = binds
        .iter()
        .find(|b| bind_target(&b.container) == Some(BindTarget::File(f)));
    if let Some(b) = file {
        return Some(b.host.clone());
    }
    binds
        .iter()
        .filter(|b| bind_target(&b.container) == Some(BindTarget::Dir))
        .map(|b| b.host.join(f.file_name()))
        .find(|p| p.is_file())
}

/// Read every FRR file of a node: the startup-config is its `frr.conf` (it wins over a bound
/// one); every other file comes from binds.
pub fn collect(node: &Node) -> Result<FrrSources, LabError> {
    let mut files = BTreeMap::new();
    for f in FrrFile::all() {
        let path = match (f, &node.startup_config) {
            (FrrFile::Integrated, Some(p)) => Some(p.clone()),
            _ => bound(&node.binds, f),
        };
        if let Some(p) = path {
            files.insert(f, read(&p, &node.name)?);
        }
    }
    Ok(FrrSources { files })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Kind;

    fn node(binds: Vec<Bind>, startup: Option<PathBuf>) -> Node {
        Node {
            name: "r1".into(),
            kind: Kind::Frr,
            startup_config: startup,
            exec: vec![],
            binds,
            containers: 0,
            env_files: vec![],
            env: Default::default(),
            labels: Default::default(),
            sysctls: Default::default(),
            hostname: "r1".into(),
            startup_delay: 0,
            frr_daemons: None,
        }
    }

    #[test]
    fn bind_targets() {
        assert_eq!(bind_target("/etc/frr/"), Some(BindTarget::Dir));
        assert_eq!(
            bind_target("/etc/frr/frr.conf"),
            Some(BindTarget::File(FrrFile::Integrated))
        );
        assert_eq!(
            bind_target("/etc/frr/daemons"),
            Some(BindTarget::File(FrrFile::Daemons))
        );
        assert_eq!(
            bind_target("/etc/frr/ospf6d.conf"),
            Some(BindTarget::File(FrrFile::Daemon("ospf6d")))
        );
        assert_eq!(bind_target("/etc/frr/nosuchd.conf"), None);
        assert_eq!(bind_target("/etc/frrx/frr.conf"), None);
        assert_eq!(bind_target("/etc/hosts"), None);
    }

    #[test]
    fn sources_in_order() {
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str, t: &str| {
            let f = d.path().join(n);
            std::fs::write(&f, t).unwrap();
            f
        };
        let sc = p("s.conf", "startup");
        let fc = p("frr.conf", "integrated");
        p("zebra.conf", "z");
        p("daemons", "bgpd=yes");
        let other = p("other-daemons", "ospfd=yes");
        let bind = |h: &PathBuf, c: &str| Bind {
            host: h.clone(),
            container: c.into(),
            read_only: true,
        };
        assert!(collect(&node(vec![], None)).unwrap().files.is_empty());
        let s = collect(&node(
            vec![bind(&fc, "/etc/frr/frr.conf")],
            Some(sc.clone()),
        ))
        .unwrap();
        assert_eq!(
            s.integrated().unwrap().text,
            "startup",
            "startup-config wins"
        );
        assert_eq!(s.integrated().unwrap().origin, sc);
        let s = collect(&node(vec![bind(&fc, "/etc/frr/frr.conf")], None)).unwrap();
        assert_eq!(s.integrated().unwrap().text, "integrated");
        let dir = bind(&d.path().to_path_buf(), "/etc/frr");
        let s = collect(&node(
            vec![dir.clone(), bind(&other, "/etc/frr/daemons")],
            None,
        ))
        .unwrap();
        assert_eq!(s.integrated().unwrap().text, "integrated");
        assert_eq!(s.get(FrrFile::Daemon("zebra")).unwrap().text, "z");
        assert_eq!(
            s.get(FrrFile::Daemons).unwrap().text,
            "ospfd=yes",
            "a file bind wins over the directory's file"
        );
        assert!(s.get(FrrFile::Daemon("bgpd")).is_none());
        let missing = node(vec![], Some(d.path().join("nope")));
        assert!(collect(&missing)
            .unwrap_err()
            .to_string()
            .contains("reading"));
    }
}
