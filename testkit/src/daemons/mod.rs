//! Real daemons (FRR, BIRD, GoBGP, ExaBGP, OpenBGPD, etcd) as the lab recipes start them (`/work/shared/notes/lab-recipes.md`), each in a
//! namespace the test made (etcd on loopback), each stopped when its guard drops.

mod bird;
mod etcd;
mod exabgp;
mod frr;
mod gobgp;
mod openbgpd;

pub use bird::{Bird, BirdControl};
pub use etcd::{Etcd, EtcdTls};
pub use exabgp::{exabgp_recorder, Exabgp};
pub use frr::{Frr, FrrVty};
pub use gobgp::Gobgp;
pub use openbgpd::Openbgpd;

/// Installed binaries each daemon needs (for [`crate::require`]).
pub const FRR_BINARIES: &[&str] = &["/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "/usr/bin/vtysh"];
/// BIRD 2 and its CLI.
pub const BIRD_BINARIES: &[&str] = &["/usr/sbin/bird", "/usr/sbin/birdc"];
/// GoBGP and its CLI.
pub const GOBGP_BINARIES: &[&str] = &["/usr/bin/gobgpd", "/usr/bin/gobgp"];
/// ExaBGP.
pub const EXABGP_BINARIES: &[&str] = &["/usr/sbin/exabgp"];
/// OpenBGPD (portable) and its CLI.
pub const OPENBGPD_BINARIES: &[&str] = &["/usr/sbin/bgpd", "/usr/sbin/bgpctl"];
/// etcd (Debian's etcd-server).
pub const ETCD_BINARIES: &[&str] = &["/usr/bin/etcd"];
/// openssl, which makes the test certificates ([`crate::certs`]).
pub const OPENSSL_BINARIES: &[&str] = &["/usr/bin/openssl"];
