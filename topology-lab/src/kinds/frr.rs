//! `frr`: zebra + bgpd as user frr inside the node's namespace (no watchfrr, nothing in /etc).

use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::Ctx;
use crate::error::LabError;
use crate::sh;
use crate::topology::model::Bind;
use crate::topology::Node;

/// FRR's config directory inside a real FRR container.
const FRR_ETC: &str = "/etc/frr";
/// How long a daemon gets to write its pid file.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Which FRR file a bind provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindTarget {
    /// The whole `/etc/frr` directory.
    Dir,
    /// `/etc/frr/bgpd.conf`.
    Bgpd,
    /// `/etc/frr/zebra.conf`.
    Zebra,
    /// `/etc/frr/frr.conf` (integrated config, fed to bgpd).
    Integrated,
}

/// The FRR file a bind's container path targets, if the lab can use it.
pub fn bind_target(container: &str) -> Option<BindTarget> {
    match container.trim_end_matches('/') {
        FRR_ETC => Some(BindTarget::Dir),
        "/etc/frr/bgpd.conf" => Some(BindTarget::Bgpd),
        "/etc/frr/zebra.conf" => Some(BindTarget::Zebra),
        "/etc/frr/frr.conf" => Some(BindTarget::Integrated),
        _ => None,
    }
}

/// zebra.conf and bgpd.conf contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrrFiles {
    /// zebra.conf.
    pub zebra: String,
    /// bgpd.conf.
    pub bgpd: String,
}

/// The host file a bind provides for `want`, looking inside directory binds too.
fn from_binds(binds: &[Bind], want: BindTarget, file: &str) -> Option<PathBuf> {
    binds.iter().find_map(|b| match bind_target(&b.container)? {
        t if t == want => Some(b.host.clone()),
        BindTarget::Dir if b.host.join(file).is_file() => Some(b.host.join(file)),
        _ => None,
    })
}

fn read(path: &Path, node: &str) -> Result<String, LabError> {
    std::fs::read_to_string(path).map_err(LabError::io(format!(
        "node {node}: reading {}",
        path.display()
    )))
}

/// bgpd: startup-config, else a bgpd.conf bind, else a frr.conf bind; zebra: a zebra.conf bind,
/// else just the hostname.
pub fn prepare(node: &Node) -> Result<FrrFiles, LabError> {
    let hostname = format!("hostname {}\n", node.name);
    let bgpd_src = node
        .startup_config
        .clone()
        .or_else(|| from_binds(&node.binds, BindTarget::Bgpd, "bgpd.conf"))
        .or_else(|| from_binds(&node.binds, BindTarget::Integrated, "frr.conf"));
    let bgpd = match bgpd_src {
        Some(p) => read(&p, &node.name)?,
        None => hostname.clone(),
    };
    let zebra = match from_binds(&node.binds, BindTarget::Zebra, "zebra.conf") {
        Some(p) => read(&p, &node.name)?,
        None => hostname,
    };
    Ok(FrrFiles { zebra, bgpd })
}

/// Where FRR's daemons live (`FRR_DIR` overrides).
fn frr_dir() -> PathBuf {
    std::env::var_os("FRR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/frr"))
}

/// Write configs, set forwarding, start zebra then bgpd, run exec lines.
pub fn start(ctx: &mut Ctx<'_>, node: &Node, files: &FrrFiles) -> Result<(), LabError> {
    let ns = ctx.lab.namespace(&node.name);
    let dir = ctx.dir.node_dir(&node.name);
    let run = ctx.dir.frr_run_dir(&node.name);
    std::fs::create_dir_all(&run).map_err(LabError::io(format!("creating {}", run.display())))?;
    for (name, text) in [("zebra.conf", &files.zebra), ("bgpd.conf", &files.bgpd)] {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(LabError::io(format!("writing {}", p.display())))?;
    }
    sh::run(
        std::process::Command::new("chown")
            .args(["-R", "frr:frr"])
            .arg(&dir),
    )?;
    for key in ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"] {
        sh::run(&mut sh::in_netns(&ns, &["sysctl", "-q", "-w", key]))?;
    }
    for daemon in ["zebra", "bgpd"] {
        let pid = start_daemon(&ns, &dir, &run, daemon)?;
        ctx.state
            .node_mut(&node.name, node.kind, &ns)
            .pids
            .push(pid);
        ctx.state.save(ctx.dir)?;
    }
    let run_s = run.display().to_string();
    for line in &node.exec {
        sh::exec_line(&node.name, &ns, &vtysh_line(line, &run_s))?;
    }
    Ok(())
}

fn start_daemon(ns: &str, dir: &Path, run: &Path, daemon: &str) -> Result<u32, LabError> {
    let bin = frr_dir().join(daemon);
    let conf = dir.join(format!("{daemon}.conf"));
    let pidfile = run.join(format!("{daemon}.pid"));
    let log = format!("file:{}", dir.join(format!("{daemon}.log")).display());
    let (bin, conf, pidf, zserv, run_s) = (
        bin.display().to_string(),
        conf.display().to_string(),
        pidfile.display().to_string(),
        run.join("zserv.api").display().to_string(),
        run.display().to_string(),
    );
    let args = [
        bin.as_str(),
        "-d",
        "-f",
        &conf,
        "-i",
        &pidf,
        "-z",
        &zserv,
        "--vty_socket",
        &run_s,
        "-P",
        "0",
        "--log",
        &log,
    ];
    sh::run(&mut sh::in_netns(ns, &args))?;
    wait_pidfile(&pidfile, daemon, &dir.join(format!("{daemon}.log")))
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

/// The daemonised child writes its pid file once it runs.
fn wait_pidfile(pidfile: &Path, daemon: &str, log: &Path) -> Result<u32, LabError> {
    let start = Instant::now();
    while start.elapsed() < START_TIMEOUT {
        let pid = std::fs::read_to_string(pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if let Some(pid) = pid.filter(|p| crate::procs::alive(*p)) {
            return Ok(pid);
        }
        sleep(Duration::from_millis(50));
    }
    Err(LabError::Failed(format!(
        "{daemon} did not start within {}s (no live pid in {}); see {}",
        START_TIMEOUT.as_secs(),
        pidfile.display(),
        log.display()
    )))
}

/// Insert `--vty_socket RUN` into a command line that starts with `vtysh`.
pub fn vtysh_line(line: &str, run: &str) -> String {
    let trimmed = line.trim_start();
    match trimmed.strip_prefix("vtysh") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
            format!("vtysh --vty_socket {run}{rest}")
        }
        _ => line.to_string(),
    }
}

/// Insert `--vty_socket RUN` after a leading `vtysh` argument.
pub fn vtysh_args(cmd: &[String], run: &str) -> Vec<String> {
    match cmd.split_first() {
        Some((first, rest)) if first == "vtysh" || first.ends_with("/vtysh") => {
            let mut out = vec![first.clone(), "--vty_socket".to_string(), run.to_string()];
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
    fn vtysh_gets_its_socket() {
        assert_eq!(
            vtysh_line("vtysh -c 'show bgp summary'", "/r"),
            "vtysh --vty_socket /r -c 'show bgp summary'"
        );
        assert_eq!(vtysh_line("vtysh", "/r"), "vtysh --vty_socket /r");
        assert_eq!(vtysh_line("vtyshx -c", "/r"), "vtyshx -c");
        assert_eq!(vtysh_line("ip addr", "/r"), "ip addr");
        let cmd: Vec<String> = ["vtysh", "-c", "show run"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            vtysh_args(&cmd, "/r"),
            ["vtysh", "--vty_socket", "/r", "-c", "show run"]
        );
        let cmd = vec!["ip".to_string()];
        assert_eq!(vtysh_args(&cmd, "/r"), cmd);
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

    #[test]
    fn bind_targets() {
        assert_eq!(bind_target("/etc/frr/"), Some(BindTarget::Dir));
        assert_eq!(
            bind_target("/etc/frr/frr.conf"),
            Some(BindTarget::Integrated)
        );
        assert_eq!(bind_target("/etc/frr/daemons"), None);
        assert_eq!(bind_target("/etc/hosts"), None);
    }

    fn node(binds: Vec<Bind>, startup: Option<PathBuf>) -> Node {
        Node {
            name: "r1".into(),
            kind: Kind::Frr,
            startup_config: startup,
            exec: vec![],
            binds,
            containers: 0,
        }
    }

    #[test]
    fn config_sources_in_order() {
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str, t: &str| {
            let f = d.path().join(n);
            std::fs::write(&f, t).unwrap();
            f
        };
        let (sc, fc, zc) = (
            p("s.conf", "startup"),
            p("frr.conf", "integrated"),
            p("zebra.conf", "z"),
        );
        let bind = |h: &PathBuf, c: &str| Bind {
            host: h.clone(),
            container: c.into(),
            read_only: true,
        };
        let f = prepare(&node(vec![], None)).unwrap();
        assert_eq!(
            f,
            FrrFiles {
                zebra: "hostname r1\n".into(),
                bgpd: "hostname r1\n".into()
            }
        );
        let f = prepare(&node(
            vec![bind(&fc, "/etc/frr/frr.conf")],
            Some(sc.clone()),
        ))
        .unwrap();
        assert_eq!(f.bgpd, "startup");
        let f = prepare(&node(vec![bind(&fc, "/etc/frr/frr.conf")], None)).unwrap();
        assert_eq!(f.bgpd, "integrated");
        let dirb = bind(&d.path().to_path_buf(), "/etc/frr");
        let f = prepare(&node(vec![dirb], None)).unwrap();
        assert_eq!((f.bgpd.as_str(), f.zebra.as_str()), ("integrated", "z"));
        let _ = zc;
        let missing = node(vec![], Some(d.path().join("nope")));
        assert!(prepare(&missing)
            .unwrap_err()
            .to_string()
            .contains("reading"));
    }
}
