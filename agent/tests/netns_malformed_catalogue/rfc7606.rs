//! The UPDATE errors RFC 7606 lets the session survive, on one session from the attacker:
//! treat-as-withdraw (the prefix goes, the session stays) and attribute discard (the UPDATE is
//! used without the bad attribute).

use std::time::Duration;

use bgp::wire::Message;
use testkit::bgp::{
    as_path, attr, concat, keepalive, next_hop, origin_igp, prefix, update, OPTIONAL_TRANSITIVE,
    WELL_KNOWN,
};
use tokio::time::Instant;

use crate::client::{Conn, Event};
use crate::good_peer::{route_installed, routes_text};
use crate::{
    attacker_announce, ATTACKER, ATTACKER_AS, ROUTE_WITHIN, SECOND_PREFIX, SURVIVE_FOR,
    VICTIM_PREFIX,
};

/// What happened while a session that must survive was watched.
struct Watched {
    /// A NOTIFICATION, an EOF or garbage, if one came.
    trouble: Option<String>,
    /// Whether the route reached the wanted state.
    route_ok: bool,
}

/// Watch `conn` (sending KEEPALIVEs) for at least `settle` and until `p` is installed (or gone,
/// per `want_installed`), at most `ROUTE_WITHIN`. Stops early on a NOTIFICATION or a close.
async fn watch(
    conn: &mut Conn,
    lat: &str,
    p: &str,
    want_installed: bool,
    settle: Duration,
) -> Watched {
    let start = Instant::now();
    let limit = settle.max(ROUTE_WITHIN);
    let mut route_ok = false;
    loop {
        if let Err(e) = conn.send(&keepalive()).await {
            return Watched {
                trouble: Some(e),
                route_ok,
            };
        }
        while let Some(ev) = conn.next(Duration::from_millis(250)).await {
            let trouble = match ev {
                Event::Message(Message::Notification(n)) => {
                    format!("NOTIFICATION {}/{} data {:02x?}", n.code, n.subcode, n.data)
                }
                Event::Message(_) => continue,
                Event::Garbage(g) => format!("garbage: {g}"),
                Event::Closed(why) => format!("connection closed ({why})"),
            };
            return Watched {
                trouble: Some(trouble),
                route_ok,
            };
        }
        route_ok = route_installed(lat, p).await == want_installed;
        let waited = start.elapsed();
        if (route_ok && waited >= settle) || waited >= limit {
            return Watched {
                trouble: None,
                route_ok,
            };
        }
    }
}

/// The RFC 7606 cases on one session from the attacker: no NOTIFICATION, and the prefix
/// withdrawn (treat-as-withdraw) or kept (attribute discard).
pub async fn run(lat: &str) -> Vec<String> {
    let victim = || prefix(VICTIM_PREFIX);
    let origin_as = || concat(&[&origin_igp(), &as_path(&[ATTACKER_AS])]);
    let treat_as_withdraw: Vec<(&str, Vec<u8>)> = vec![
        (
            "ORIGIN value 3 (RFC 7606 §7.1)",
            concat(&[
                &attr(WELL_KNOWN, 1, &[3]),
                &as_path(&[ATTACKER_AS]),
                &next_hop(ATTACKER),
            ]),
        ),
        (
            "ORIGIN of length 2 (RFC 7606 §7.1)",
            concat(&[
                &attr(WELL_KNOWN, 1, &[0, 0]),
                &as_path(&[ATTACKER_AS]),
                &next_hop(ATTACKER),
            ]),
        ),
        (
            "AS_PATH segment of type 5 (RFC 7606 §7.2)",
            concat(&[
                &origin_igp(),
                &attr(WELL_KNOWN, 2, &[5, 1, 0, 0, 0xfd, 0xea]),
                &next_hop(ATTACKER),
            ]),
        ),
        ("NEXT_HOP missing with NLRI (RFC 7606 §3 d)", origin_as()),
        (
            "COMMUNITIES of 3 octets (RFC 7606 §7.8)",
            concat(&[
                &origin_as(),
                &next_hop(ATTACKER),
                &attr(OPTIONAL_TRANSITIVE, 8, &[0, 1, 2]),
            ]),
        ),
        // NEXT_HOP says 10 octets; 4 remain in the attribute list, whose Total Attribute Length
        // still locates the NLRI (RFC 7606 §4).
        (
            "attribute length running past the attribute list (RFC 7606 §4)",
            concat(&[&origin_as(), &[WELL_KNOWN, 3, 10, 10, 98, 0, 2]]),
        ),
    ];
    let mut failures = Vec::new();
    let mut conn = match Conn::establish(ATTACKER, ATTACKER_AS).await {
        Ok(c) => c,
        Err(e) => return vec![format!("RFC 7606 cases: {e}")],
    };

    // Announce the victim prefix validly and see it installed, on a live session.
    async fn announce(conn: &mut Conn, lat: &str) -> Result<(), String> {
        conn.send(&attacker_announce(&[VICTIM_PREFIX])).await?;
        let w = watch(conn, lat, VICTIM_PREFIX, true, Duration::ZERO).await;
        match (w.trouble, w.route_ok) {
            (Some(t), _) => Err(format!("valid announcement answered with {t}")),
            (None, false) => Err(format!(
                "valid announcement not installed within {ROUTE_WITHIN:?}"
            )),
            (None, true) => Ok(()),
        }
    }

    if let Err(e) = announce(&mut conn, lat).await {
        return vec![format!("RFC 7606 setup: {e}: {}", routes_text(lat).await)];
    }
    let expected = "no NOTIFICATION, session up, 10.244.77.0/24 withdrawn";
    for (name, attrs) in treat_as_withdraw {
        conn.send(&update(&[], &attrs, &victim())).await.unwrap();
        let w = watch(&mut conn, lat, VICTIM_PREFIX, false, SURVIVE_FOR).await;
        let got = match (&w.trouble, w.route_ok) {
            (None, true) => {
                println!("ok   {name}: session up, route withdrawn");
                None
            }
            (Some(t), _) => Some(t.clone()),
            (None, false) => Some(format!(
                "session up but the route still installed after {ROUTE_WITHIN:?}"
            )),
        };
        if let Some(got) = got {
            println!("FAIL {name}: expected {expected}, got {got}");
            failures.push(format!("{name}: expected {expected}, got {got}"));
        }
        if w.trouble.is_some() {
            // The session is gone: carry on with the rest of the cases on a new one.
            conn = match Conn::establish(ATTACKER, ATTACKER_AS).await {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("RFC 7606 cases after {name}: {e}"));
                    return failures;
                }
            };
        }
        if let Err(e) = announce(&mut conn, lat).await {
            failures.push(format!("re-announcement after {name}: {e}"));
            return failures;
        }
    }

    // RFC 7606 §3 g: a repeated ORIGIN is discarded, the UPDATE used. It also announces a second
    // prefix, whose arrival in the kernel shows the UPDATE was processed.
    let name = "ORIGIN present twice (RFC 7606 §3 g)";
    let expected = "no NOTIFICATION, session up, 10.244.77.0/24 and 10.244.78.0/24 installed";
    let attrs = concat(&[
        &origin_igp(),
        &attr(WELL_KNOWN, 1, &[2]),
        &as_path(&[ATTACKER_AS]),
        &next_hop(ATTACKER),
    ]);
    let nlri = concat(&[&victim(), &prefix(SECOND_PREFIX)]);
    conn.send(&update(&[], &attrs, &nlri)).await.unwrap();
    let w = watch(&mut conn, lat, SECOND_PREFIX, true, SURVIVE_FOR).await;
    let victim_kept = route_installed(lat, VICTIM_PREFIX).await;
    let got = match (w.trouble, w.route_ok, victim_kept) {
        (Some(t), _, _) => Some(t),
        (None, false, _) => Some(format!(
            "{SECOND_PREFIX} not installed within {ROUTE_WITHIN:?}"
        )),
        (None, true, false) => Some(format!("{VICTIM_PREFIX} withdrawn")),
        (None, true, true) => None,
    };
    match got {
        None => println!("ok   {name}: session up, routes installed"),
        Some(got) => {
            println!("FAIL {name}: expected {expected}, got {got}");
            failures.push(format!("{name}: expected {expected}, got {got}"));
        }
    }
    failures
}
