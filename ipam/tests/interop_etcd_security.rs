//! The etcd datastore against a real, secured etcd (Debian's etcd-server): TLS with client
//! certificate authentication (certificates made by openssl in the test), and user/password
//! authentication (users and roles made through etcd's own API). Every misconfiguration is an
//! error naming the `ipam.etcd` key to fix; a lost token (etcd restarted) is renewed; the
//! host registry follows hosts joining and leaving; held addresses keep working while etcd
//! is down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use etcd_client::{Client, Permission};
use ipam::etcd::{EtcdPassword, EtcdSecurity};
use ipam::{AllocationKey, Allocator, Datastore, IpamSettings};
use testkit::certs::TestCa;
use testkit::daemons::{Etcd, EtcdTls, ETCD_BINARIES, OPENSSL_BINARIES};

const PREFIX: &str = "/lattice-sec";
const GRACE: u64 = 3;

fn settings(dir: &Path, node: &str, endpoint: &str, security: EtcdSecurity) -> IpamSettings {
    let mut s = IpamSettings::new("10.245.0.0/20".parse().unwrap(), dir.join(node));
    s.block_prefix_len = 26;
    s.grace_period_secs = GRACE;
    s.datastore = Datastore::Etcd {
        endpoints: vec![endpoint.to_string()],
        prefix: PREFIX.into(),
        node: node.to_string(),
        security,
    };
    s
}

/// Open an allocator, retrying while etcd starts; the error once the deadline has passed.
async fn open(s: &IpamSettings) -> Result<Allocator, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Allocator::open(s, 0).await {
            Ok(a) => return Ok(a),
            // Not up yet: connection refused. Anything else is the answer.
            Err(e) if Instant::now() < deadline && e.to_string().contains("tcp connect error") => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn can_run() -> bool {
    testkit::require(false, ETCD_BINARIES) && testkit::require(false, OPENSSL_BINARIES)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificates_and_every_misconfiguration_named() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca");
    let rogue = TestCa::new(dir.path(), "rogue");
    let server = ca.issue("etcd", 30);
    let client = ca.issue("lattice", 30);
    let expired = ca.issue("old", -1);
    let stranger = rogue.issue("stranger", 30);
    let etcd = Etcd::start_with(
        dir.path(),
        Some(EtcdTls {
            cert: server.cert.clone(),
            key: server.key.clone(),
            client_ca: Some(ca.cert.clone()),
        }),
    );
    let url = etcd.endpoint();
    assert!(url.starts_with("https://"));
    let tls = |ca_file: &Path, cert: Option<&testkit::certs::Issued>| EtcdSecurity {
        ca_file: Some(ca_file.to_path_buf()),
        cert_file: cert.map(|c| c.cert.clone()),
        key_file: cert.map(|c| c.key.clone()),
        ..EtcdSecurity::default()
    };

    // The right CA and a client certificate it signed: blocks are claimed.
    let good = settings(dir.path(), "h1", &url, tls(&ca.cert, Some(&client)));
    let mut agent = open(&good).await.unwrap();
    let key = AllocationKey::new("c1", "eth0");
    let a = agent.allocate(&key, 0).await.unwrap();
    assert!(agent.ipam().blocks()[0].contains(&std::net::IpAddr::V4(a.v4)));
    let claims = agent.etcd().unwrap().claims().await.unwrap();
    assert_eq!(claims.len(), 1);

    // Each mistake, and the key its message names.
    let cases: Vec<(&str, EtcdSecurity, &str)> = vec![
        (
            "another CA",
            tls(&rogue.cert, Some(&client)),
            "ipam.etcd.ca_file",
        ),
        (
            "an expired certificate",
            tls(&ca.cert, Some(&expired)),
            "ipam.etcd.cert_file",
        ),
        (
            "a certificate etcd does not trust",
            tls(&ca.cert, Some(&stranger)),
            "ipam.etcd.cert_file",
        ),
        (
            "no client certificate",
            tls(&ca.cert, None),
            "ipam.etcd.cert_file",
        ),
        (
            "a CA file that is no certificate",
            tls(&client.key, Some(&client)),
            "ipam.etcd.ca_file",
        ),
        (
            "a key file without a key",
            EtcdSecurity {
                key_file: Some(client.cert.clone()),
                ..tls(&ca.cert, Some(&client))
            },
            "ipam.etcd.key_file",
        ),
        (
            "a missing CA file",
            tls(&dir.path().join("nope.pem"), Some(&client)),
            "ipam.etcd.ca_file",
        ),
    ];
    for (i, (what, security, key_named)) in cases.into_iter().enumerate() {
        let s = settings(dir.path(), &format!("bad{i}"), &url, security);
        let started = Instant::now();
        let err = open(&s).await.expect_err(what);
        println!("{what}: {err}");
        assert!(err.contains(key_named), "{what}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{what}: took {:?}",
            started.elapsed()
        );
    }
    let err = open(&settings(
        dir.path(),
        "x",
        &url,
        tls(&ca.cert, Some(&expired)),
    ))
    .await
    .unwrap_err();
    assert!(err.contains("expired on"), "{err}");
    // https:// without a CA bundle, and TLS files with an http:// endpoint.
    let http = url.replacen("https", "http", 1);
    let err = open(&settings(dir.path(), "y", &url, EtcdSecurity::default()))
        .await
        .unwrap_err();
    assert!(err.contains("ipam.etcd.ca_file"), "{err}");
    let err = open(&settings(
        dir.path(),
        "z",
        &http,
        tls(&ca.cert, Some(&client)),
    ))
    .await
    .unwrap_err();
    assert!(err.contains("ipam.etcd.endpoints"), "{err}");

    // etcd goes away: addresses of the held block are still handed out and released.
    drop(etcd);
    for i in 2..10 {
        let k = AllocationKey::new(&format!("c{i}"), "eth0");
        agent.allocate(&k, 0).await.unwrap();
        agent.release(&k, 0).unwrap();
    }
}

/// etcd with authentication on: root, `lattice` (read-write under PREFIX) and `nobody` (no
/// role).
async fn enable_auth(endpoint: &str) {
    let mut c = Client::connect([endpoint], None).await.unwrap();
    c.user_add("root", "rootpw", None).await.unwrap();
    c.user_grant_role("root", "root").await.unwrap();
    c.role_add("lattice").await.unwrap();
    let prefix = format!("{PREFIX}/");
    c.role_grant_permission("lattice", Permission::read_write(prefix).with_prefix())
        .await
        .unwrap();
    c.user_add("lattice", "s3cret", None).await.unwrap();
    c.user_grant_role("lattice", "lattice").await.unwrap();
    c.user_add("nobody", "pw", None).await.unwrap();
    c.auth_enable().await.unwrap();
}

fn user(name: &str, password: &str) -> EtcdSecurity {
    EtcdSecurity {
        username: Some(name.into()),
        password: Some(EtcdPassword::new(password)),
        ..EtcdSecurity::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_authentication_survives_an_etcd_restart_and_names_bad_credentials() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = Etcd::start(dir.path());
    let url = etcd.endpoint();
    // etcd takes a moment to start: the first connection retries.
    let deadline = Instant::now() + Duration::from_secs(20);
    while Client::connect([url.as_str()], None).await.is_err()
        || Client::connect([url.as_str()], None)
            .await
            .unwrap()
            .status()
            .await
            .is_err()
    {
        assert!(Instant::now() < deadline, "etcd did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    enable_auth(&url).await;

    let cases = [
        (user("lattice", "wrong"), "ipam.etcd.password"),
        (EtcdSecurity::default(), "ipam.etcd.username"),
        (user("nobody", "pw"), "ipam.etcd.username"),
    ];
    for (i, (security, key_named)) in cases.into_iter().enumerate() {
        let err = open(&settings(dir.path(), &format!("bad{i}"), &url, security))
            .await
            .unwrap_err();
        println!("{key_named}: {err}");
        assert!(err.contains(key_named), "{err}");
    }
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "s3cret\n").unwrap();
    let from_file = EtcdSecurity {
        username: Some("lattice".into()),
        password_file: Some(password_file),
        ..EtcdSecurity::default()
    };
    let mut agent = open(&settings(dir.path(), "h1", &url, from_file))
        .await
        .unwrap();
    let registry = agent.etcd().unwrap().registry();
    registry.register("{\"name\":\"h1\"}".into()).await.unwrap();

    // etcd restarts: its tokens are gone. The next block claim authenticates again.
    etcd.stop();
    etcd.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 0;
    while agent.ipam().blocks().len() < 2 {
        i += 1;
        match agent
            .allocate(&AllocationKey::new(&format!("c{i}"), "eth0"), 0)
            .await
        {
            Ok(_) => {}
            Err(e) => {
                assert!(Instant::now() < deadline, "after the restart: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let claims = agent.etcd().unwrap().claims().await.unwrap();
    assert_eq!(claims.len(), 2, "{claims:?}");
    // The registration is still there, and the watch (authenticated again) sees it.
    let mut hosts = registry.watch();
    let seen = tokio::time::timeout(
        Duration::from_secs(10),
        hosts.wait_for(|h| h.as_ref().is_some_and(|h| h.contains_key("h1"))),
    )
    .await
    .is_ok();
    assert!(seen, "{:?}", *hosts.borrow());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_follows_hosts_joining_and_leaving() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start(dir.path());
    let url = etcd.endpoint();
    let h1 = open(&settings(dir.path(), "h1", &url, EtcdSecurity::default()))
        .await
        .unwrap();
    let registry = h1.etcd().unwrap().registry();
    registry.register("one".into()).await.unwrap();
    let mut hosts = registry.watch();
    let wait = |hosts: &mut tokio::sync::watch::Receiver<_>, want: Vec<(&str, &str)>| {
        let want: ipam::etcd::Hosts = want
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut hosts = hosts.clone();
        async move {
            let r = tokio::time::timeout(
                Duration::from_secs(3 * GRACE + 10),
                hosts.wait_for(|h: &Option<ipam::etcd::Hosts>| h.as_ref() == Some(&want)),
            )
            .await
            .is_ok();
            assert!(r, "wanted {want:?}, have {:?}", *hosts.borrow());
        }
    };
    wait(&mut hosts, vec![("h1", "one")]).await;
    // A second host joins, changes its record, then stops keeping its lease: it leaves
    // after the lease's TTL.
    let h2 = open(&settings(dir.path(), "h2", &url, EtcdSecurity::default()))
        .await
        .unwrap();
    let r2 = h2.etcd().unwrap().registry();
    r2.register("two".into()).await.unwrap();
    wait(&mut hosts, vec![("h1", "one"), ("h2", "two")]).await;
    r2.register("two, changed".into()).await.unwrap();
    wait(&mut hosts, vec![("h1", "one"), ("h2", "two, changed")]).await;
    drop(r2);
    drop(h2);
    wait(&mut hosts, vec![("h1", "one")]).await;
    // Our own key deleted by hand comes back.
    let mut c = Client::connect([url.as_str()], None).await.unwrap();
    c.delete(format!("{PREFIX}/hosts/h1"), None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    wait(&mut hosts, vec![("h1", "one")]).await;
    let back = c.get(format!("{PREFIX}/hosts/h1"), None).await.unwrap();
    assert_eq!(back.kvs().len(), 1);
}
