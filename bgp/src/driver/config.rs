//! What the speaker and each of its peers are configured with.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::password::Password;
use crate::fsm::{GrOptions, RemoteAs};
use crate::policy::{ImportPolicy, Policy};
use crate::rib::Multipath;
use crate::rib::ReflectRole;
use crate::wire::LargeCommunity;
use crate::PeerKey;

/// The whole speaker's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerConfig {
    /// Our ASN.
    pub local_as: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Where to accept connections (`None`: connect only). `[::]:179` takes both families.
    pub listen: Option<SocketAddr>,
    /// The neighbours.
    pub peers: Vec<PeerConfig>,
    /// Graceful restart (RFC 4724): `None` disables it (neither helper nor restarting speaker).
    pub graceful_restart: Option<GrOptions>,
    /// Hostname announced in the FQDN capability.
    pub hostname: Option<String>,
    /// Act as a route reflector (RFC 4456) with this CLUSTER_ID: iBGP routes from peers with a
    /// [`PeerConfig::reflect`] role are passed on. `None`: a leaf that only announces its own
    /// prefixes.
    pub route_reflector: Option<Ipv4Addr>,
    /// Which equal paths form ECMP sets ([`Multipath::default`]: FRR's, no relax).
    pub multipath: Multipath,
}

impl SpeakerConfig {
    /// A speaker with no peers and no listener, graceful restart on as a helper.
    pub fn new(local_as: u32, router_id: Ipv4Addr) -> Self {
        Self {
            local_as,
            router_id,
            listen: None,
            peers: Vec::new(),
            graceful_restart: Some(GrOptions::default()),
            hostname: None,
            route_reflector: None,
            multipath: Multipath::default(),
        }
    }
}

/// Address families exchanged with a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    /// IPv4 unicast.
    pub ipv4: bool,
    /// IPv6 unicast.
    pub ipv6: bool,
}

/// One neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// Who it is: its address (IPv4 or IPv6 transport), or its interface (sessions between
    /// IPv6 link-local addresses, the neighbour's discovered).
    pub peer: PeerKey,
    /// Its port (179).
    pub port: u16,
    /// Its ASN, or `external`/`internal`.
    pub remote_as: RemoteAs,
    /// Hold time we propose.
    pub hold_time: u16,
    /// Time between connection attempts (jittered by up to -25%, RFC 4271 §10).
    pub connect_retry: Duration,
    /// Never connect, only accept.
    pub passive: bool,
    /// Source address for our connections (`None`: the kernel chooses).
    pub local_address: Option<IpAddr>,
    /// Keepalive interval; `None`: a third of the negotiated hold time.
    pub keepalive: Option<u16>,
    /// Which of the peer's prefixes are accepted.
    pub import: ImportPolicy,
    /// A route policy run on each route `import` accepted: it may refuse it or change it.
    pub import_policy: Option<Arc<Policy>>,
    /// Prefixes announced to this peer besides the speaker's local prefixes.
    pub export: Vec<IpNet>,
    /// A route policy deciding which of our routes this peer is sent, and with what (the local
    /// prefixes, `export` and the announced ones). Without one, the local prefixes and `export`
    /// are sent as they are and announced prefixes are not.
    pub export_policy: Option<Arc<Policy>>,
    /// COMMUNITIES set on every route we announce to this peer (RFC 1997).
    pub communities: Vec<u32>,
    /// LARGE_COMMUNITY set on every route we announce to this peer (RFC 8092).
    pub large_communities: Vec<LargeCommunity>,
    /// Families negotiated with this peer.
    pub families: Families,
    /// Next hop for IPv4 routes when the session runs over IPv6 (default: none, so IPv4 is not
    /// announced over an IPv6 session unless set).
    pub ipv4_next_hop: Option<Ipv4Addr>,
    /// Next hop for IPv6 routes when the session runs over IPv4 (default: the session's IPv4
    /// address mapped into IPv6, as FRR does, which is rarely usable: set it).
    pub ipv6_next_hop: Option<Ipv6Addr>,
    /// Tear the session down (Cease/1) when the peer sends more accepted prefixes than this.
    pub max_prefixes: Option<u32>,
    /// Occurrences of our ASN tolerated in a received AS_PATH.
    pub allow_as_in: u8,
    /// TCP MD5 signature key (RFC 2385), 1-80 bytes: set on our connecting socket and, for the
    /// peer's address, on the listener, so the kernel drops the peer's unsigned segments.
    pub password: Option<Password>,
    /// Start held down until the peer's BFD session is Up ([`super::BfdSignal::Up`]), for at
    /// most this long. After a graceful restart of ours, so that the peer's BFD session of
    /// before the restart falls while no BGP session is up (a fall during the new session
    /// would close it with Cease/10 and end the graceful restart).
    pub wait_for_bfd: Option<Duration>,
    /// TTL of an eBGP session's packets (default 1: a directly connected neighbour).
    pub ebgp_multihop: Option<u8>,
    /// GTSM (RFC 5082): send TTL 255, accept nothing below 254.
    pub ttl_security: bool,
    /// Its role when this speaker reflects routes (an iBGP peer only): its routes are passed
    /// on, and it is sent what is reflected (RFC 4456 §6). `None`: neither.
    pub reflect: Option<ReflectRole>,
    /// Where this peer's configuration came from (shown by `lattice peers`).
    pub source: PeerSource,
}

/// Where a peer's configuration came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerSource {
    /// Written in the configuration (`bgp.peers`).
    #[default]
    Configured,
    /// Found in the cluster's datastore (`bgp.mesh`): the host it belongs to.
    Discovered {
        /// The registered host's name.
        host: String,
    },
}

impl PeerConfig {
    /// A peer with RFC defaults: hold 90 s, connect-retry 3 s, active, every prefix accepted
    /// (the agent always passes a stricter import policy), nothing extra exported.
    pub fn new(peer: PeerKey, remote_as: impl Into<RemoteAs>) -> Self {
        let ipv6 = peer.is_ipv6();
        Self {
            peer,
            port: 179,
            remote_as: remote_as.into(),
            hold_time: 90,
            connect_retry: Duration::from_secs(3),
            passive: false,
            local_address: None,
            keepalive: None,
            import: ImportPolicy::accept_all(),
            import_policy: None,
            export: Vec::new(),
            export_policy: None,
            communities: Vec::new(),
            large_communities: Vec::new(),
            families: Families { ipv4: true, ipv6 },
            ipv4_next_hop: None,
            ipv6_next_hop: None,
            max_prefixes: None,
            allow_as_in: 0,
            password: None,
            wait_for_bfd: None,
            reflect: None,
            source: PeerSource::Configured,
            ebgp_multihop: None,
            ttl_security: false,
        }
    }
}

impl PeerConfig {
    /// What the session itself is made of: a change here needs a new session (the OPEN, the
    /// timers, the transport, the per-peer machine), while the rest (import and export) can
    /// change under a running one.
    #[allow(clippy::type_complexity)]
    pub(super) fn session_part(
        &self,
    ) -> (
        (&PeerKey, u16, RemoteAs, u16, Duration, bool),
        (Option<IpAddr>, Option<u16>, Families, Option<Ipv4Addr>),
        (Option<u32>, &Option<Password>, Option<u8>, bool),
    ) {
        (
            (
                &self.peer,
                self.port,
                self.remote_as,
                self.hold_time,
                self.connect_retry,
                self.passive,
            ),
            (
                self.local_address,
                self.keepalive,
                self.families,
                // Offered as Extended Next Hop (RFC 8950) in the OPEN when unset.
                self.ipv4_next_hop,
            ),
            (
                self.max_prefixes,
                &self.password,
                // The TTL of the session's sockets.
                self.ebgp_multihop,
                self.ttl_security,
            ),
        )
    }

    /// Whether a change from `self` to `new` touches what is accepted from the peer.
    pub(super) fn import_differs(&self, new: &PeerConfig) -> bool {
        (&self.import, &self.import_policy, self.allow_as_in)
            != (&new.import, &new.import_policy, new.allow_as_in)
    }

    /// Whether a change from `self` to `new` touches what the peer is sent.
    pub(super) fn export_differs(&self, new: &PeerConfig) -> bool {
        (
            &self.export,
            &self.export_policy,
            &self.communities,
            &self.large_communities,
            self.ipv6_next_hop,
        ) != (
            &new.export,
            &new.export_policy,
            &new.communities,
            &new.large_communities,
            new.ipv6_next_hop,
        )
    }
}

/// A prefix announced through the agent's API, with what it carries besides the peer's own
/// communities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Announced {
    /// COMMUNITIES added.
    pub communities: Vec<u32>,
    /// LARGE_COMMUNITY added.
    pub large_communities: Vec<LargeCommunity>,
}
