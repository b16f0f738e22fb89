//! A link that fails silently (lab-recipes "Silent link failure"): carrier up, addresses and
//! routes in place, every packet in or out of the interface dropped by nftables at priority
//! -300 (before conntrack), so only a liveness protocol (BFD, BGP's hold timer) can notice.

use std::io::Write;
use std::process::{Command, Stdio};

/// The nftables table that silences `dev` (one per interface, so two can be silenced apart).
fn table(dev: &str) -> String {
    let safe: String = dev
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("lattice_silence_{safe}")
}

/// Drops everything received on, sent from or forwarded through `dev` in namespace `ns`.
pub fn silence(ns: &str, dev: &str) {
    let rules = format!(
        "table inet {t} {{\n\
         chain i {{ type filter hook input priority -300; iifname \"{dev}\" drop; }}\n\
         chain f {{ type filter hook forward priority -300; iifname \"{dev}\" drop; oifname \"{dev}\" drop; }}\n\
         chain o {{ type filter hook output priority -300; oifname \"{dev}\" drop; }}\n}}\n",
        t = table(dev)
    );
    let mut nft = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nft");
    nft.stdin
        .take()
        .expect("stdin")
        .write_all(rules.as_bytes())
        .expect("nft rules");
    let out = nft.wait_with_output().expect("nft");
    assert!(
        out.status.success(),
        "silencing {dev} in {ns}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Undoes [`silence`].
pub fn unsilence(ns: &str, dev: &str) {
    crate::cmd::run(&[
        "ip",
        "netns",
        "exec",
        ns,
        "nft",
        "delete",
        "table",
        "inet",
        &table(dev),
    ]);
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_table_per_interface_with_a_name_nft_accepts() {
        assert_eq!(super::table("eth1"), "lattice_silence_eth1");
        assert_eq!(super::table("o-0.1"), "lattice_silence_o_0_1");
    }
}
