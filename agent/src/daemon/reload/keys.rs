//! THE table of what a change to each key takes: one line per key. A key added to
//! [`PeerConfig`] (or to any section) does not compile until it has its line here, so no key
//! is ever applied by accident (or not at all).
//!
//! - `bgp.peers[]` keys: [`Effect::Reset`] (the session is closed with Cease/6 and starts
//!   again: what goes in the OPEN, the transport, the timers), [`Effect::Import`] (applied to
//!   the running session by ROUTE-REFRESH or the kept Adj-RIB-In), [`Effect::Export`] (only
//!   the difference is sent, by UPDATEs).
//! - every other key: live (`bgp.peers`, `bgp.policies`) or restart required, named to the
//!   operator.

use crate::config::{
    ApiConfig, BgpConfig, ClusterConfig, Config, DataplaneConfig, DockerConfig,
    GracefulRestartConfig, IpamConfig, ListenConfig, MetricsConfig, MultipathConfig, NodeConfig,
    PeerConfig,
};

/// What a change to a `bgp.peers[]` key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    /// A new session: Cease/6 (Other Configuration Change, RFC 4486), then a fresh start.
    Reset,
    /// The running session takes a new import (what is accepted from the peer).
    Import,
    /// The running session takes a new export (what the peer is sent).
    Export,
    /// Only the peer's BFD session follows (new timers by a Poll Sequence, RFC 5880 §6.8.3;
    /// started, stopped or moved to its new path); the BGP session is untouched.
    Bfd,
}

/// One line per `bgp.peers[]` key: `key => Effect`. The destructuring below lists them all
/// (no `..`), so a new field of [`PeerConfig`] is a compile error until classified.
macro_rules! peer_keys {
    ($($key:ident => $effect:ident,)*) => {
        /// Every `bgp.peers[]` key and what changing it takes.
        pub const PEER_KEYS: &[(&str, Effect)] = &[$((stringify!($key), Effect::$effect),)*];

        /// The keys that differ between `old` and `new` (the same peer), with their effects.
        pub fn changed_peer_keys(old: &PeerConfig, new: &PeerConfig) -> Vec<(&'static str, Effect)> {
            let PeerConfig { $($key: _,)* } = old;
            let mut out = Vec::new();
            $(
                if old.$key != new.$key {
                    out.push((stringify!($key), Effect::$effect));
                }
            )*
            out
        }
    };
}

peer_keys! {
    // The peer's identity: peers are matched by it. Changed in place (the entry at the same
    // position, neither key another entry's), it is this peer reset; else one peer removed
    // and another added.
    address => Reset,
    interface => Reset,
    asn => Reset,
    hold_time => Reset,
    port => Reset,
    passive => Reset,
    connect_retry => Reset,
    local_address => Reset,
    keepalive => Reset,
    // Loop detection happens on import: the routes are taken again.
    allow_as_in => Import,
    // The per-peer machine counts against it from the session's start.
    max_prefixes => Reset,
    import => Import,
    export => Export,
    communities => Export,
    // Families are negotiated in the OPEN.
    address_families => Reset,
    // Without it an IPv6 session offers Extended Next Hop (RFC 8950) in the OPEN.
    ipv4_next_hop => Reset,
    ipv6_next_hop => Export,
    password => Reset,
    // The TTL of the session's sockets (RFC 5082 for ttl_security).
    ebgp_multihop => Reset,
    ttl_security => Reset,
    bfd => Bfd,
}

/// Push `prefix.field` for each listed field of `$ty` that differs; the destructuring lists
/// every field (no `..`), so a new one is a compile error until it is listed here.
macro_rules! restart_keys {
    ($out:ident, $old:expr, $new:expr, $prefix:literal, $ty:ident { $($field:ident),* $(,)? }) => {{
        let $ty { $($field: _,)* } = &$old;
        $(
            if $old.$field != $new.$field {
                $out.push(concat!($prefix, ".", stringify!($field)));
            }
        )*
    }};
}

/// The keys that differ between `old` and `new` and cannot change without a restart: the
/// host's identity in BGP (`node.*`, in every OPEN), the address plan (`cluster.*`,
/// `ipam.*`: blocks and allocations are built on them), the wiring of containers
/// (`dataplane.*`), what latticed listens on (`api.*`, `metrics.*`, `docker.*`,
/// `bgp.listen.*`), graceful restart (`bgp.graceful_restart.*`, in every OPEN) and the RIB's
/// ECMP rule (`bgp.multipath.*`, fixed when the RIB is made). Only `bgp.peers`,
/// `bgp.policies`, `bgp.bfd` and `bgp.shutdown_message` change live.
pub fn restart_required(old: &Config, new: &Config) -> Vec<&'static str> {
    let Config {
        node: _,
        cluster: _,
        ipam: _,
        dataplane: _,
        bgp: _,
        api: _,
        metrics: _,
        docker: _,
    } = old;
    let BgpConfig {
        listen: _,
        graceful_restart: _,
        multipath: _,
        // Restart required, as a whole: the mesh's registration and reflection role are set
        // up once at start.
        mesh: _,
        route_reflector: _,
        // Live.
        peers: _,
        policies: _,
        // Live: read when latticed stops, from the configuration the last reload applied.
        shutdown_message: _,
        // Live: the BFD sessions of the peers using the defaults follow (new timers by a Poll
        // Sequence); BGP sessions are untouched.
        bfd: _,
    } = &old.bgp;
    let mut out = Vec::new();
    restart_keys!(
        out,
        old.node,
        new.node,
        "node",
        NodeConfig {
            name,
            asn,
            router_id
        }
    );
    restart_keys!(
        out,
        old.cluster,
        new.cluster,
        "cluster",
        ClusterConfig {
            cidr,
            block_prefix_len,
            cidr_v6,
            block_prefix_len_v6
        }
    );
    restart_keys!(
        out,
        old.ipam,
        new.ipam,
        "ipam",
        IpamConfig {
            datastore,
            state_dir,
            block,
            node_index,
            block_v6,
            blocks,
            max_blocks_per_host,
            block_grace_period,
            leak_grace_period,
            fan,
            etcd
        }
    );
    restart_keys!(
        out,
        old.dataplane,
        new.dataplane,
        "dataplane",
        DataplaneConfig {
            mode,
            uplinks,
            mtu,
            parent,
            resync_interval,
            netlink_receive_buffer
        }
    );
    restart_keys!(
        out,
        old.bgp.listen,
        new.bgp.listen,
        "bgp.listen",
        ListenConfig { address, port }
    );
    restart_keys!(
        out,
        old.bgp.graceful_restart,
        new.bgp.graceful_restart,
        "bgp.graceful_restart",
        GracefulRestartConfig {
            enabled,
            restart_time
        }
    );
    restart_keys!(
        out,
        old.bgp.multipath,
        new.bgp.multipath,
        "bgp.multipath",
        MultipathConfig {
            relax,
            maximum_paths
        }
    );
    if old.bgp.mesh != new.bgp.mesh {
        out.push("bgp.mesh");
    }
    if old.bgp.route_reflector != new.bgp.route_reflector {
        out.push("bgp.route_reflector");
    }
    restart_keys!(out, old.api, new.api, "api", ApiConfig { socket });
    restart_keys!(
        out,
        old.metrics,
        new.metrics,
        "metrics",
        MetricsConfig { enabled, listen }
    );
    restart_keys!(
        out,
        old.docker,
        new.docker,
        "docker",
        DockerConfig { enabled, socket }
    );
    out
}
