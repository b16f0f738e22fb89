//! `frr`: an FRR router run the way FRR's container image runs it (see [`start`]), from an
//! integrated `frr.conf` (the startup-config or a bind), per-daemon files and a `daemons` file
//! ([`sources`]), with the daemons chosen as the image chooses them ([`daemons`]) and the
//! configuration checked by FRR itself ([`check`]).

mod check;
pub mod daemons;
pub mod sources;
mod start;

use std::path::{Path, PathBuf};

pub use sources::bind_target;
pub use start::start;

use self::daemons::{ALWAYS, DAEMONS};
use self::sources::{FrrFile, FrrSources, Source};
use crate::error::LabError;
use crate::topology::Node;

/// One daemon to start, with the options from the daemons file the lab passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonRun {
    /// Daemon name (`bgpd`).
    pub name: &'static str,
    /// `frr_global_options`, `-F <frr_profile>` and `<daemon>_options`, minus the options the
    /// lab sets itself.
    pub options: Vec<String>,
}

/// An FRR node, read and checked before anything is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrrPrepared {
    /// Its files.
    pub sources: FrrSources,
    /// The daemons to start, in start order.
    pub daemons: Vec<DaemonRun>,
    /// What the operator should know (ignored daemons-file settings, config for daemons that
    /// do not run).
    pub notes: Vec<String>,
}

/// Where FRR's daemons live (`FRR_DIR` overrides).
pub fn frr_dir() -> PathBuf {
    std::env::var_os("FRR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/frr"))
}

/// Read the node's files, decide its daemons, and have FRR check every config file.
pub fn prepare(node: &Node) -> Result<FrrPrepared, LabError> {
    let sources = sources::collect(node)?;
    let mut prep = choose_daemons(node, sources)?;
    let configs = prep
        .sources
        .files
        .iter()
        .filter(|(f, _)| matches!(f, FrrFile::Integrated | FrrFile::Daemon(_)));
    for (_, src) in configs {
        check::dry_run(&node.name, &src.origin)?;
    }
    prep.notes.dedup();
    Ok(prep)
}

/// Every daemon the node should run is installed (checked after every node's files, so a
/// missing file is reported first).
pub fn check_installed(node: &Node, prep: &FrrPrepared) -> Result<(), LabError> {
    for d in &prep.daemons {
        let bin = frr_dir().join(d.name);
        if !bin.is_file() {
            return Err(LabError::Failed(format!(
                "node {}: {} should run but {} is not installed",
                node.name,
                d.name,
                bin.display()
            )));
        }
    }
    Ok(())
}

/// Daemons from `extras.frr.daemons`, else the daemons file, else the configs' sections;
/// zebra and staticd always, in FRR's start order.
pub fn choose_daemons(node: &Node, sources: FrrSources) -> Result<FrrPrepared, LabError> {
    let fail = |m: String| LabError::Failed(format!("node {}: {m}", node.name));
    let mut notes = Vec::new();
    let mut options: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    let mut global = Vec::new();
    let configured = configured_daemons(&sources);
    let (chosen, from): (Vec<&'static str>, String) = if let Some(list) = &node.frr_daemons {
        let mut out = Vec::new();
        for name in list {
            let d = DAEMONS.iter().find(|d| **d == name).ok_or_else(|| {
                fail(format!(
                    "extras.frr.daemons: unknown FRR daemon `{name}` (known: {})",
                    DAEMONS.join(", ")
                ))
            })?;
            out.push(*d);
        }
        (out, "extras.frr.daemons".into())
    } else if let Some(src) = sources.get(FrrFile::Daemons) {
        let file = daemons::parse_daemons_file(&src.text)
            .map_err(|(line, m)| fail(format!("{}:{line}: {m}", src.origin.display())))?;
        for i in &file.ignored {
            notes.push(format!(
                "node {}: {} {i} ignored",
                node.name,
                src.origin.display()
            ));
        }
        options = file.options;
        global = file.global;
        (
            file.enabled,
            format!("its daemons file {}", src.origin.display()),
        )
    } else {
        let all = configured.iter().map(|(d, _, _)| *d).collect();
        (all, String::new())
    };
    let mut daemons = Vec::new();
    for d in DAEMONS {
        if !ALWAYS.contains(&d) && !chosen.contains(&d) {
            continue;
        }
        let mut words = global.clone();
        words.extend(options.get(d).cloned().unwrap_or_default());
        let (kept, dropped) = daemons::filter_options(&words);
        for o in dropped {
            notes.push(format!(
                "node {}: {d} option `{o}` ignored (the lab sets FRR's paths, user and log itself)",
                node.name
            ));
        }
        daemons.push(DaemonRun {
            name: d,
            options: kept,
        });
    }
    if !from.is_empty() {
        for (d, src, line) in &configured {
            if !daemons.iter().any(|r| r.name == *d) {
                notes.push(format!(
                    "node {}: {}:{line} configures {d} but {from} does not enable it: FRR \
                     ignores that part",
                    node.name,
                    src.display()
                ));
            }
        }
    }
    Ok(FrrPrepared {
        sources,
        daemons,
        notes,
    })
}

/// Daemons the node's config files need: their sections, and `<daemon>.conf` files themselves.
fn configured_daemons(sources: &FrrSources) -> Vec<(&'static str, PathBuf, usize)> {
    let mut out: Vec<(&'static str, PathBuf, usize)> = Vec::new();
    let mut add = |d: &'static str, src: &Source, line: usize| {
        if !out.iter().any(|(o, _, _)| *o == d) {
            out.push((d, src.origin.clone(), line));
        }
    };
    for (f, src) in &sources.files {
        match f {
            FrrFile::Integrated => {
                for (d, line) in daemons::configured(&src.text) {
                    add(d, src, line);
                }
            }
            FrrFile::Daemon(d) => add(d, src, 1),
            _ => {}
        }
    }
    out
}

/// FRR's daemons drop to user frr: every existing ancestor of `dir` must be world-searchable.
pub fn check_reachable_by_frr(dir: &Path) -> Result<(), LabError> {
    use std::os::unix::fs::PermissionsExt;
    for a in dir.ancestors().skip(1) {
        let mode = std::fs::metadata(a)
            .map(|m| m.permissions().mode())
            .unwrap_or(0o755);
        if mode & 0o001 == 0 {
            return Err(LabError::Failed(format!(
                "user frr cannot reach {}: {} is not searchable by others (chmod o+x it, or set \
                 LATTICE_LAB_DIR elsewhere)",
                dir.display(),
                a.display()
            )));
        }
    }
    Ok(())
}

/// Insert `--vty_socket RUN --config_dir ETC` into a command line that starts with `vtysh`, so
/// it talks to the node's daemons (and `write memory` writes the node's frr.conf).
pub fn vtysh_line(line: &str, run: &str, etc: &str) -> String {
    let trimmed = line.trim_start();
    match trimmed.strip_prefix("vtysh") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
            format!("vtysh --vty_socket {run} --config_dir {etc}{rest}")
        }
        _ => line.to_string(),
    }
}

/// Insert `--vty_socket RUN --config_dir ETC` after a leading `vtysh` argument.
pub fn vtysh_args(cmd: &[String], run: &str, etc: &str) -> Vec<String> {
    match cmd.split_first() {
        Some((first, rest)) if first == "vtysh" || first.ends_with("/vtysh") => {
            let mut out = vec![
                first.clone(),
                "--vty_socket".to_string(),
                run.to_string(),
                "--config_dir".to_string(),
                etc.to_string(),
            ];
            out.extend(rest.iter().cloned());
            out
        }
        _ => cmd.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Kind;

    #[test]
    fn vtysh_gets_its_socket_and_config_dir() {
        assert_eq!(
            vtysh_line("vtysh -c 'show bgp summary'", "/r", "/e"),
            "vtysh --vty_socket /r --config_dir /e -c 'show bgp summary'"
        );
        assert_eq!(
            vtysh_line("vtysh", "/r", "/e"),
            "vtysh --vty_socket /r --config_dir /e"
        );
        assert_eq!(vtysh_line("vtyshx -c", "/r", "/e"), "vtyshx -c");
        assert_eq!(vtysh_line("ip addr", "/r", "/e"), "ip addr");
        let cmd: Vec<String> = ["vtysh", "-c", "show run"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            vtysh_args(&cmd, "/r", "/e"),
            [
                "vtysh",
                "--vty_socket",
                "/r",
                "--config_dir",
                "/e",
                "-c",
                "show run"
            ]
        );
        let cmd = vec!["ip".to_string()];
        assert_eq!(vtysh_args(&cmd, "/r", "/e"), cmd);
    }

    #[test]
    fn unreachable_state_dir_is_caught() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = check_reachable_by_frr(&d.path().join("lab"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not searchable"), "{e}");
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        check_reachable_by_frr(&d.path().join("lab")).unwrap();
    }

    fn node(frr_daemons: Option<Vec<&str>>) -> Node {
        Node {
            name: "r1".into(),
            kind: Kind::Frr,
            startup_config: None,
            exec: vec![],
            binds: vec![],
            containers: 0,
            env_files: vec![],
            env: Default::default(),
            labels: Default::default(),
            sysctls: Default::default(),
            hostname: "r1".into(),
            startup_delay: 0,
            frr_daemons: frr_daemons.map(|l| l.into_iter().map(String::from).collect()),
        }
    }

    fn sources(files: &[(FrrFile, &str)]) -> FrrSources {
        FrrSources {
            files: files
                .iter()
                .map(|(f, t)| {
                    let origin = PathBuf::from(format!("/cfg/{}", f.file_name()));
                    let text = t.to_string();
                    (*f, Source { origin, text })
                })
                .collect(),
        }
    }

    fn names(p: &FrrPrepared) -> Vec<&str> {
        p.daemons.iter().map(|d| d.name).collect()
    }

    const CONF: &str = "hostname r1\ninterface eth1\n ip address 10.0.0.1/31\n!\n\
                        router bgp 65001\n neighbor 10.0.0.0 remote-as 65002\n!\nrouter ospf\n!\n";

    #[test]
    fn daemons_come_from_the_config_without_a_daemons_file() {
        let p = choose_daemons(&node(None), sources(&[(FrrFile::Integrated, CONF)])).unwrap();
        assert_eq!(names(&p), ["zebra", "bgpd", "ospfd", "staticd"]);
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        let p = choose_daemons(&node(None), sources(&[])).unwrap();
        assert_eq!(
            names(&p),
            ["zebra", "staticd"],
            "FRR's image always runs these"
        );
        let p = choose_daemons(
            &node(None),
            sources(&[(FrrFile::Daemon("bgpd"), "router bgp 1\n")]),
        )
        .unwrap();
        assert_eq!(names(&p), ["zebra", "bgpd", "staticd"]);
    }

    #[test]
    fn a_daemons_file_decides_and_its_options_are_filtered() {
        let daemons = "bgpd=yes\nbfdd=yes\nospfd=no\n\
                       bgpd_options=\"--daemon -A 127.0.0.1 -M bmp -i /var/run/frr/b.pid\"\n";
        let p = choose_daemons(
            &node(None),
            sources(&[(FrrFile::Integrated, CONF), (FrrFile::Daemons, daemons)]),
        )
        .unwrap();
        assert_eq!(names(&p), ["zebra", "bgpd", "staticd", "bfdd"]);
        assert_eq!(p.daemons[1].options, ["-A", "127.0.0.1", "-M", "bmp"]);
        assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
        assert!(p.notes[0].contains("bgpd option `-i /var/run/frr/b.pid` ignored"));
        assert!(
            p.notes[1].contains("/cfg/frr.conf:8 configures ospfd but its daemons file"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn extras_decide_first_and_unknown_daemons_are_refused() {
        let p = choose_daemons(
            &node(Some(vec!["bfdd", "bgpd"])),
            sources(&[
                (FrrFile::Integrated, CONF),
                (FrrFile::Daemons, "ospfd=yes\n"),
            ]),
        )
        .unwrap();
        assert_eq!(names(&p), ["zebra", "bgpd", "staticd", "bfdd"]);
        let e = choose_daemons(&node(Some(vec!["bgp"])), sources(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown FRR daemon `bgp`"), "{e}");
        let e = choose_daemons(
            &node(None),
            sources(&[(FrrFile::Daemons, "bgpd=yes\nbgpd_options=\"$X\"\n")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/cfg/daemons:2: "), "{e}");
    }
}
