//! The latticed binary refuses a bad configuration with exit status 2, a message naming file,
//! line and key, and before touching anything (its state directory is never created).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const GOOD: &str = "\
node:      { name: host1, asn: 65101, router_id: 10.0.1.2 }
cluster:   { cidr: 10.244.0.0/16, block_prefix_len: 24 }
ipam:      { datastore: local, state_dir: STATE, block: 10.244.1.0/24 }
dataplane: { mode: routed-veth, uplinks: [eth1] }
bgp:
  listen:  { address: 0.0.0.0, port: 179 }
  peers:
    - { address: 10.0.1.1, asn: 65001, hold_time: 9 }
api:       { socket: SOCKET }
";

fn run(config: &str) -> (i32, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let text = config
        .replace("STATE", &dir.path().join("state").display().to_string())
        .replace("SOCKET", &dir.path().join("api.sock").display().to_string());
    let path = dir.path().join("latticed.yaml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_latticed"))
        .args(["--config", path.to_str().unwrap(), "--check"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr, dir)
}

#[test]
fn a_good_config_checks_clean() {
    let (code, stderr, _dir) = run(GOOD);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn bad_configs_exit_2_naming_line_and_key_and_change_nothing() {
    let cases = [
        (
            "hold_time: 9 }",
            "hold_time: 9, colour: red }",
            ":8: bgp.peers[0].colour",
        ),
        ("hold_time: 9", "hold_time: 2", ":8: bgp.peers[0].hold_time"),
        ("asn: 65101", "asn: banana", ":1: node.asn"),
        (
            "block: 10.244.1.0/24",
            "block: 10.99.1.0/24",
            ":3: ipam.block",
        ),
        (
            "mode: routed-veth",
            "mode: ipvlan-l3",
            ":4: dataplane.parent",
        ),
        ("mode: routed-veth", "mode: macvlan", ":4: dataplane.mode"),
    ];
    for (from, to, expected) in cases {
        let (code, stderr, dir) = run(&GOOD.replace(from, to));
        assert_eq!(code, 2, "{to}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{to}: expected {expected:?} in {stderr:?}"
        );
        assert!(
            !dir.path().join("state").exists(),
            "{to}: the state directory was created"
        );
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_latticed"))
        .args(["--config", "/nonexistent/latticed.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/latticed.yaml"));
}

/// `--log-format json` gives one JSON object per line with level, target and message (what log
/// shippers parse); the text format stays the default. The failure is an IPAM state directory
/// that cannot exist, which latticed hits before it touches anything on the host.
#[test]
fn logs_are_json_lines_with_log_format_json() {
    let dir = tempfile::tempdir().unwrap();
    let text = GOOD
        .replace("STATE", "/dev/null/state")
        .replace("SOCKET", &dir.path().join("api.sock").display().to_string());
    let path = dir.path().join("latticed.yaml");
    std::fs::write(&path, text).unwrap();
    let run = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_latticed"))
            .args(["--config", path.to_str().unwrap(), "--log-format", format])
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let json = run("json");
    let events: Vec<serde_json::Value> = json
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let failure = events
        .iter()
        .find(|e| e["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no JSON error event in {json:?}"));
    assert!(
        failure["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("/dev/null/state"),
        "{failure}"
    );
    let text = run("text");
    assert!(
        text.contains("ERROR") && !text.contains("\"level\""),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log that is not a terminal: {text:?}"
    );
}

#[test]
fn a_peer_at_an_uplink_address_is_refused_by_check() {
    // The loopback interface of the namespace the test runs in has 127.0.0.1.
    let config = GOOD
        .replace("uplinks: [eth1]", "uplinks: [lo]")
        .replace("address: 10.0.1.1,", "address: 127.0.0.1,");
    let (code, stderr, _dir) = run(&config);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "bgp.peers[0].address: 127.0.0.1 is this host's own address (an address of uplink lo)"
        ),
        "{stderr}"
    );
}

#[test]
fn dev_zero_a_non_utf8_byte_and_deep_nesting_fail_fast_with_a_line() {
    // /dev/zero: refused after 1 MiB, not read until memory runs out.
    let out = Command::new(env!("CARGO_BIN_EXE_latticed"))
        .args(["--config", "/dev/zero", "--check"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("larger than 1048576 bytes"), "{stderr}");
    // A Latin-1 byte on line 5.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.yaml");
    let mut bytes = GOOD.as_bytes().to_vec();
    let at = GOOD.find("routed-veth").unwrap();
    bytes.insert(at, 0xe9);
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_latticed"))
        .args(["--config", path.to_str().unwrap(), "--check"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("latin1.yaml:4: "), "{stderr}");
    assert!(
        stderr.contains("byte 0xe9 at column 20 is not UTF-8"),
        "{stderr}"
    );
    // 100,000 nested brackets: refused before the parser sees them.
    let deep = format!("{GOOD}x: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let (code, stderr, _dir) = run(&deep);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(":10: .: nested more than 64 levels"),
        "{stderr}"
    );
}

#[test]
fn settings_that_cannot_work_are_refused_by_check() {
    let long = format!("/run/{}/lattice.sock", "s".repeat(100));
    for (from, to, key) in [
        (
            "block: 10.244.1.0/24",
            "block: 10.244.1.0/24, block_v6: 'fd00:1::/120'".to_string(),
            "ipam.block_v6",
        ),
        (
            "uplinks: [eth1]",
            "uplinks: [eth1, eth1]".into(),
            "dataplane.uplinks[1]",
        ),
        (
            "address: 10.0.1.1,",
            "address: 10.0.1.2,".into(),
            "bgp.peers[0].address",
        ),
        ("socket: SOCKET", format!("socket: {long}"), "api.socket"),
    ] {
        let config = GOOD.replace(from, &to);
        assert_ne!(config, GOOD);
        let (code, stderr, dir) = run(&config);
        assert_eq!(code, 2, "{to}: {stderr}");
        assert!(stderr.contains(&format!(": {key}: ")), "{to}: {stderr}");
        assert!(
            !dir.path().join("state").exists(),
            "{to}: state dir created"
        );
    }
}
