//! lattice-cni without root, issue 19 items 7 and 8: a GC without the runtime's list releases
//! nothing, and container ids the CNI spec forbids never reach latticed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use super::command::{Api, Unreachable};
use super::error::code;
use super::run;
use api::proto::{AttachmentKey, Reply, Request};

/// Records requests; answers from a queue (or "unreachable" when empty).
#[derive(Default)]
struct Recorder {
    sent: Vec<Request>,
    replies: Vec<Reply>,
}

impl Api for Recorder {
    fn call(&mut self, req: &Request) -> Result<Reply, Unreachable> {
        self.sent.push(req.clone());
        if self.replies.is_empty() {
            return Err(Unreachable("connection refused".into()));
        }
        Ok(self.replies.remove(0))
    }
}

fn invoke(vars: &[(&str, &str)], stdin: &Value, api: &mut Recorder) -> (Value, bool) {
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    let (out, ok) = run(get, stdin.to_string().as_bytes(), api);
    let v = if out.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&out).unwrap()
    };
    (v, ok)
}

fn gc_conf(extra: Value) -> Value {
    let mut c = json!({"cniVersion": "1.1.0", "name": "n", "type": "lattice-cni"});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

#[test]
fn gc_without_a_list_of_valid_attachments_is_refused_and_releases_nothing() {
    for extra in [
        json!({}),
        json!({"cni.dev/valid-attachments": null}),
        json!({"cni.dev/valid-attachments": null, "cni.dev/attachments": null}),
    ] {
        let mut api = Recorder::default();
        let (v, ok) = invoke(&[("CNI_COMMAND", "GC")], &gc_conf(extra.clone()), &mut api);
        assert!(!ok, "{extra}: {v}");
        assert_eq!(v["code"], code::BAD_CONFIG, "{extra}: {v}");
        assert!(
            v["msg"]
                .as_str()
                .unwrap()
                .contains("cni.dev/valid-attachments"),
            "{v}"
        );
        assert!(
            api.sent.is_empty(),
            "{extra}: latticed was asked {:?}",
            api.sent
        );
    }
}

#[test]
fn gc_accepts_the_older_name_and_an_empty_list() {
    let key = |c: &str| AttachmentKey {
        container_id: c.into(),
        ifname: "eth0".into(),
    };
    for (extra, keep) in [
        (
            json!({"cni.dev/attachments": [{"containerID": "abc", "ifname": "eth0"}]}),
            vec![key("abc")],
        ),
        // libcni sends both names; valid-attachments wins.
        (
            json!({"cni.dev/valid-attachments": [{"containerID": "x", "ifname": "eth0"}],
                   "cni.dev/attachments": [{"containerID": "y", "ifname": "eth0"}]}),
            vec![key("x")],
        ),
        // An empty list is the runtime saying "nothing is in use": release everything.
        (json!({"cni.dev/valid-attachments": []}), vec![]),
    ] {
        let mut api = Recorder {
            replies: vec![
                Reply::List {
                    attachments: vec![],
                },
                Reply::Collected { released: vec![] },
            ],
            ..Default::default()
        };
        let (v, ok) = invoke(&[("CNI_COMMAND", "GC")], &gc_conf(extra.clone()), &mut api);
        assert!(ok, "{extra}: {v}");
        assert_eq!(api.sent[1], Request::Gc { keep }, "{extra}");
    }
}

#[test]
fn container_ids_the_spec_forbids_are_refused_for_add_and_del() {
    let conf = json!({"cniVersion": "1.0.0", "name": "n", "type": "lattice-cni"});
    for id in [".", "..", "-rf", "_x", "../etc", "a/b", "a b", ""] {
        for cmd in ["ADD", "DEL"] {
            let mut api = Recorder::default();
            let vars = [
                ("CNI_COMMAND", cmd),
                ("CNI_CONTAINERID", id),
                ("CNI_NETNS", "/"),
                ("CNI_IFNAME", "eth0"),
            ];
            let (v, ok) = invoke(&vars, &conf, &mut api);
            assert!(!ok, "{cmd} {id:?}: {v}");
            assert_eq!(v["code"], code::BAD_ENV, "{cmd} {id:?}: {v}");
            assert!(api.sent.is_empty(), "{cmd} {id:?} reached latticed");
        }
    }
    // What runtimes really send passes: a CRI sandbox id, podman's, a name with '.', '_', '-'.
    for id in ["0a1b2c3d", "c1", "web.1_a-b"] {
        let mut api = Recorder {
            replies: vec![Reply::Detached { released: None }],
            ..Default::default()
        };
        let vars = [
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", id),
            ("CNI_IFNAME", "eth0"),
        ];
        let (v, ok) = invoke(&vars, &conf, &mut api);
        assert!(ok, "{id}: {v}");
    }
}
