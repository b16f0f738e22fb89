//! FRR's zebra and bfdd (the test kit's [`testkit::daemons::Frr`]) in the peer namespace,
//! configured by a `bfd` block, and its view of the sessions as JSON.

use serde_json::Value;

use super::Lab;

/// A running FRR; its daemons are killed when it drops.
pub struct Frr(testkit::daemons::Frr);

impl Frr {
    /// Starts zebra and bfdd (with its control socket, as FRR's own image does) in `lab`'s
    /// peer namespace, bfdd configured with `bfd_block`.
    pub fn start(lab: &Lab, bfd_block: &str) -> Frr {
        Frr(testkit::daemons::Frr::with_daemons(
            &lab.peer,
            lab.dir.path(),
            &[("bfdd", bfd_block)],
        ))
    }

    /// Runs vtysh commands; their stdout.
    pub fn vtysh(&self, cmds: &[&str]) -> String {
        self.0.vtysh(cmds)
    }

    /// Configures inside `bfd` / `peer_line`.
    pub fn configure_peer(&self, peer_line: &str, lines: &[&str]) {
        let mut cmds = vec!["configure terminal", "bfd", peer_line];
        cmds.extend_from_slice(lines);
        self.vtysh(&cmds);
    }

    /// `show bfd peers json`: one object per session.
    pub fn peers(&self) -> Vec<Value> {
        let out = self.vtysh(&["show bfd peers json"]);
        match serde_json::from_str(&out) {
            Ok(Value::Array(v)) => v,
            _ => vec![],
        }
    }

    /// The session with peer address `peer` (and multihop or not), if bfdd lists it.
    pub fn peer(&self, peer: &str, multihop: bool) -> Option<Value> {
        self.peers()
            .into_iter()
            .find(|p| p["peer"].as_str() == Some(peer) && p["multihop"].as_bool() == Some(multihop))
    }
}
