//! The pod sandbox ("pause") image without a registry: an OCI image layout tarball around a
//! static busybox, for `ctr image import`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

/// The image's name; containerd's `sandbox_image`.
pub const PAUSE: &str = "lattice.test/pause:1";

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Stores `path` as a blob; returns (digest, size).
fn blob(layout: &Path, path: &Path) -> (String, u64) {
    let hex = sha256(path);
    let size = std::fs::metadata(path).unwrap().len();
    std::fs::copy(path, layout.join("blobs/sha256").join(&hex)).unwrap();
    (format!("sha256:{hex}"), size)
}

fn write_json(path: &Path, v: &serde_json::Value) -> PathBuf {
    std::fs::write(path, v.to_string()).unwrap();
    path.to_path_buf()
}

/// Builds `dir/pause.tar`: one layer (busybox and its applet links), sleeping as PID 1.
pub fn pause_image(dir: &Path) -> PathBuf {
    let root = dir.join("pause-root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let st = Command::new("chroot")
        .arg(&root)
        .args(["/bin/busybox", "--install", "-s", "/bin"])
        .status()
        .unwrap();
    assert!(st.success(), "busybox --install");
    let layout = dir.join("pause-layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let layer = dir.join("pause-layer.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&layer)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar the layer");
    let (layer_digest, layer_size) = blob(&layout, &layer);
    let config = write_json(
        &dir.join("pause-config.json"),
        &json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["/bin/sleep", "100000000"], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }),
    );
    let (config_digest, config_size) = blob(&layout, &config);
    let manifest = write_json(
        &dir.join("pause-manifest.json"),
        &json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest, "size": layer_size}],
        }),
    );
    let (manifest_digest, manifest_size) = blob(&layout, &manifest);
    write_json(
        &layout.join("index.json"),
        &json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": PAUSE,
                            "org.opencontainers.image.ref.name": "1"},
        }]}),
    );
    write_json(
        &layout.join("oci-layout"),
        &json!({"imageLayoutVersion": "1.0.0"}),
    );
    let tar = dir.join("pause.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar the layout");
    tar
}
