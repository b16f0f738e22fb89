//! deploy/kubernetes/ without a cluster: the manifests parse, and what they name exists — the
//! binaries the Containerfile copies are the workspace's, the flags are latticed's and the CLI's,
//! the node config rendered from the DaemonSet's environment is a valid latticed config, the
//! conflist is one lattice-cni accepts and the
//! same as docs/examples/10-lattice.conflist, and every mount has its volume.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml_ng::Value;

use common::workspace_bin;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn docs(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join("deploy/kubernetes").join(file)).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{file}: {e}")))
        .collect()
}

fn one(file: &str, kind: &str) -> Value {
    let all = docs(file);
    let found: Vec<_> = all.into_iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "{file} holds one {kind}");
    found.into_iter().next().unwrap()
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

fn help(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{} --help", bin.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Destinations of the Containerfile's `COPY bin/<bin> <dest>` lines (the release's binaries,
/// checked against the workspace's), of install-cni.sh (checked to exist here) and of the
/// Debian files it adds (busybox as /bin/sh, loopback and its libc).
fn image_files() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("deploy/kubernetes/Containerfile")).unwrap();
    let bins = [
        PathBuf::from(env!("CARGO_BIN_EXE_latticed")),
        workspace_bin("lattice"),
        workspace_bin("lattice-cni"),
    ];
    let mut dests = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("COPY ")) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let Some(script) = parts[1].strip_suffix(".sh") {
            let path = repo()
                .join("deploy/kubernetes")
                .join(format!("{script}.sh"));
            assert!(path.is_file(), "{} is missing", path.display());
            dests.push(parts[2].to_string());
            continue;
        }
        // Debian's files (make image copies them from this machine): busybox as /bin/sh, the
        // loopback plugin and the two glibc files it links against.
        if ["busybox", "loopback", "ld-linux-x86-64.so.2", "libc.so.6"].contains(&parts[1]) {
            dests.push(parts[2].to_string());
            continue;
        }
        let src = parts[1]
            .strip_prefix("bin/")
            .expect("COPY from the release's bin/");
        assert!(
            bins.iter().any(|b| b.file_name().unwrap() == src),
            "Containerfile copies {src}, which this workspace does not build"
        );
        dests.push(parts[2].to_string());
    }
    dests
}

#[test]
fn kustomization_lists_every_manifest() {
    let k = docs("kustomization.yaml").remove(0);
    for r in strs(&k["resources"]) {
        assert!(
            repo().join("deploy/kubernetes").join(&r).is_file(),
            "{r} is missing"
        );
    }
}

#[test]
fn daemonset_runs_real_binaries_with_real_flags_and_mounts() {
    let ds = one("daemonset.yaml", "DaemonSet");
    let spec = &ds["spec"]["template"]["spec"];
    assert_eq!(spec["hostNetwork"], Value::Bool(true));
    let files = image_files();
    let volumes: Vec<String> = spec["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    let mut all = spec["initContainers"].as_sequence().unwrap().clone();
    all.extend(spec["containers"].as_sequence().unwrap().iter().cloned());
    for c in &all {
        for m in c["volumeMounts"].as_sequence().unwrap() {
            let name = m["name"].as_str().unwrap();
            assert!(
                volumes.iter().any(|v| v == name),
                "mount {name} has no volume"
            );
        }
    }
    let latticed = &spec["containers"][0];
    let command = strs(&latticed["command"]);
    assert!(
        files.contains(&command[0]),
        "{} is not in the image",
        command[0]
    );
    let latticed_help = help(Path::new(env!("CARGO_BIN_EXE_latticed")), &[]);
    for flag in strs(&latticed["args"])
        .iter()
        .filter(|a| a.starts_with("--"))
    {
        assert!(
            latticed_help.contains(flag.as_str()),
            "latticed has no {flag}"
        );
    }
    let probe = strs(&latticed["readinessProbe"]["exec"]["command"]);
    assert!(
        files.contains(&probe[0]),
        "{} is not in the image",
        probe[0]
    );
    let cli_help = help(&workspace_bin("lattice"), &[]);
    for word in &probe[1..] {
        if word.starts_with("--") || !word.starts_with('/') {
            assert!(cli_help.contains(word.as_str()), "lattice has no {word}");
        }
    }
    let install = strs(&spec["initContainers"][0]["command"]);
    assert_eq!(install[1..], ["install".to_string()]);
    assert!(
        files.contains(&install[0]),
        "{} is not in the image",
        install[0]
    );
    let stop = strs(&latticed["lifecycle"]["preStop"]["exec"]["command"]);
    assert_eq!(stop, [install[0].clone(), "uninstall".to_string()]);
    // The script's default paths are the DaemonSet's mounts, in both containers.
    let script = std::fs::read_to_string(repo().join("deploy/kubernetes/install-cni.sh")).unwrap();
    for c in [&spec["initContainers"][0], latticed] {
        let mounts: Vec<&str> = c["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|m| m["mountPath"].as_str().unwrap())
            .collect();
        for dir in [
            "/host/opt/cni/bin",
            "/host/etc/cni/net.d",
            "/var/lib/lattice",
        ] {
            assert!(
                mounts.contains(&dir),
                "{} does not mount {dir}",
                c["name"].as_str().unwrap()
            );
            assert!(
                script.contains(&format!(":-{dir}")),
                "install-cni.sh's default is not {dir}"
            );
        }
    }
}

#[test]
fn configmap_holds_valid_node_configs_and_the_example_conflist() {
    let cm = one("configmap.yaml", "ConfigMap");
    let data = cm["data"].as_mapping().unwrap();
    let conflist_text = data[&Value::from("10-lattice.conflist")].as_str().unwrap();
    let conflist: Json = serde_json::from_str(conflist_text).unwrap();
    let example: Json = serde_json::from_str(
        &std::fs::read_to_string(repo().join("docs/examples/10-lattice.conflist")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        conflist, example,
        "the ConfigMap's conflist is docs/examples/10-lattice.conflist"
    );
    // containerd 1.6 and 1.7 bundle libcni 1.1.x, which parses results up to 1.0.0 only: a
    // newer conflist version fails every pod there (docs/cni.md#which-cniversion).
    assert_eq!(conflist["cniVersion"], "1.0.0");
    // libcni hands each plugin its entry with the list's cniVersion and name added.
    let mut plugin = conflist["plugins"][0].clone();
    plugin["cniVersion"] = conflist["cniVersion"].clone();
    plugin["name"] = conflist["name"].clone();
    let net = cni::conf::parse(plugin.to_string().as_bytes()).unwrap();

    let ds = one("daemonset.yaml", "DaemonSet");
    let spec = &ds["spec"]["template"]["spec"];
    let mounts: Vec<String> = spec["containers"][0]["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap().to_string())
        .collect();
    // The node's config is rendered from the init container's environment: give the downward
    // API's fields values, keep the rest as the DaemonSet says, and parse what comes out.
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg(repo().join("deploy/kubernetes/install-cni.sh"))
        .arg("install")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    for e in spec["initContainers"][0]["env"].as_sequence().unwrap() {
        let name = e["name"].as_str().unwrap();
        let value = match (e["value"].as_str(), name) {
            (Some(v), "LATTICE_PEERS") => v.replace("gateway", "10.0.0.1"),
            (Some(v), _) => v.to_string(),
            (None, "NODE_NAME") => "node-a".into(),
            (None, "NODE_IP") => "10.0.0.7".into(),
            (None, other) => panic!("{other} has no value and is not a known downward-API field"),
        };
        cmd.env(name, value);
    }
    let d = dir.path();
    std::fs::write(d.join("10-lattice.conflist"), conflist_text).unwrap();
    cmd.env("CNI_BIN_DIR", d.join("bin"))
        .env("CNI_NET_DIR", d.join("net"))
        .env("CONFLIST_SRC", d.join("10-lattice.conflist"))
        .env("LATTICE_CNI_SRC", workspace_bin("lattice-cni"))
        .env("LOOPBACK_SRC", workspace_bin("lattice-cni"))
        .env("LATTICED", env!("CARGO_BIN_EXE_latticed"))
        .env("NODE_CONFIG", d.join("node/latticed.yaml"))
        .env("INSTALL_RECORD", d.join("state/cni-installed"));
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "install-cni.sh: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = std::fs::read_to_string(d.join("node/latticed.yaml")).unwrap();
    let config = agent::config::Config::from_yaml_str(&rendered, "latticed.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.node.name, "node-a");
    assert_eq!(config.node.router_id.to_string(), "10.0.0.7");
    assert_eq!(
        config.api.socket, net.socket,
        "the plugin's socket is latticed's"
    );
    assert!(!config.docker.enabled, "Kubernetes nodes talk CNI only");
    for dir in [
        config.api.socket.parent().unwrap(),
        config.ipam.state_dir.as_path(),
    ] {
        assert!(
            mounts.iter().any(|m| Path::new(m) == dir),
            "{} is not mounted from the host",
            dir.display()
        );
    }
    let args = strs(&spec["containers"][0]["args"]);
    let at = args.iter().position(|a| a == "--config").unwrap();
    let node_config = &args[at + 1];
    assert!(
        mounts
            .iter()
            .any(|m| Path::new(node_config).parent() == Some(Path::new(m))),
        "latticed's --config {node_config} is not on a mounted volume"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("net/10-lattice.conflist")).unwrap(),
        conflist_text
    );
}
