//! deploy/kubernetes/ without a cluster: the manifests parse, and what they name exists — the
//! binaries the Containerfile copies are the workspace's, the flags are latticed's and the CLI's,
//! the node configs are valid latticed configs, the conflist is one lattice-cni accepts and the
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
/// checked against the workspace's) and of its `COPY busybox /bin/sh`.
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
        if parts[1..] == ["busybox", "/bin/sh"] {
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
    let install = strs(&spec["initContainers"][0]["args"]).join(" ");
    assert!(
        install.contains("/usr/local/bin/lattice-cni")
            && files.iter().any(|f| f == "/usr/local/bin/lattice-cni")
    );
    assert!(install.contains("/etc/lattice/10-lattice.conflist"));
    assert!(
        install.contains("/host/opt/cni/bin/lattice-cni")
            && install.contains("/host/etc/cni/net.d/")
    );
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
    // libcni hands each plugin its entry with the list's cniVersion and name added.
    let mut plugin = conflist["plugins"][0].clone();
    plugin["cniVersion"] = conflist["cniVersion"].clone();
    plugin["name"] = conflist["name"].clone();
    let net = cni::conf::parse(plugin.to_string().as_bytes()).unwrap();

    let ds = one("daemonset.yaml", "DaemonSet");
    let mounts: Vec<String> = ds["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap().to_string())
        .collect();
    let mut nodes = 0;
    for (k, v) in data {
        let key = k.as_str().unwrap();
        if !key.ends_with(".yaml") {
            continue;
        }
        nodes += 1;
        let config = agent::config::Config::from_yaml_str(v.as_str().unwrap(), key)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            format!("{}.yaml", config.node.name),
            key,
            "key is the node's name"
        );
        assert_eq!(
            config.api.socket, net.socket,
            "{key}: the plugin's socket is latticed's"
        );
        for dir in [
            config.api.socket.parent().unwrap(),
            config.ipam.state_dir.as_path(),
        ] {
            assert!(
                mounts.iter().any(|m| Path::new(m) == dir),
                "{key}: {} is not mounted from the host",
                dir.display()
            );
        }
    }
    assert!(nodes >= 1);
}
