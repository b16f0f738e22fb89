//! Starting an FRR node the way FRR's container image starts it, without watchfrr and without
//! writing under `/etc`: the node directory's `etc/` plays `/etc/frr`, `run/` `/var/run/frr`.
//! Each daemon is started daemonised as user frr with its own `<daemon>.conf` (the bound file,
//! else just the hostname), in FRR's order; then the integrated `frr.conf`, if any, is applied
//! with `vtysh -b`, which gives every daemon its part; then the exec lines run.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::daemons::wants_tcp_vty;
use super::sources::FrrFile;
use super::{check, frr_dir, DaemonRun, FrrPrepared};
use crate::error::LabError;
use crate::kinds::Ctx;
use crate::paths::LabDir;
use crate::sh;
use crate::topology::Node;

/// How long a daemon gets to write its pid file and open its vty socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of a log shown when something fails.
const TAIL: usize = 15;

/// Paths of one FRR node.
struct NodePaths {
    ns: String,
    dir: PathBuf,
    etc: PathBuf,
    run: PathBuf,
    log: PathBuf,
}

/// Write the node's files, start its daemons, apply frr.conf, check they live, run exec lines.
pub fn start(ctx: &mut Ctx<'_>, node: &Node, prep: &FrrPrepared) -> Result<(), LabError> {
    let p = NodePaths {
        ns: ctx.lab.namespace(&node.name),
        dir: ctx.dir.node_dir(&node.name),
        etc: ctx.dir.frr_etc_dir(&node.name),
        run: ctx.dir.frr_run_dir(&node.name),
        log: ctx.dir.node_log(&node.name),
    };
    let env = crate::env::environment(node)?;
    write_files(ctx.dir, node, prep, &p)?;
    for (key, value) in [
        ("net.ipv4.ip_forward", "1"),
        ("net.ipv6.conf.all.forwarding", "1"),
    ] {
        if !node.sysctls.contains_key(key) {
            let kv = format!("{key}={value}");
            sh::run(&mut sh::in_netns(&p.ns, &["sysctl", "-q", "-w", &kv]))?;
        }
    }
    let mut log = NodeLog::open(&p.log)?;
    let mut started = Vec::new();
    for d in &prep.daemons {
        let pid = start_daemon(ctx.dir, node, &p, d, &env, &mut log)?;
        let ns = p.ns.clone();
        ctx.state
            .add_daemon(&node.name, node.kind, &ns, d.name, pid);
        ctx.state.save(ctx.dir)?;
        started.push((d.name, pid));
    }
    if let Some(src) = prep.sources.integrated() {
        apply(node, &p, &src.origin, &env, &mut log)?;
    }
    for (d, pid) in started {
        if !crate::procs::alive(pid) {
            let path = ctx.dir.daemon_log(&node.name, d);
            return Err(LabError::Failed(format!(
                "node {}: {d} (pid {pid}) died at start; last lines of {}:\n{}",
                node.name,
                path.display(),
                sh::tail(&path, TAIL)
            )));
        }
    }
    let etc = p.etc.display().to_string();
    let run = p.run.display().to_string();
    for line in &node.exec {
        sh::exec_line(
            &node.name,
            &p.ns,
            &super::vtysh_line(line, &run, &etc),
            &env,
        )?;
    }
    Ok(())
}

/// `etc/`: every source file as is, `<daemon>.conf` (hostname only) for daemons without one,
/// vtysh.conf for the integrated config; empty daemon logs; all owned by frr.
fn write_files(
    dir: &LabDir,
    node: &Node,
    prep: &FrrPrepared,
    p: &NodePaths,
) -> Result<(), LabError> {
    for d in [&p.etc, &p.run] {
        std::fs::create_dir_all(d).map_err(LabError::io(format!("creating {}", d.display())))?;
    }
    let mut files: Vec<(String, String)> = prep
        .sources
        .files
        .iter()
        .map(|(f, s)| (f.file_name(), s.text.clone()))
        .collect();
    for d in &prep.daemons {
        if prep.sources.get(FrrFile::Daemon(d.name)).is_none() {
            let name = FrrFile::Daemon(d.name).file_name();
            files.push((name, format!("hostname {}\n", node.hostname)));
        }
    }
    if prep.sources.get(FrrFile::Vtysh).is_none() {
        files.push((
            "vtysh.conf".into(),
            "service integrated-vtysh-config\n".into(),
        ));
    }
    for (name, text) in files {
        let path = p.etc.join(name);
        std::fs::write(&path, text).map_err(LabError::io(format!("writing {}", path.display())))?;
    }
    for d in &prep.daemons {
        let path = dir.daemon_log(&node.name, d.name);
        File::create(&path).map_err(LabError::io(format!("creating {}", path.display())))?;
    }
    sh::run(Command::new("chown").args(["-R", "frr:frr"]).arg(&p.dir))?;
    Ok(())
}

/// The node log, appended to; also the output file of the commands it records.
struct NodeLog {
    file: File,
    path: PathBuf,
}

impl NodeLog {
    fn open(path: &Path) -> Result<NodeLog, LabError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .map_err(LabError::io(format!("opening {}", path.display())))?;
        Ok(NodeLog {
            file,
            path: path.to_path_buf(),
        })
    }

    fn line(&mut self, text: &str) -> Result<(), LabError> {
        writeln!(self.file, "{text}")
            .map_err(LabError::io(format!("writing {}", self.path.display())))
    }

    /// Run `cmd` with its stdout and stderr appended here; its exit status and its output.
    fn run(&mut self, cmd: &mut Command) -> Result<(std::process::ExitStatus, String), LabError> {
        self.line(&format!("$ {}", sh::show(cmd)))?;
        let io = |what: &str| LabError::io(format!("{what} {}", self.path.display()));
        let start = self.file.seek(SeekFrom::End(0)).map_err(io("seeking"))?;
        let out = self.file.try_clone().map_err(io("duplicating"))?;
        let err = self.file.try_clone().map_err(io("duplicating"))?;
        let status = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .map_err(|error| LabError::Spawn {
                cmd: sh::show(cmd),
                error,
            })?;
        let text = std::fs::read(&self.path).map_err(io("reading"))?;
        let from = usize::try_from(start).unwrap_or(usize::MAX).min(text.len());
        let output = String::from_utf8_lossy(text.get(from..).unwrap_or_default()).into_owned();
        self.line(&format!("({status})"))?;
        Ok((status, output))
    }
}

/// Start one daemon daemonised (`-d`); its start-up output goes to its log, then its own
/// logging (`--log file:`).
fn start_daemon(
    dir: &LabDir,
    node: &Node,
    p: &NodePaths,
    d: &DaemonRun,
    env: &[(String, String)],
    log: &mut NodeLog,
) -> Result<u32, LabError> {
    let s = |path: PathBuf| path.display().to_string();
    let daemon_log = dir.daemon_log(&node.name, d.name);
    let mut args: Vec<String> = vec![s(frr_dir().join(d.name)), "-d".into()];
    args.extend(d.options.iter().cloned());
    args.extend([
        "-f".into(),
        s(p.etc.join(FrrFile::Daemon(d.name).file_name())),
        "-i".into(),
        s(p.run.join(format!("{}.pid", d.name))),
        "-z".into(),
        s(p.run.join("zserv.api")),
        "--vty_socket".into(),
        s(p.run.clone()),
        "--log".into(),
        format!("file:{}", daemon_log.display()),
    ]);
    if !wants_tcp_vty(&d.options) {
        args.extend(["-P".into(), "0".into()]);
    }
    match d.name {
        "bfdd" => args.extend(["--bfdctl".into(), s(p.run.join("bfdd.sock"))]),
        "ldpd" => args.extend(["--ctl_socket".into(), s(p.run.join("ldpd.sock"))]),
        _ => {}
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = sh::in_netns(&p.ns, &argv);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let out = OpenOptions::new()
        .append(true)
        .open(&daemon_log)
        .map_err(LabError::io(format!("opening {}", daemon_log.display())))?;
    let err = out
        .try_clone()
        .map_err(LabError::io("duplicating a log file"))?;
    log.line(&format!("starting {}: {}", d.name, sh::show(&cmd)))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|error| LabError::Spawn {
            cmd: sh::show(&cmd),
            error,
        })?;
    let died = |why: String| {
        LabError::Failed(format!(
            "node {}: {} {why}; last lines of {}:\n{}",
            node.name,
            d.name,
            daemon_log.display(),
            sh::tail(&daemon_log, TAIL)
        ))
    };
    if !status.success() {
        let _ = log.line(&format!("{} exited at start ({status})", d.name));
        return Err(died(format!("exited at start ({status})")));
    }
    let pid = wait_ready(&p.run, d.name).map_err(died)?;
    log.line(&format!("{} running, pid {pid}", d.name))?;
    Ok(pid)
}

/// A live pid in the pid file and the vty socket there (vtysh needs it).
fn wait_ready(run: &Path, daemon: &str) -> Result<u32, String> {
    let pidfile = run.join(format!("{daemon}.pid"));
    let vty = run.join(format!("{daemon}.vty"));
    let start = Instant::now();
    while start.elapsed() < START_TIMEOUT {
        let pid = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|p| crate::procs::alive(*p));
        if let (Some(pid), true) = (pid, vty.exists()) {
            return Ok(pid);
        }
        sleep(Duration::from_millis(50));
    }
    Err(format!(
        "did not start within {}s (no live pid in {} or no {})",
        START_TIMEOUT.as_secs(),
        pidfile.display(),
        vty.display()
    ))
}

/// `vtysh -b` with the node's etc/ as its config directory: every daemon gets its part of
/// frr.conf. Any complaint fails the node, naming the user's file and line.
fn apply(
    node: &Node,
    p: &NodePaths,
    origin: &Path,
    env: &[(String, String)],
    log: &mut NodeLog,
) -> Result<(), LabError> {
    let (etc, run) = (p.etc.display().to_string(), p.run.display().to_string());
    log.line(&format!(
        "applying {} (as /etc/frr/frr.conf) with vtysh -b",
        origin.display()
    ))?;
    let mut cmd = sh::in_netns(
        &p.ns,
        &["vtysh", "--config_dir", &etc, "--vty_socket", &run, "-b"],
    );
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let (status, output) = log.run(&mut cmd)?;
    let found = check::complaints(&output, origin);
    let numbered = found
        .iter()
        .any(|c| c.starts_with(&format!("{}:", origin.display())));
    if status.success() && !numbered {
        return Ok(());
    }
    Err(LabError::Failed(format!(
        "node {}: FRR rejected {} (applied with `vtysh -b` as /etc/frr/frr.conf):\n  {}",
        node.name,
        origin.display(),
        if found.is_empty() {
            format!("vtysh exited with {status}")
        } else {
            found.join("\n  ")
        }
    )))
}
