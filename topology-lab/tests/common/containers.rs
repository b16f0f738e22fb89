//! Helpers of the container-runtime tests (podman, dockerd): a busybox image tar, latticed's
//! API, the lab's host namespaces, and what must be gone after a container is removed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use api::proto::{Attachment, Reply, Request};

use super::Lab;

/// The workspace's built binary `name` (next to lattice-lab).
pub fn built(name: &str) -> PathBuf {
    Path::new(super::BIN).with_file_name(name)
}

/// A busybox root filesystem as a tar (for `podman import` / `docker import`).
pub fn busybox_tar(dir: &Path) -> PathBuf {
    let root = dir.join("bbroot");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let st = Command::new("chroot")
        .arg(&root)
        .args(["/bin/busybox", "--install", "-s", "/bin"])
        .status()
        .unwrap();
    assert!(st.success(), "busybox --install");
    let tar = dir.join("bb.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar busybox");
    tar
}

/// One call to a lab host's latticed.
pub fn api(lab: &Lab, host: &str, req: &Request) -> Reply {
    let socket = lab.lab_dir().join(host).join("lattice.sock");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(api::client::call(&socket, req)).unwrap()
}

/// A lab host's attachments.
pub fn attachments(lab: &Lab, host: &str) -> Vec<Attachment> {
    match api(lab, host, &Request::List) {
        Reply::List { attachments } => attachments,
        other => panic!("list on {host}: {other:?}"),
    }
}

/// `ip -n NS ARGS...` output.
pub fn ip(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .arg("-n")
        .arg(ns)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The global IPv6 address of `eth0` in namespace `ns`.
pub fn v6_of(ns: &str) -> Option<String> {
    let shown = ip(
        ns,
        &["-6", "-o", "addr", "show", "dev", "eth0", "scope", "global"],
    );
    let field = shown.split_whitespace().nth(3)?;
    Some(field.split('/').next()?.to_string())
}

/// One ping from namespace `ns` to `to` answered within a second.
pub fn ping(ns: &str, to: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-c1", "-W1", to])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The host namespace holds no veth of `host_ifname` and no route to `address`.
pub fn assert_unwired(ns: &str, host_ifname: &str, address: &str) {
    let links = ip(ns, &["-o", "link"]);
    assert!(
        !links.contains(host_ifname),
        "{host_ifname} left in {ns}:\n{links}"
    );
    let routes = ip(ns, &["route"]);
    assert!(
        !routes
            .lines()
            .any(|l| l.starts_with(&format!("{address} "))),
        "route to {address} left in {ns}:\n{routes}"
    );
}
