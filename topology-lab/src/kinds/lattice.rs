//! `lattice`: latticed inside the node's namespace, plus `containers: N` attached through its API.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use api::proto::{Reply, Request};
use serde_yaml_ng::{Mapping, Value};

use super::Ctx;
use crate::error::LabError;
use crate::paths::LabDir;
use crate::state::ContainerState;
use crate::topology::{Lab, Node};
use crate::{latticed, netns, sh};

/// How long latticed gets to open its API socket.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Read the node's startup-config and point its state and socket into the node directory.
pub fn prepare(dir: &LabDir, node: &Node) -> Result<String, LabError> {
    let Some(path) = &node.startup_config else {
        return Err(LabError::Failed(format!(
            "node {}: no startup-config",
            node.name
        )));
    };
    let text = std::fs::read_to_string(path).map_err(LabError::io(format!(
        "node {}: reading {}",
        node.name,
        path.display()
    )))?;
    rewrite_config(
        &text,
        &dir.latticed_state(&node.name),
        &dir.latticed_socket(&node.name),
        &dir.node_dir(&node.name).join("docker-lattice.sock"),
    )
    .map_err(|m| LabError::Failed(format!("node {}: {}: {m}", node.name, path.display())))
}

/// Set `ipam.state_dir` and `api.socket`, and `docker.socket` unless the file names one (the
/// hosts of a lab share one filesystem: each serves its Docker driver in its node directory,
/// never on the machine's `/run/docker/plugins`), keeping everything else as written.
pub fn rewrite_config(
    text: &str,
    state_dir: &Path,
    socket: &Path,
    docker_socket: &Path,
) -> Result<String, String> {
    let mut doc: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    let Value::Mapping(root) = &mut doc else {
        return Err("latticed config must be a YAML mapping".into());
    };
    set(
        root,
        "ipam",
        "state_dir",
        &state_dir.display().to_string(),
        true,
    )?;
    set(root, "api", "socket", &socket.display().to_string(), true)?;
    let docker = docker_socket.display().to_string();
    set(root, "docker", "socket", &docker, false)?;
    serde_yaml_ng::to_string(&doc).map_err(|e| e.to_string())
}

/// Sets `section.key` (`replace`: also when already set).
fn set(
    root: &mut Mapping,
    section: &str,
    key: &str,
    value: &str,
    replace: bool,
) -> Result<(), String> {
    let entry = root
        .entry(Value::from(section))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    let Value::Mapping(m) = entry else {
        return Err(format!("`{section}` must be a mapping"));
    };
    if replace || !m.contains_key(key) {
        m.insert(Value::from(key), Value::from(value));
    }
    Ok(())
}

/// latticed: `LATTICED_BIN`, else next to this executable, else on PATH.
pub fn find_latticed() -> Result<PathBuf, LabError> {
    if let Some(p) = std::env::var_os("LATTICED_BIN").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(LabError::Failed(format!(
                "LATTICED_BIN={} does not exist",
                p.display()
            )))
        };
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.join("latticed")));
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("latticed"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    beside
        .into_iter()
        .chain(on_path)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            LabError::Failed(
                "latticed not found: set LATTICED_BIN, put it next to lattice-lab, or on PATH"
                    .into(),
            )
        })
}

/// Write the config, run exec lines, start latticed, wait for its API, attach containers.
pub fn start(ctx: &mut Ctx<'_>, node: &Node, yaml: &str) -> Result<(), LabError> {
    let ns = ctx.lab.namespace(&node.name);
    let state_dir = ctx.dir.latticed_state(&node.name);
    std::fs::create_dir_all(&state_dir)
        .map_err(LabError::io(format!("creating {}", state_dir.display())))?;
    let cfg = ctx.dir.latticed_config(&node.name);
    std::fs::write(&cfg, yaml).map_err(LabError::io(format!("writing {}", cfg.display())))?;
    let env = crate::env::environment(node)?;
    for line in &node.exec {
        sh::exec_line(&node.name, &ns, line, &env)?;
    }
    let mut child = spawn(ctx.dir, &ns, node, &cfg, &env)?;
    ctx.state
        .add_daemon(&node.name, node.kind, &ns, "latticed", child.id());
    ctx.state.save(ctx.dir)?;
    wait_ready(ctx.dir, node, &mut child)?;
    for i in 1..=node.containers {
        attach(ctx, node, i)?;
    }
    Ok(())
}

fn spawn(
    dir: &LabDir,
    ns: &str,
    node: &Node,
    cfg: &Path,
    env: &[(String, String)],
) -> Result<Child, LabError> {
    let bin = find_latticed()?;
    let log_path = dir.latticed_log(&node.name);
    let log = File::create(&log_path)
        .map_err(LabError::io(format!("creating {}", log_path.display())))?;
    let log2 = log
        .try_clone()
        .map_err(LabError::io("duplicating the log file"))?;
    let mut cmd = sh::in_netns(ns, &[]);
    cmd.arg(&bin).arg("--config").arg(cfg);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    println!("  {}: starting {}", node.name, sh::show(&cmd));
    // Own process group: a ^C at the terminal must not take the lab's daemons down.
    cmd.stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0);
    cmd.spawn().map_err(|error| LabError::Spawn {
        cmd: sh::show(&cmd),
        error,
    })
}

/// Poll the API with `Status` until it answers, failing early if latticed exits.
fn wait_ready(dir: &LabDir, node: &Node, child: &mut Child) -> Result<(), LabError> {
    let socket = dir.latticed_socket(&node.name);
    let start = Instant::now();
    let mut last = String::from("socket not created");
    while start.elapsed() < READY_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LabError::Failed(format!(
                "node {}: latticed exited ({status}); last log lines:\n{}",
                node.name,
                sh::tail(&dir.latticed_log(&node.name), 10)
            )));
        }
        if socket.exists() {
            match latticed::call(&socket, &Request::Status) {
                Ok(_) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
        }
        sleep(Duration::from_millis(100));
    }
    Err(LabError::Failed(format!(
        "node {}: latticed API not ready within {}s ({last}); log: {}",
        node.name,
        READY_TIMEOUT.as_secs(),
        dir.latticed_log(&node.name).display()
    )))
}

/// Create container namespace `i` and ask latticed to wire it.
fn attach(ctx: &mut Ctx<'_>, node: &Node, i: u32) -> Result<(), LabError> {
    let name = Lab::container_name(&node.name, i);
    let cns = ctx.lab.container_namespace(&node.name, i);
    netns::add(&cns)?;
    ctx.state.namespaces.push(cns.clone());
    ctx.state.save(ctx.dir)?;
    let req = Request::Attach {
        container_id: name.clone(),
        ifname: "eth0".into(),
        netns: PathBuf::from("/run/netns").join(&cns),
        mtu: None,
    };
    let reply = latticed::call(&ctx.dir.latticed_socket(&node.name), &req)?;
    let address = match reply {
        Reply::Attached(a) => a.address,
        Reply::Error(e) => {
            return Err(LabError::Failed(format!(
                "attach {name}: {}: {}",
                e.kind, e.message
            )))
        }
        other => {
            return Err(LabError::Failed(format!(
                "attach {name}: unexpected reply {other:?}"
            )))
        }
    };
    println!("  {}: container {name} -> {address}", node.name);
    let ns = ctx.lab.namespace(&node.name);
    let rec = ContainerState {
        name,
        namespace: cns,
        address,
    };
    ctx.state
        .node_mut(&node.name, node.kind, &ns)
        .containers
        .push(rec);
    ctx.state.save(ctx.dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_state_dir_and_socket_only() {
        let text = "node: {name: h1, asn: 65101}\nipam: {datastore: local, state_dir: /var/lib/lattice}\napi: {socket: /run/lattice/lattice.sock}\n";
        let out = rewrite_config(
            text,
            Path::new("/lab/h1/state"),
            Path::new("/lab/h1/l.sock"),
            Path::new("/lab/h1/d.sock"),
        )
        .unwrap();
        let v: Value = serde_yaml_ng::from_str(&out).unwrap();
        assert_eq!(v["ipam"]["state_dir"], Value::from("/lab/h1/state"));
        assert_eq!(v["ipam"]["datastore"], Value::from("local"));
        assert_eq!(v["api"]["socket"], Value::from("/lab/h1/l.sock"));
        assert_eq!(v["node"]["asn"], Value::from(65101));
        assert_eq!(v["docker"]["socket"], Value::from("/lab/h1/d.sock"));
        // A Docker socket the file names (a dockerd test's) is kept.
        let own = format!("{text}docker: {{enabled: true, socket: /d/lattice.sock}}\n");
        let out = rewrite_config(&own, Path::new("/s"), Path::new("/k"), Path::new("/x")).unwrap();
        let v: Value = serde_yaml_ng::from_str(&out).unwrap();
        assert_eq!(v["docker"]["socket"], Value::from("/d/lattice.sock"));
        assert_eq!(v["docker"]["enabled"], Value::from(true));
    }

    #[test]
    fn adds_missing_sections_and_rejects_odd_shapes() {
        let out = rewrite_config(
            "node: {name: h1}\n",
            Path::new("/s"),
            Path::new("/k"),
            Path::new("/d"),
        )
        .unwrap();
        let v: Value = serde_yaml_ng::from_str(&out).unwrap();
        assert_eq!(v["api"]["socket"], Value::from("/k"));
        assert!(
            rewrite_config("- a\n", Path::new("/s"), Path::new("/k"), Path::new("/d")).is_err()
        );
        assert!(rewrite_config(
            "ipam: 3\n",
            Path::new("/s"),
            Path::new("/k"),
            Path::new("/d")
        )
        .unwrap_err()
        .contains("ipam"));
        assert!(
            rewrite_config("a: [\n", Path::new("/s"), Path::new("/k"), Path::new("/d")).is_err()
        );
    }
}
