//! lattice-cni without root: env and config parsing, results per version, error mapping.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::Ipv4Addr;

use api::proto::{ApiError, Attachment, AttachmentKey, Reply, Request};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::command::{Api, Unreachable};
use super::error::code;
use super::run;

/// Records requests; answers from a queue (or "unreachable" when empty).
#[derive(Default)]
struct FakeApi {
    sent: Vec<Request>,
    replies: Vec<Reply>,
}

impl Api for FakeApi {
    fn call(&mut self, req: &Request) -> Result<Reply, Unreachable> {
        self.sent.push(req.clone());
        if self.replies.is_empty() {
            return Err(Unreachable("connection refused".into()));
        }
        Ok(self.replies.remove(0))
    }
}

fn env(cmd: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    m.insert("CNI_COMMAND".into(), cmd.into());
    m.insert("CNI_CONTAINERID".into(), "abc123".into());
    // An ADD checks the namespace exists; "/" always does.
    m.insert("CNI_NETNS".into(), "/".into());
    m.insert("CNI_IFNAME".into(), "eth0".into());
    m.insert("CNI_PATH".into(), "/opt/cni/bin".into());
    m
}

fn conf(version: &str) -> Vec<u8> {
    json!({"cniVersion": version, "name": "lattice", "type": "lattice-cni"})
        .to_string()
        .into_bytes()
}

fn attachment() -> Attachment {
    Attachment {
        container_id: "abc123".into(),
        ifname: "eth0".into(),
        address: Ipv4Addr::new(10, 244, 1, 7),
        address_v6: None,
        host_ifname: "lat0123456789ab".into(),
        netns: "/".into(),
        host_mac: Some("ee:ee:ee:ee:ee:ee".into()),
        container_mac: Some("02:00:00:00:00:01".into()),
    }
}

fn invoke(e: &HashMap<String, String>, stdin: &[u8], api: &mut FakeApi) -> (Value, bool) {
    let (out, ok) = run(|k| e.get(k).cloned(), stdin, api);
    let v = if out.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&out).unwrap()
    };
    (v, ok)
}

fn err_code(v: &Value) -> u64 {
    v["code"].as_u64().unwrap()
}

#[test]
fn version_lists_every_supported_version() {
    let (v, ok) = invoke(&env("VERSION"), b"", &mut FakeApi::default());
    assert!(ok);
    assert_eq!(v["cniVersion"], "1.1.0");
    let got: Vec<&str> = v["supportedVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for want in ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
        assert!(got.contains(&want), "{want} missing");
    }
}

#[test]
fn add_sends_attach_and_writes_the_result_in_each_version() {
    for (ver, carries_version) in [
        ("0.3.1", true),
        ("0.4.0", true),
        ("1.0.0", false),
        ("1.1.0", false),
    ] {
        let mut api = FakeApi {
            replies: vec![Reply::Attached(attachment())],
            ..Default::default()
        };
        let (v, ok) = invoke(&env("ADD"), &conf(ver), &mut api);
        assert!(ok, "{ver}: {v}");
        assert_eq!(
            api.sent,
            vec![Request::Attach {
                container_id: "abc123".into(),
                ifname: "eth0".into(),
                netns: "/".into(),
                mtu: None
            }]
        );
        assert_eq!(v["cniVersion"], ver);
        assert_eq!(v["ips"][0]["address"], "10.244.1.7/32");
        assert_eq!(v["ips"][0]["gateway"], "169.254.1.1");
        assert_eq!(v["ips"][0]["interface"], 1);
        assert_eq!(
            v["ips"][0].get("version").is_some(),
            carries_version,
            "{ver}"
        );
        assert_eq!(v["interfaces"][1]["name"], "eth0");
        assert_eq!(v["interfaces"][1]["sandbox"], "/");
        assert_eq!(v["interfaces"][1]["mac"], "02:00:00:00:00:01");
        assert_eq!(v["interfaces"][0]["name"], "lat0123456789ab");
        assert_eq!(v["routes"][0]["dst"], "0.0.0.0/0");
    }
}

#[test]
fn add_includes_ipv6_and_dns_and_passes_mtu() {
    let mut a = attachment();
    a.address_v6 = Some("fd00:10:244:1::7".parse().unwrap());
    let mut api = FakeApi {
        replies: vec![Reply::Attached(a)],
        ..Default::default()
    };
    let stdin = json!({"cniVersion": "0.4.0", "name": "n", "type": "lattice-cni", "mtu": 1400,
        "dns": {"nameservers": ["10.96.0.10"]}});
    let (v, ok) = invoke(&env("ADD"), stdin.to_string().as_bytes(), &mut api);
    assert!(ok);
    assert!(matches!(
        api.sent[0],
        Request::Attach {
            mtu: Some(1400),
            ..
        }
    ));
    assert_eq!(v["ips"][1]["address"], "fd00:10:244:1::7/128");
    assert_eq!(v["ips"][1]["version"], "6");
    assert_eq!(v["dns"]["nameservers"][0], "10.96.0.10");
}

#[test]
fn add_to_a_missing_namespace_is_error_3_and_calls_nothing() {
    let mut e = env("ADD");
    e.insert("CNI_NETNS".into(), "/nonexistent/netns/x".into());
    let mut api = FakeApi::default();
    let (v, ok) = invoke(&e, &conf("1.1.0"), &mut api);
    assert!(!ok);
    assert_eq!(err_code(&v), u64::from(code::UNKNOWN_CONTAINER));
    assert!(api.sent.is_empty());
}

#[test]
fn bad_environment_is_error_4() {
    for (key, value) in [
        ("CNI_COMMAND", "FROB"),
        ("CNI_COMMAND", ""),
        ("CNI_CONTAINERID", ""),
        ("CNI_CONTAINERID", "has space"),
        ("CNI_IFNAME", "much-too-long-ifname"),
        ("CNI_IFNAME", "a/b"),
        ("CNI_NETNS", "relative/path"),
    ] {
        let mut e = env("ADD");
        e.insert(key.into(), value.into());
        let mut api = FakeApi::default();
        let (v, ok) = invoke(&e, &conf("1.0.0"), &mut api);
        assert!(!ok, "{key}={value}");
        assert_eq!(err_code(&v), 4, "{key}={value}: {v}");
        assert_eq!(v["cniVersion"], "1.0.0", "the caller's version");
        assert!(api.sent.is_empty());
    }
    let mut e = env("ADD");
    e.remove("CNI_NETNS");
    let (v, _) = invoke(&e, &conf("1.0.0"), &mut FakeApi::default());
    assert_eq!(err_code(&v), 4);
}

#[test]
fn bad_stdin_is_error_6_and_bad_fields_error_7_or_1_or_2() {
    let cases: [(&[u8], u32); 10] = [
        (b"", code::DECODE),
        (b"not json", code::DECODE),
        (br#"{"cniVersion": 3}"#, code::DECODE),
        (br#"{"name":"n","type":"t"}"#, code::BAD_CONFIG),
        (br#"{"cniVersion":"1.0.0","type":"t"}"#, code::BAD_CONFIG),
        (br#"{"cniVersion":"1.0.0","name":"n"}"#, code::BAD_CONFIG),
        (
            br#"{"cniVersion":"0.2.0","name":"n","type":"t"}"#,
            code::INCOMPATIBLE_VERSION,
        ),
        (
            br#"{"cniVersion":"1.0.0","name":"n","type":"t","mtu":40}"#,
            code::BAD_CONFIG,
        ),
        (
            br#"{"cniVersion":"1.0.0","name":"n","type":"t","socket":"rel"}"#,
            code::BAD_CONFIG,
        ),
        (
            br#"{"cniVersion":"1.0.0","name":"n","type":"t","ipam":{"type":"host-local"}}"#,
            code::UNSUPPORTED_FIELD,
        ),
    ];
    for (stdin, want) in cases {
        let mut api = FakeApi::default();
        let (v, ok) = invoke(&env("ADD"), stdin, &mut api);
        assert!(!ok);
        assert_eq!(
            err_code(&v),
            u64::from(want),
            "{}",
            String::from_utf8_lossy(stdin)
        );
        assert!(!v["msg"].as_str().unwrap().is_empty());
        assert!(api.sent.is_empty());
    }
}

#[test]
fn latticed_errors_map_to_codes() {
    for (kind, want) in [
        ("exhausted", code::EXHAUSTED),
        ("kernel", code::KERNEL),
        ("ipam", code::IPAM),
        ("bad_request", code::BAD_ENV),
        ("something_new", code::PROTOCOL),
    ] {
        let mut api = FakeApi {
            replies: vec![Reply::Error(ApiError {
                kind: kind.into(),
                message: "why".into(),
            })],
            ..Default::default()
        };
        let (v, ok) = invoke(&env("ADD"), &conf("1.1.0"), &mut api);
        assert!(!ok);
        assert_eq!(err_code(&v), u64::from(want), "{kind}");
        assert!(v["msg"].as_str().unwrap().contains("why"));
    }
}

#[test]
fn unreachable_latticed_is_try_again_and_status_50() {
    let (v, ok) = invoke(&env("ADD"), &conf("1.1.0"), &mut FakeApi::default());
    assert!(!ok);
    assert_eq!(err_code(&v), 11);
    assert!(v["msg"]
        .as_str()
        .unwrap()
        .contains("/run/lattice/lattice.sock"));
    let (v, ok) = invoke(&env("DEL"), &conf("1.1.0"), &mut FakeApi::default());
    assert!(!ok);
    assert_eq!(err_code(&v), 11);
    let (v, ok) = invoke(&env("STATUS"), &conf("1.1.0"), &mut FakeApi::default());
    assert!(!ok);
    assert_eq!(err_code(&v), 50);
}

#[test]
fn status_is_50_when_not_ready() {
    let mut api = FakeApi {
        replies: vec![Reply::Ready {
            ready: false,
            reason: Some("block full".into()),
        }],
        ..Default::default()
    };
    let (v, ok) = invoke(&env("STATUS"), &conf("1.1.0"), &mut api);
    assert!(!ok);
    assert_eq!(err_code(&v), 50);
    assert_eq!(v["msg"], "block full");
    let mut api = FakeApi {
        replies: vec![Reply::Ready {
            ready: true,
            reason: None,
        }],
        ..Default::default()
    };
    let (v, ok) = invoke(&env("STATUS"), &conf("1.1.0"), &mut api);
    assert!(ok);
    assert_eq!(v, Value::Null);
}

#[test]
fn del_without_netns_detaches_and_prints_nothing() {
    let mut e = env("DEL");
    e.remove("CNI_NETNS");
    let mut api = FakeApi {
        replies: vec![Reply::Detached { released: None }],
        ..Default::default()
    };
    let (v, ok) = invoke(&e, &conf("0.3.1"), &mut api);
    assert!(ok);
    assert_eq!(v, Value::Null);
    assert_eq!(
        api.sent,
        vec![Request::Detach {
            container_id: "abc123".into(),
            ifname: "eth0".into()
        }]
    );
}

#[test]
fn check_compares_prev_result_and_needs_0_4_0() {
    let prev = |addr: &str| {
        json!({"cniVersion": "1.0.0", "name": "n", "type": "lattice-cni",
            "prevResult": {"cniVersion": "1.0.0", "ips": [{"address": addr}]}})
        .to_string()
        .into_bytes()
    };
    let mut api = FakeApi {
        replies: vec![Reply::Attached(attachment())],
        ..Default::default()
    };
    let (_, ok) = invoke(&env("CHECK"), &prev("10.244.1.7/32"), &mut api);
    assert!(ok);
    let mut api = FakeApi {
        replies: vec![Reply::Attached(attachment())],
        ..Default::default()
    };
    let (v, ok) = invoke(&env("CHECK"), &prev("10.244.1.8/32"), &mut api);
    assert!(!ok);
    assert_eq!(err_code(&v), u64::from(code::MISMATCH));
    // Dual-stack: the /128 must be listed too.
    let dual = || {
        let mut a = attachment();
        a.address_v6 = Some("fd00:10:244::7".parse().unwrap());
        FakeApi {
            replies: vec![Reply::Attached(a)],
            ..Default::default()
        }
    };
    let (v, ok) = invoke(&env("CHECK"), &prev("10.244.1.7/32"), &mut dual());
    assert!(!ok);
    assert_eq!(err_code(&v), u64::from(code::MISMATCH));
    assert!(
        v["msg"].as_str().unwrap().contains("fd00:10:244::7/128"),
        "{v}"
    );
    let both = json!({"cniVersion": "1.0.0", "name": "n", "type": "lattice-cni",
        "prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "10.244.1.7/32"},
            {"address": "fd00:10:244::7/128"}]}})
    .to_string()
    .into_bytes();
    let (_, ok) = invoke(&env("CHECK"), &both, &mut dual());
    assert!(ok);
    let (v, _) = invoke(&env("CHECK"), &conf("1.0.0"), &mut FakeApi::default());
    assert_eq!(err_code(&v), u64::from(code::BAD_CONFIG), "no prevResult");
    let (v, _) = invoke(&env("CHECK"), &conf("0.3.1"), &mut FakeApi::default());
    assert_eq!(err_code(&v), u64::from(code::INCOMPATIBLE_VERSION));
}

#[test]
fn gc_keeps_valid_attachments_and_docker_endpoints() {
    let mut docker = attachment();
    docker.container_id = "docker:ep1".into();
    let mut gone = attachment();
    gone.container_id = "old".into();
    let mut api = FakeApi {
        replies: vec![
            Reply::List {
                attachments: vec![attachment(), docker, gone],
            },
            Reply::Collected {
                released: vec![AttachmentKey {
                    container_id: "old".into(),
                    ifname: "eth0".into(),
                }],
            },
        ],
        ..Default::default()
    };
    let stdin = json!({"cniVersion": "1.1.0", "name": "n", "type": "lattice-cni",
        "cni.dev/valid-attachments": [{"containerID": "abc123", "ifname": "eth0"}]});
    let (_, ok) = invoke(&env("GC"), stdin.to_string().as_bytes(), &mut api);
    assert!(ok);
    let key = |c: &str| AttachmentKey {
        container_id: c.into(),
        ifname: "eth0".into(),
    };
    assert_eq!(
        api.sent[1],
        Request::Gc {
            keep: vec![key("abc123"), key("docker:ep1")]
        }
    );
}

proptest! {
    /// Whatever arrives on stdin or in the environment, the plugin answers with one JSON
    /// document (or nothing) and never panics.
    #[test]
    fn arbitrary_input_never_panics(
        stdin in proptest::collection::vec(any::<u8>(), 0..512),
        cmd in prop_oneof![Just("ADD".to_string()), Just("DEL".to_string()), Just("CHECK".to_string()), Just("GC".to_string()), Just("VERSION".to_string()), ".*"],
        id in ".{0,20}",
        ifname in ".{0,20}",
    ) {
        let mut e = env(&cmd);
        e.insert("CNI_CONTAINERID".into(), id);
        e.insert("CNI_IFNAME".into(), ifname);
        let (out, _) = run(|k| e.get(k).cloned(), &stdin, &mut FakeApi::default());
        if !out.is_empty() {
            prop_assert!(serde_json::from_str::<Value>(&out).is_ok());
        }
    }

    /// Config-shaped JSON with random field values never panics either.
    #[test]
    fn arbitrary_config_values_never_panic(
        version in prop_oneof![Just("1.1.0".to_string()), Just("0.3.1".to_string()), ".{0,8}"],
        mtu in any::<i64>(),
        socket in ".{0,30}",
    ) {
        let stdin = json!({"cniVersion": version, "name": "n", "type": "t", "mtu": mtu,
            "socket": socket, "prevResult": {"ips": [{"address": 5}]}}).to_string();
        for cmd in ["ADD", "DEL", "CHECK", "STATUS", "GC"] {
            let (out, _) = run(|k| env(cmd).get(k).cloned(), stdin.as_bytes(), &mut FakeApi::default());
            prop_assert!(serde_json::from_str::<Value>(&out).is_ok() || out.is_empty());
        }
    }
}
