//! Property and persistence tests: no address ever has two owners, counts stay exact, and what
//! was acknowledged survives reopening.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipam::{AllocationKey, Assigned, Ipam, IpamError, IpamSettings};
use ipnet::IpNet;
use proptest::prelude::*;

fn settings(dir: &std::path::Path, block: &str) -> IpamSettings {
    let mut s = IpamSettings::new("10.244.0.0/16".parse().unwrap(), dir.to_path_buf());
    s.block_prefix_len = block.rsplit('/').next().unwrap().parse().unwrap();
    s.block = Some(block.parse().unwrap());
    s
}

/// A dual-stack host with /29 blocks (8 addresses), two more blocks of each family to borrow,
/// at most 3 blocks per family: 24 containers fit, the 25th is refused.
fn dual_stack(dir: &std::path::Path) -> IpamSettings {
    let mut s = settings(dir, "10.244.1.0/29");
    s.cluster_v6 = Some("fd00:10:244::/56".parse().unwrap());
    s.block_prefix_len_v6 = 125;
    s.block_v6 = Some("fd00:10:244::100/125".parse().unwrap());
    s.blocks = [
        "10.244.1.8/29",
        "fd00:10:244::108/125",
        "10.244.1.16/29",
        "fd00:10:244::110/125",
        "10.244.1.24/29",
    ]
    .iter()
    .map(|b| b.parse().unwrap())
    .collect();
    s.max_blocks_per_host = 3;
    s.grace_period_secs = 10;
    s
}

fn key(c: u8, i: u8) -> AllocationKey {
    AllocationKey::new(&format!("c{c}"), &format!("eth{i}"))
}

#[derive(Debug, Clone)]
enum Op {
    Allocate(u8, u8),
    Release(u8, u8),
    Gc(Vec<(u8, u8)>),
    Tick(u8),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..30, 0u8..2).prop_map(|(c, i)| Op::Allocate(c, i)),
        3 => (0u8..30, 0u8..2).prop_map(|(c, i)| Op::Release(c, i)),
        1 => prop::collection::vec((0u8..30, 0u8..2), 0..20).prop_map(Op::Gc),
        1 => (0u8..20).prop_map(Op::Tick),
        1 => Just(Op::Reopen),
    ]
}

/// Check the allocator against the model: one owner per address, every address inside a held
/// block, counts equal, every modelled key at its address.
fn check(ipam: &Ipam, model: &HashMap<AllocationKey, Assigned>) -> Result<(), TestCaseError> {
    let all = ipam.allocations();
    let mut owners = HashSet::new();
    let blocks = ipam.blocks();
    for a in &all {
        prop_assert!(owners.insert(IpAddr::V4(a.v4)), "{} held twice", a.v4);
        let v6 = a.v6.expect("dual stack: every key has an IPv6 address");
        prop_assert!(owners.insert(IpAddr::V6(v6)), "{} held twice", v6);
        prop_assert!(blocks.iter().any(|b| b.contains(&IpAddr::V4(a.v4))));
        prop_assert!(blocks.iter().any(|b| b.contains(&IpAddr::V6(v6))));
    }
    prop_assert_eq!(all.len(), model.len());
    prop_assert_eq!(ipam.in_use(), model.len());
    for (k, a) in model {
        prop_assert_eq!(ipam.get(k), Some(a.clone()));
    }
    let v4_blocks = blocks.iter().filter(|b| matches!(b, IpNet::V4(_))).count();
    prop_assert!(v4_blocks <= 3);
    prop_assert_eq!(ipam.capacity(), 8 * v4_blocks as u128);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn never_two_owners_and_exact_accounting(ops in prop::collection::vec(op(), 1..150)) {
        let dir = tempfile::tempdir().unwrap();
        let s = dual_stack(dir.path());
        let mut now = 1000u64;
        let mut ipam = Ipam::open(&s, now).unwrap();
        let mut model: HashMap<AllocationKey, Assigned> = HashMap::new();
        for op in ops {
            match op {
                Op::Allocate(c, i) => {
                    let k = key(c, i);
                    match ipam.allocate(&k, now) {
                        Ok(a) => {
                            if let Some(prev) = model.get(&k) {
                                prop_assert_eq!(prev, &a);
                            }
                            model.insert(k, a);
                        }
                        Err(IpamError::Exhausted { .. }) => {
                            prop_assert!(!model.contains_key(&k));
                            prop_assert_eq!(model.len(), 24);
                        }
                        Err(e) => prop_assert!(false, "unexpected error {}", e),
                    }
                }
                Op::Release(c, i) => {
                    let k = key(c, i);
                    let released = ipam.release(&k, now).unwrap();
                    prop_assert_eq!(released, model.remove(&k));
                }
                Op::Gc(keep) => {
                    let keep: HashSet<_> = keep.into_iter().map(|(c, i)| key(c, i)).collect();
                    let released = ipam.gc(&keep, now).unwrap();
                    let expected: HashSet<_> = model.keys().filter(|k| !keep.contains(*k)).cloned().collect();
                    let got: HashSet<_> = released.iter().map(|a| a.key.clone()).collect();
                    prop_assert_eq!(got, expected);
                    model.retain(|k, _| keep.contains(k));
                }
                Op::Tick(secs) => {
                    now += u64::from(secs);
                    for b in ipam.expired_blocks(now) {
                        prop_assert!(ipam.remove_block(b, now).unwrap());
                    }
                }
                Op::Reopen => {
                    drop(ipam);
                    ipam = Ipam::open(&s, now).unwrap();
                }
            }
            check(&ipam, &model)?;
        }
    }
}

#[test]
fn borrowed_blocks_are_given_back_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let s = dual_stack(dir.path());
    let mut ipam = Ipam::open(&s, 0).unwrap();
    for c in 0..9 {
        ipam.allocate(&key(c, 0), 0).unwrap();
    }
    assert_eq!(ipam.blocks().len(), 4, "{:?}", ipam.blocks());
    let ninth = ipam.get(&key(8, 0)).unwrap();
    assert_eq!(ninth.v4.to_string(), "10.244.1.8");
    assert_eq!(ninth.v6.unwrap().to_string(), "fd00:10:244::108");
    ipam.release(&key(8, 0), 100).unwrap();
    assert!(ipam.expired_blocks(109).is_empty());
    let due = ipam.expired_blocks(110);
    assert_eq!(due.len(), 2);
    // Surviving a restart, the grace period starts again (conservative).
    drop(ipam);
    let mut ipam = Ipam::open(&s, 200).unwrap();
    assert!(ipam.expired_blocks(205).is_empty());
    for b in ipam.expired_blocks(210) {
        assert!(ipam.remove_block(b, 210).unwrap());
    }
    assert_eq!(ipam.blocks().len(), 2);
    drop(ipam);
    assert_eq!(Ipam::open(&s, 300).unwrap().blocks().len(), 2);
}

#[test]
fn exhaustion_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), "10.244.1.0/30");
    s.blocks = vec!["10.244.1.4/30".parse().unwrap()];
    let mut ipam = Ipam::open(&s, 0).unwrap();
    for c in 0..8 {
        ipam.allocate(&key(c, 0), 0).unwrap();
    }
    let err = ipam.allocate(&key(9, 0), 0).unwrap_err();
    assert!(matches!(err, IpamError::Exhausted { .. }), "{err}");
    assert!(err.to_string().contains("no free IPv4 address"), "{err}");
    assert!(err.to_string().contains("10.244.1.4/30"), "{err}");
    s.max_blocks_per_host = 1;
    s.blocks.clear();
    let dir2 = tempfile::tempdir().unwrap();
    s.state_dir = dir2.path().to_path_buf();
    let mut ipam = Ipam::open(&s, 0).unwrap();
    for c in 0..4 {
        ipam.allocate(&key(c, 0), 0).unwrap();
    }
    let err = ipam.allocate(&key(9, 0), 0).unwrap_err();
    assert!(err.to_string().contains("max_blocks_per_host"), "{err}");
}

#[test]
fn allocations_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), "10.244.1.0/24");
    let a = Ipam::open(&s, 0).unwrap().allocate(&key(1, 0), 0).unwrap();
    let ipam = Ipam::open(&s, 0).unwrap();
    assert_eq!(ipam.get(&key(1, 0)), Some(a));
}

#[test]
fn the_first_version_state_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("allocations.json"),
        br#"{"version":1,"block":"10.244.1.0/24","allocations":[{"container_id":"a","ifname":"eth0","address":"10.244.1.7"}]}"#,
    )
    .unwrap();
    let s = settings(dir.path(), "10.244.1.0/24");
    let ipam = Ipam::open(&s, 0).unwrap();
    assert_eq!(
        ipam.get(&AllocationKey::new("a", "eth0"))
            .unwrap()
            .v4
            .to_string(),
        "10.244.1.7"
    );
    assert!(!dir.path().join("allocations.json").exists(), "converted");
    drop(ipam);
    assert_eq!(Ipam::open(&s, 0).unwrap().in_use(), 1);
}

#[test]
fn a_second_opener_is_refused_while_locked() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), "10.244.1.0/24");
    let _first = Ipam::open(&s, 0).unwrap();
    assert!(matches!(Ipam::open(&s, 0), Err(IpamError::Locked(_))));
}

#[test]
fn a_changed_block_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Ipam::open(&settings(dir.path(), "10.244.1.0/24"), 0)
        .unwrap()
        .allocate(&key(1, 0), 0)
        .unwrap();
    let err = Ipam::open(&settings(dir.path(), "10.244.2.0/24"), 0).unwrap_err();
    assert!(matches!(err, IpamError::BlockChanged { .. }), "{err}");
}

#[test]
fn corrupt_state_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), "10.244.1.0/24");
    let junk: [&[u8]; 6] = [
        b"{",
        b"\xff\xfe",
        b"{\"version\":9,\"block\":\"10.244.1.0/24\",\"allocations\":[]}",
        b"[]",
        b"{\"version\":1,\"block\":\"10.244.1.0/24\",\"allocations\":[{\"container_id\":\"a\",\"ifname\":\"eth0\",\"address\":\"10.9.9.9\"}]}",
        b"{\"version\":2,\"seq\":0,\"records\":[{\"op\":\"assign\",\"key\":{\"container_id\":\"a\",\"ifname\":\"eth0\"},\"addresses\":[\"10.244.1.1\"]}]}",
    ];
    for j in junk {
        std::fs::write(dir.path().join("state.json"), j).unwrap();
        let r = Ipam::open(&s, 0);
        assert!(
            matches!(r, Err(IpamError::Corrupt { .. })),
            "{:?}: {r:?}",
            String::from_utf8_lossy(j)
        );
    }
}

#[test]
fn journal_damage_before_the_last_line_is_corruption_a_torn_last_line_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), "10.244.1.0/24");
    let journal = dir.path().join("journal.log");
    {
        let mut ipam = Ipam::open(&s, 0).unwrap();
        ipam.allocate(&key(1, 0), 0).unwrap();
        ipam.allocate(&key(2, 0), 0).unwrap();
    }
    let good = std::fs::read(&journal).unwrap();
    assert_eq!(
        good.iter().filter(|b| **b == b'\n').count(),
        3,
        "primary block and two allocations"
    );
    // Half of a third line: dropped.
    let mut torn = good.clone();
    torn.extend_from_slice(b"0123456789abcdef {\"seq\":99,\"rec");
    std::fs::write(&journal, &torn).unwrap();
    assert_eq!(Ipam::open(&s, 0).unwrap().in_use(), 2);
    // The open compacted everything into the snapshot: damage the journal anew.
    {
        let mut ipam = Ipam::open(&s, 0).unwrap();
        ipam.allocate(&key(3, 0), 0).unwrap();
        ipam.allocate(&key(4, 0), 0).unwrap();
    }
    let mut bad = std::fs::read(&journal).unwrap();
    let first_brace = bad.iter().position(|b| *b == b'{').unwrap();
    bad[first_brace + 3] ^= 0x20;
    std::fs::write(&journal, &bad).unwrap();
    assert!(matches!(Ipam::open(&s, 0), Err(IpamError::Corrupt { .. })));
}

#[test]
fn a_leftover_temp_file_from_a_crash_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), "10.244.1.0/24");
    let a = Ipam::open(&s, 0).unwrap().allocate(&key(1, 0), 0).unwrap();
    std::fs::write(dir.path().join("state.json.tmp"), b"{half").unwrap();
    assert_eq!(Ipam::open(&s, 0).unwrap().get(&key(1, 0)), Some(a));
}
