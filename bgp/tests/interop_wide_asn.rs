//! 4-octet ASNs above 65535 (RFC 6793) against every real peer: FRR, BIRD 2, GoBGP, ExaBGP and
//! OpenBGPD, each in AS 4200000001 with us in AS 4200000101. The session comes up (our OPEN's
//! My AS is AS_TRANS and the 4-octet AS capability carries the real one), the peer's route
//! reaches us with its AS in the path, and the peer shows ours. Root and the daemons only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::matrix::{
    blocking, can_run, expect, start_ours_as, Kind, Opts, Peer, THEIRS, WIDE_OUR_AS, WIDE_PEER_AS,
};
use common::Pair;
use testkit::eventually;

fn wide_asn(kind: Kind) {
    if !can_run(kind) {
        return;
    }
    let pair = Pair::new(&format!("w{}", kind as u8));
    let opts = Opts {
        wide_asn: true,
        ..Opts::default()
    };
    let peer = Arc::new(Peer::start(kind, &pair, opts));
    let p = peer.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours_as(None, false, opts).await;
        expect(&mut rx, THEIRS, true).await;
        let s = handle.status().await;
        assert_eq!(s[0].remote_as, WIDE_PEER_AS);
        let theirs: ipnet::IpNet = THEIRS.parse().unwrap();
        let route = handle.routes().into_iter().find(|r| r.prefix == theirs);
        let path = route
            .map(|r| r.paths[0].as_path.clone())
            .unwrap_or_default();
        assert_eq!(path, WIDE_PEER_AS.to_string());
        let ours = WIDE_OUR_AS.to_string();
        let shown =
            blocking(|| eventually(Duration::from_secs(30), || p.our_route().contains(&ours)));
        assert!(shown, "the peer does not show AS {ours}: {}", p.our_route());
        handle.shutdown().await;
    });
}

#[test]
fn frr_four_octet_asns_above_65535() {
    wide_asn(Kind::Frr);
}

#[test]
fn bird_four_octet_asns_above_65535() {
    wide_asn(Kind::Bird);
}

#[test]
fn gobgp_four_octet_asns_above_65535() {
    wide_asn(Kind::Gobgp);
}

#[test]
fn exabgp_four_octet_asns_above_65535() {
    wide_asn(Kind::Exabgp);
}

#[test]
fn openbgpd_four_octet_asns_above_65535() {
    wide_asn(Kind::Openbgpd);
}
