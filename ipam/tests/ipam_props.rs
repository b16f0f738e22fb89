//! Property and persistence tests: no address ever has two owners, counts stay exact, and what
//! was acknowledged survives reopening.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use ipam::{Ipam, IpamError, IpamSettings};
use proptest::prelude::*;

fn settings(dir: &std::path::Path, block: &str) -> IpamSettings {
    IpamSettings {
        cluster: "10.244.0.0/16".parse().unwrap(),
        block_prefix_len: block.rsplit('/').next().unwrap().parse().unwrap(),
        block: Some(block.parse().unwrap()),
        node_index: None,
        state_dir: dir.to_path_buf(),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Allocate(u8, u8),
    Release(u8, u8),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..40, 0u8..2).prop_map(|(c, i)| Op::Allocate(c, i)),
        2 => (0u8..40, 0u8..2).prop_map(|(c, i)| Op::Release(c, i)),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn never_two_owners_and_exact_accounting(ops in prop::collection::vec(op(), 1..120)) {
        let dir = tempfile::tempdir().unwrap();
        // A /27 (32 addresses) so that exhaustion is reached too.
        let s = settings(dir.path(), "10.244.1.0/27");
        let mut ipam = Ipam::open(&s).unwrap();
        let mut model: HashMap<(String, String), std::net::Ipv4Addr> = HashMap::new();
        for op in ops {
            match op {
                Op::Allocate(c, i) => {
                    let key = (format!("c{c}"), format!("eth{i}"));
                    match ipam.allocate(&key.0, &key.1) {
                        Ok(a) => {
                            if let Some(prev) = model.get(&key) {
                                prop_assert_eq!(*prev, a.address);
                            }
                            prop_assert!(s.block.unwrap().contains(&a.address));
                            model.insert(key, a.address);
                        }
                        Err(IpamError::Exhausted { .. }) => {
                            prop_assert!(!model.contains_key(&key));
                            prop_assert_eq!(model.len(), ipam.capacity());
                        }
                        Err(e) => prop_assert!(false, "unexpected error {}", e),
                    }
                }
                Op::Release(c, i) => {
                    let key = (format!("c{c}"), format!("eth{i}"));
                    let released = ipam.release(&key.0, &key.1).unwrap();
                    prop_assert_eq!(released, model.remove(&key));
                }
                Op::Reopen => {
                    drop(ipam);
                    ipam = Ipam::open(&s).unwrap();
                }
            }
            let owners: HashSet<_> = ipam.allocations().iter().map(|a| a.address).collect();
            prop_assert_eq!(owners.len(), ipam.allocations().len());
            prop_assert_eq!(ipam.in_use(), model.len());
            for (key, addr) in &model {
                prop_assert_eq!(ipam.get(&key.0, &key.1), Some(*addr));
            }
        }
    }
}

#[test]
fn allocations_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), "10.244.1.0/24");
    let a = Ipam::open(&s).unwrap().allocate("c1", "eth0").unwrap();
    let ipam = Ipam::open(&s).unwrap();
    assert_eq!(ipam.get("c1", "eth0"), Some(a.address));
}

#[test]
fn a_second_opener_is_refused_while_locked() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), "10.244.1.0/24");
    let _first = Ipam::open(&s).unwrap();
    assert!(matches!(Ipam::open(&s), Err(IpamError::Locked(_))));
}

#[test]
fn a_changed_block_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Ipam::open(&settings(dir.path(), "10.244.1.0/24"))
        .unwrap()
        .allocate("c1", "eth0")
        .unwrap();
    let err = Ipam::open(&settings(dir.path(), "10.244.2.0/24")).unwrap_err();
    assert!(matches!(err, IpamError::BlockChanged { .. }), "{err}");
}

#[test]
fn corrupt_state_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), "10.244.1.0/24");
    let junk: [&[u8]; 5] = [
        b"{",
        b"\xff\xfe",
        b"{\"version\":9,\"block\":\"10.244.1.0/24\",\"allocations\":[]}",
        b"[]",
        b"{\"version\":1,\"block\":\"10.244.1.0/24\",\"allocations\":[{\"container_id\":\"a\",\"ifname\":\"eth0\",\"address\":\"10.9.9.9\"}]}",
    ];
    for j in junk {
        std::fs::write(dir.path().join("allocations.json"), j).unwrap();
        assert!(matches!(Ipam::open(&s), Err(IpamError::Corrupt { .. })));
    }
}

#[test]
fn a_leftover_temp_file_from_a_crash_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), "10.244.1.0/24");
    let a = Ipam::open(&s).unwrap().allocate("c1", "eth0").unwrap();
    std::fs::write(dir.path().join("allocations.json.tmp"), b"{half").unwrap();
    assert_eq!(Ipam::open(&s).unwrap().get("c1", "eth0"), Some(a.address));
}
