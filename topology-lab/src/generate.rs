//! `lattice-lab generate`: a cluster without top-of-rack switches written out as an ordinary
//! topology file, so N hosts need no N hand-written entries: hosts on one L2 segment (a Linux
//! bridge in the `sw` namespace), an `etcd` node, and each host's latticed config with
//! `ipam.datastore: etcd` and `bgp.mesh` (the first `--reflectors` hosts reflect routes).
//!
//! Host `i` has `10.99.0.0/16 + i` on its `eth1` (etcd is `10.99.255.250`). Hosts the lab does
//! not start (`--spare`, or every host with `--no-start`) are plain namespaces already on the
//! segment, with their config written for whoever starts latticed there later; `--bird` also
//! writes each host a BIRD 2 config for the same cluster the way Calico's confd does (an iBGP
//! full mesh, one side of each pair passive, the host's block a static blackhole).

use std::fmt::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::error::LabError;

/// The address of etcd on the segment.
pub const ETCD_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 99, 255, 250);

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// Lab name (namespaces `<name>-<node>`).
    pub name: String,
    /// Hosts the lab starts (`host1`...).
    pub hosts: u32,
    /// Of those, how many (the first ones) are route reflectors.
    pub reflectors: u32,
    /// Containers per started host.
    pub containers: u32,
    /// Further hosts on the segment that the lab does not start.
    pub spare: u32,
    /// No host is started by the lab (every one is spare).
    pub no_start: bool,
    /// The hosts' ASN.
    pub asn: u32,
    /// `ipam.block_grace_period`: the etcd lease TTL, after which a dead host is forgotten.
    pub lease_secs: u32,
    /// `bgp.mesh.hold_time`.
    pub hold_time: u16,
    /// Write BIRD configs too.
    pub bird: bool,
    /// Where the files go (absolute: spare hosts' configs name paths under it).
    pub dir: PathBuf,
}

/// The most hosts a generated cluster can have (one /16 segment, /24 blocks of a /16 would
/// run out first: above 250 hosts blocks are /26).
pub const MAX_HOSTS: u32 = 4000;

/// Host `i`'s address on the segment.
pub fn host_address(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 99, 0, 0)) + i)
}

/// Host `i`'s MAC on the segment (etcd's: `i` = 0xffff).
fn host_mac(i: u32) -> String {
    format!("02:99:00:00:{:02x}:{:02x}", (i >> 8) & 0xff, i & 0xff)
}

impl ClusterSpec {
    /// Every host, started or not.
    pub fn total(&self) -> u32 {
        self.hosts + self.spare
    }

    fn started(&self, i: u32) -> bool {
        !self.no_start && i <= self.hosts
    }

    fn block_len(&self) -> u8 {
        if self.total() > 250 {
            26
        } else {
            24
        }
    }

    /// The block a BIRD host announces (latticed claims its own in etcd).
    fn bird_block(&self, i: u32) -> String {
        let index = i - 1;
        if self.block_len() == 24 {
            format!("10.244.{index}.0/24")
        } else {
            format!("10.244.{}.{}/26", index / 4, (index % 4) * 64)
        }
    }

    /// Checks before anything is written.
    pub fn check(&self) -> Result<(), LabError> {
        let bad = |m: String| Err(LabError::Failed(format!("generate: {m}")));
        if self.hosts == 0 && self.spare == 0 {
            return bad("--hosts must be at least 1".into());
        }
        if self.total() > MAX_HOSTS {
            return bad(format!("at most {MAX_HOSTS} hosts"));
        }
        if self.reflectors > self.hosts {
            return bad("--reflectors cannot exceed --hosts".into());
        }
        if !self.dir.is_absolute() {
            return bad(format!("--dir {} must be absolute", self.dir.display()));
        }
        if self.lease_secs < 2 {
            return bad("--lease must be at least 2 seconds".into());
        }
        if matches!(self.hold_time, 1 | 2) {
            return bad("--hold-time must be 0 or at least 3".into());
        }
        Ok(())
    }

    /// The topology file and every config, as (path under `dir`, contents).
    pub fn files(&self) -> Vec<(PathBuf, String)> {
        let mut out = vec![
            (
                PathBuf::from(format!("{}.clab.yml", self.name)),
                self.topology(),
            ),
            (self.neighbours_path(), self.neighbours()),
        ];
        for i in 1..=self.total() {
            out.push((self.config_path(i), self.latticed_config(i)));
            if self.bird {
                out.push((
                    PathBuf::from(&self.name).join(format!("host{i}.bird.conf")),
                    self.bird_config(i),
                ));
            }
        }
        out
    }

    /// `ip -batch` lines making every address on the segment a permanent neighbour.
    fn neighbours(&self) -> String {
        let mut b = String::new();
        let _ = writeln!(
            b,
            "neigh replace {ETCD_ADDRESS} lladdr {} dev eth1 nud permanent",
            host_mac(0xffff)
        );
        for i in 1..=self.total() {
            let _ = writeln!(
                b,
                "neigh replace {} lladdr {} dev eth1 nud permanent",
                host_address(i),
                host_mac(i)
            );
        }
        b
    }

    fn neighbours_path(&self) -> PathBuf {
        PathBuf::from(&self.name).join("neighbours.batch")
    }

    fn config_path(&self, i: u32) -> PathBuf {
        PathBuf::from(&self.name).join(format!("host{i}.yaml"))
    }

    fn topology(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "# Written by `lattice-lab generate`: {} hosts on one L2 segment (a bridge in the sw\n\
             # namespace) with etcd and no ToR; {} of them route reflectors.\nname: {}\ntopology:\n  nodes:",
            self.total(),
            self.reflectors,
            self.name
        );
        t.push_str(
            "    sw:\n      kind: linux\n      exec:\n        - ip link add br0 type bridge\n        \
             - ip link set br0 up\n        \
             - for p in $(ls /sys/class/net | grep -E '^p[0-9]+$'); do ip link set $p master br0 || exit 1; done\n",
        );
        // Every namespace shares the kernel's one neighbour table, whose dynamic entries are
        // capped machine-wide (gc_thresh3, 1024 by default): a mesh of N hosts on one segment
        // needs N(N-1) of them (9900 at 100 hosts), past which resolution fails with ENOBUFS.
        // Permanent entries are exempt from that cap (Linux >= 4.19), and each real host has
        // a table of its own, so the lab writes them.
        let neigh = format!(
            "      exec:\n        - ip -batch {}\n",
            self.dir.join(self.neighbours_path()).display()
        );
        t.push_str("    etcd:\n      kind: etcd\n");
        t.push_str(&neigh);
        for i in 1..=self.total() {
            if self.started(i) {
                let _ = writeln!(
                    t,
                    "    host{i}:\n      kind: lattice\n      startup-config: {}\n      containers: {}",
                    self.config_path(i).display(),
                    self.containers
                );
            } else {
                let _ = writeln!(t, "    host{i}:\n      kind: linux");
            }
            t.push_str(&neigh);
        }
        t.push_str("  links:\n");
        let _ = writeln!(
            t,
            "    - type: veth\n      endpoints:\n        - {{node: sw, interface: p0}}\n        \
             - {{node: etcd, interface: eth1, mac: \"{}\", ipv4: \"{ETCD_ADDRESS}/16\"}}",
            host_mac(0xffff)
        );
        for i in 1..=self.total() {
            let _ = writeln!(
                t,
                "    - type: veth\n      endpoints:\n        - {{node: sw, interface: p{i}}}\n        \
                 - {{node: host{i}, interface: eth1, mac: \"{}\", ipv4: \"{}/16\"}}",
                host_mac(i),
                host_address(i)
            );
        }
        t
    }

    fn latticed_config(&self, i: u32) -> String {
        let a = host_address(i);
        let mut c = format!(
            "node: {{name: host{i}, asn: {}, router_id: {a}}}\n\
             cluster: {{cidr: 10.244.0.0/16, block_prefix_len: {}}}\n\
             ipam:\n  datastore: etcd\n  block_grace_period: {}\n  \
             etcd: {{endpoints: ['http://{ETCD_ADDRESS}:2379'], prefix: /{}}}\n",
            self.asn,
            self.block_len(),
            self.lease_secs,
            self.name
        );
        if !self.started(i) {
            // Started by hand: the paths the lab would have set.
            let node = self.dir.join(&self.name).join(format!("host{i}"));
            let _ = writeln!(c, "  state_dir: {}", node.join("state").display());
            let _ = writeln!(
                c,
                "api: {{socket: {}}}",
                node.join("lattice.sock").display()
            );
        }
        let _ = write!(
            c,
            "dataplane: {{uplinks: [eth1]}}\ndocker: {{enabled: false}}\n\
             bgp:\n  mesh: {{enabled: true, hold_time: {}, connect_retry: 1}}\n",
            self.hold_time
        );
        if i <= self.reflectors {
            c.push_str("  route_reflector: {enabled: true}\n");
        }
        c
    }

    fn bird_config(&self, i: u32) -> String {
        let me = host_address(i);
        let mut c = format!(
            "# Calico's default design for host{i}: an iBGP full mesh written out by confd.\n\
             router id {me};\n\
             protocol device {{ scan time 10; }}\n\
             protocol kernel {{\n  ipv4 {{ import none; export where source = RTS_BGP || source = RTS_STATIC; }};\n  \
             learn; scan time 2; merge paths on; graceful restart;\n}}\n\
             protocol direct {{ ipv4; interface \"eth1\"; }}\n\
             protocol static {{ ipv4; route {} blackhole; }}\n\
             template bgp bgp_template {{\n  local {me} as {};\n  \
             ipv4 {{ import all; export where source = RTS_STATIC; next hop self; add paths on; }};\n  \
             graceful restart; graceful restart time {};\n  \
             connect delay time 2; connect retry time 5; error wait time 5,30;\n}}\n",
            self.bird_block(i),
            self.asn,
            self.lease_secs
        );
        for j in (1..=self.total()).filter(|j| *j != i) {
            let other = host_address(j);
            // As confd writes it: one side of each pair waits for the other to connect.
            let passive = if other > me { " passive on;" } else { "" };
            let _ = writeln!(
                c,
                "protocol bgp Mesh_{} from bgp_template {{ neighbor {other} as {};{passive} }}",
                other.to_string().replace('.', "_"),
                self.asn
            );
        }
        c
    }
}

/// Write the files under `spec.dir`; the topology file's path.
pub fn generate(spec: &ClusterSpec) -> Result<PathBuf, LabError> {
    spec.check()?;
    for (rel, text) in spec.files() {
        let path = spec.dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(LabError::io(format!("creating {}", parent.display())))?;
        }
        std::fs::write(&path, text).map_err(LabError::io(format!("writing {}", path.display())))?;
    }
    Ok(spec.dir.join(format!("{}.clab.yml", spec.name)))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::topology::Kind;

    fn spec() -> ClusterSpec {
        ClusterSpec {
            name: "m".into(),
            hosts: 3,
            reflectors: 1,
            containers: 1,
            spare: 1,
            no_start: false,
            asn: 64512,
            lease_secs: 6,
            hold_time: 9,
            bird: true,
            dir: "/tmp/gen".into(),
        }
    }

    #[test]
    fn the_generated_topology_is_an_ordinary_lab() {
        let s = spec();
        let files = s.files();
        assert_eq!(files.len(), 2 + 4 * 2);
        let lab = crate::topology::parse(&files[0].1, Path::new("/tmp/gen")).unwrap();
        let kind = |n: &str| lab.node(n).unwrap().kind;
        assert_eq!(kind("sw"), Kind::Linux);
        assert_eq!(kind("etcd"), Kind::Etcd);
        assert_eq!(kind("host1"), Kind::Lattice);
        assert_eq!(kind("host4"), Kind::Linux, "spare: not started");
        assert_eq!(lab.node("host2").unwrap().containers, 1);
        assert_eq!(lab.links.len(), 5);
        assert_eq!(
            crate::kinds::etcd::client_url(&lab, "etcd"),
            "http://10.99.255.250:2379"
        );
        assert!(lab.notes.is_empty(), "{:?}", lab.notes);
        // Every node's neighbours are permanent: the kernel's shared neighbour table would
        // overflow with a big mesh.
        let neighbours = &files[1].1;
        assert_eq!(neighbours.lines().count(), 5, "etcd and four hosts");
        assert!(neighbours
            .contains("neigh replace 10.99.0.4 lladdr 02:99:00:00:00:04 dev eth1 nud permanent"));
        for n in ["etcd", "host1", "host4"] {
            assert_eq!(
                lab.node(n).unwrap().exec,
                vec!["ip -batch /tmp/gen/m/neighbours.batch".to_string()],
                "{n}"
            );
        }
        let config = |i: usize| &files[2 * i].1;
        assert!(config(1).contains("route_reflector: {enabled: true}"));
        assert!(!config(2).contains("route_reflector"));
        assert!(config(4).contains("state_dir: /tmp/gen/m/host4/state"));
        assert!(!config(1).contains("state_dir"), "the lab sets it");
        let bird = &files[3].1;
        assert!(bird.contains("route 10.244.0.0/24 blackhole"));
        assert!(bird.contains("neighbor 10.99.0.2 as 64512; passive on;"));
        assert!(bird.contains("neighbor 10.99.0.4 as 64512; passive on;"));
        assert!(!bird.contains("neighbor 10.99.0.1 "));
    }

    #[test]
    fn bad_requests_are_refused_and_big_clusters_get_smaller_blocks() {
        let bad = |f: fn(&mut ClusterSpec)| {
            let mut s = spec();
            f(&mut s);
            s.check().is_err()
        };
        assert!(bad(|s| s.reflectors = 9));
        assert!(bad(|s| s.dir = "rel".into()));
        assert!(bad(|s| (s.hosts, s.spare) = (0, 0)));
        assert!(bad(|s| s.hosts = MAX_HOSTS));
        let mut s = spec();
        s.hosts = 300;
        assert_eq!(s.bird_block(1), "10.244.0.0/26");
        assert_eq!(s.bird_block(6), "10.244.1.64/26");
        assert_eq!(host_address(300), Ipv4Addr::new(10, 99, 1, 44));
    }
}
