//! The shipped manifests as a node runs them: deploy/kubernetes/daemonset.yaml's install step
//! (init container), latticed's command and the preStop uninstall, with the ConfigMap's files,
//! read from the YAML rather than restated here.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::Value;

/// What the DaemonSet runs on a node.
#[derive(Debug, Clone)]
pub struct Manifests {
    /// The init container's command (install-cni.sh install).
    pub install: Vec<String>,
    /// The init container's environment: (name, literal value or None for a downward-API field).
    pub env: Vec<(String, Option<String>)>,
    /// latticed's command and args.
    pub latticed: Vec<String>,
    /// latticed's preStop command (install-cni.sh uninstall).
    pub pre_stop: Vec<String>,
    /// The ConfigMap's files and the path the DaemonSet mounts them at.
    pub config_files: Vec<(String, String)>,
    pub config_dir: PathBuf,
    /// Host paths of the CNI directories the init container mounts (bin, net.d).
    pub cni_bin_dir: PathBuf,
    pub cni_net_dir: PathBuf,
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn doc(file: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("deploy/kubernetes").join(file)).unwrap();
    Value::deserialize(serde_yaml_ng::Deserializer::from_str(&text)).unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The host path of the volume a container mounts at `mount_path`.
fn host_path(spec: &Value, container: &Value, mount_path: &str) -> PathBuf {
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == mount_path)
        .unwrap_or_else(|| panic!("nothing is mounted at {mount_path}"));
    let volume = spec["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    PathBuf::from(volume["hostPath"]["path"].as_str().unwrap())
}

/// Reads deploy/kubernetes/{daemonset,configmap}.yaml.
pub fn load() -> Manifests {
    let ds = doc("daemonset.yaml");
    let spec = &ds["spec"]["template"]["spec"];
    let init = &spec["initContainers"][0];
    let latticed = &spec["containers"][0];
    let env = init["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().map(String::from),
            )
        })
        .collect();
    let mut command = strs(&latticed["command"]);
    command.extend(strs(&latticed["args"]));
    let cm = doc("configmap.yaml");
    let config_files = cm["data"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().into(), v.as_str().unwrap().into()))
        .collect();
    let config_dir = init["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "config")
        .map(|m| PathBuf::from(m["mountPath"].as_str().unwrap()))
        .unwrap();
    Manifests {
        install: strs(&init["command"]),
        env,
        latticed: command,
        pre_stop: strs(&latticed["lifecycle"]["preStop"]["exec"]["command"]),
        config_files,
        config_dir,
        cni_bin_dir: host_path(spec, init, "/host/opt/cni/bin"),
        cni_net_dir: host_path(spec, init, "/host/etc/cni/net.d"),
    }
}

impl Manifests {
    /// The install step's environment on one node: the downward API's `NODE_NAME` and
    /// `NODE_IP`, the DaemonSet's values with this site's `overrides` (what an operator edits),
    /// and the script's CNI directories pointed at the host paths the DaemonSet mounts there.
    pub fn node_env(
        &self,
        node: &str,
        ip: &str,
        overrides: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .env
            .iter()
            .map(|(name, value)| {
                let v = match (name.as_str(), value) {
                    (n, _) if overrides.iter().any(|(o, _)| *o == n) => overrides
                        .iter()
                        .find(|(o, _)| *o == n)
                        .map(|(_, v)| v.to_string())
                        .unwrap(),
                    (_, Some(v)) => v.clone(),
                    ("NODE_NAME", None) => node.to_string(),
                    ("NODE_IP", None) => ip.to_string(),
                    (other, None) => panic!("{other}: a downward-API field the test cannot fill"),
                };
                (name.clone(), v)
            })
            .collect();
        for (o, v) in overrides {
            if !out.iter().any(|(n, _)| n == o) {
                out.push((o.to_string(), v.to_string()));
            }
        }
        out.push(("CNI_BIN_DIR".into(), self.cni_bin_dir.display().to_string()));
        out.push(("CNI_NET_DIR".into(), self.cni_net_dir.display().to_string()));
        out
    }
}
