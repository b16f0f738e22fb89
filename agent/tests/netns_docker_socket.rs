#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only: the Docker driver is on by default, and a plugin socket latticed cannot have
//! (served by another latticed, or its directory impossible to create) is a warning, never a
//! failed start; a latticed that did not get the socket leaves it alone when it stops.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use api::client::call;
use api::proto::{Reply, Request};
use common::{eventually, Latticed, Namespaces};

const PATIENCE: Duration = Duration::from_secs(20);

/// A latticed in namespace `ns` named `name`, its files in `dir`, serving the Docker driver on
/// `docker_socket` if it can; returns once its API answers.
fn start(ns: &str, dir: &Path, name: &str, docker_socket: &Path) -> Latticed {
    let api = dir.join(format!("{name}.sock"));
    let config = dir.join(format!("{name}.yaml"));
    // No `docker.enabled`: the default is what is tested.
    std::fs::write(
        &config,
        format!(
            "node: {{name: {name}, asn: 65101, router_id: 10.0.0.1}}\n\
             cluster: {{cidr: 10.244.0.0/16, block_prefix_len: 24}}\n\
             ipam: {{datastore: local, state_dir: {}, block: 10.244.1.0/24}}\n\
             bgp: {{listen: {{address: 127.0.0.1, port: 179}}, peers: []}}\n\
             api: {{socket: {}}}\n\
             docker: {{socket: {}}}\n",
            dir.join(format!("{name}-state")).display(),
            api.display(),
            docker_socket.display(),
        ),
    )
    .unwrap();
    let l = Latticed::start(ns, &config, &dir.join(format!("{name}.log")));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let up = eventually(PATIENCE, || {
        matches!(
            rt.block_on(call(&api, &Request::Status)),
            Ok(Reply::Status(_))
        )
    });
    assert!(up, "latticed {name} did not come up:\n{}", l.log_text());
    l
}

/// `Plugin.Activate` over the plugin socket: what dockerd asks first.
fn activate(socket: &Path) -> Option<String> {
    let mut s = UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(
        b"POST /Plugin.Activate HTTP/1.1\r\nHost: plugin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn a_plugin_socket_latticed_cannot_have_is_a_warning_not_a_failed_start() {
    if !testkit::require_root() {
        return;
    }
    let pid = std::process::id();
    let names: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|n| format!("lt-ds{n}-{pid}"))
        .collect();
    let _ns = Namespaces::create(&names);
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("plugins/lattice.sock");

    let mut first = start(&names[0], dir.path(), "first", &plugin);
    let answer = activate(&plugin).expect("the default-on driver answers");
    assert!(
        answer.contains("NetworkDriver") && answer.contains("IpamDriver"),
        "{answer}"
    );

    // A second latticed on the same host path: it runs, serves its API, and says why not Docker.
    let mut second = start(&names[1], dir.path(), "second", &plugin);
    assert!(second.running());
    let log = second.log_text();
    assert!(
        log.contains("cannot serve the Docker driver") && log.contains("another running latticed"),
        "{log}"
    );
    // Stopping it leaves the first one's socket in place and answering.
    second.stop();
    assert!(
        activate(&plugin).is_some(),
        "the second latticed took the socket with it"
    );

    // A socket directory that cannot be created (its parent is a file).
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let mut third = start(&names[2], dir.path(), "third", &file.join("lattice.sock"));
    assert!(third.running());
    assert!(third.log_text().contains("cannot serve the Docker driver"));

    first.stop();
    assert!(
        !plugin.exists(),
        "a stopped latticed removes the socket it served"
    );
}
