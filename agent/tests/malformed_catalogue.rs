#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only: the real `latticed`, attacked as a configured BGP peer with a catalogue of
//! malformed messages, each answer checked against RFC 4271, 6608, 7313 and 7606, while a second,
//! well-behaved peer's session must never drop.
//!
//! Two namespaces this test creates (`mcat-lat-<pid>`, `mcat-peers-<pid>`) are joined by a veth:
//! latticed runs in the first on 10.98.0.1, the raw BGP clients run in the second from 10.98.0.2
//! (the attacker) and 10.98.0.3 (the good peer). Both namespaces and latticed go away on drop,
//! also when the test fails; the root namespace is never touched.

mod common;

use std::fs::File;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use bgp::fsm::build_open;
use bgp::wire::{
    check_frame, decode, encode, CodecContext, Message, NotificationMsg, MAX_EXTENDED_MESSAGE_LEN,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpSocket;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};

const LATTICED: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);
const ATTACKER: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);
const GOOD: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 3);
const ATTACKER_AS: u32 = 65002;
const GOOD_AS: u32 = 65003;
/// The hold time both raw clients propose (latticed's peers are configured with 9 too).
const HOLD: u16 = 9;
/// How long latticed gets to answer a malformed message.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How long a kernel route gets to appear or disappear.
const ROUTE_WITHIN: Duration = Duration::from_secs(10);
/// How long a session that must survive is watched for a NOTIFICATION.
const SURVIVE_FOR: Duration = Duration::from_secs(2);

/// The good peer's prefix, which must stay installed all along.
const GOOD_PREFIX: &str = "10.244.50.0/24";
/// The attacker's prefix for the RFC 7606 cases.
const VICTIM_PREFIX: &str = "10.244.77.0/24";
/// A second prefix of the attacker's, announced only by the duplicated-ORIGIN UPDATE.
const SECOND_PREFIX: &str = "10.244.78.0/24";

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespaces, latticed and its files; torn down on drop, also during a panic's unwinding.
struct Lab {
    lat: String,
    peers: String,
    created: Vec<String>,
    latticed: Option<Child>,
    dir: tempfile::TempDir,
}

impl Lab {
    fn start() -> Lab {
        let pid = std::process::id();
        let mut lab = Lab {
            lat: format!("mcat-lat-{pid}"),
            peers: format!("mcat-peers-{pid}"),
            created: Vec::new(),
            latticed: None,
            dir: tempfile::tempdir().unwrap(),
        };
        for ns in [lab.lat.clone(), lab.peers.clone()] {
            ip(&["netns", "add", &ns]);
            lab.created.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        let (lat, peers) = (lab.lat.as_str(), lab.peers.as_str());
        // Created inside "lat" and moved straight to "peers": nothing passes through the root.
        ip(&[
            "-n", lat, "link", "add", "mcl0", "type", "veth", "peer", "name", "mcp0", "netns",
            peers,
        ]);
        ip(&["-n", lat, "addr", "add", "10.98.0.1/24", "dev", "mcl0"]);
        ip(&["-n", peers, "addr", "add", "10.98.0.2/24", "dev", "mcp0"]);
        ip(&["-n", peers, "addr", "add", "10.98.0.3/24", "dev", "mcp0"]);
        ip(&["-n", lat, "link", "set", "mcl0", "up"]);
        ip(&["-n", peers, "link", "set", "mcp0", "up"]);

        let config = lab.dir.path().join("latticed.yaml");
        std::fs::write(&config, lab.config_text()).unwrap();
        let check = Command::new(env!("CARGO_BIN_EXE_latticed"))
            .arg("--config")
            .arg(&config)
            .arg("--check")
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "latticed refused the test's configuration: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let log = File::create(lab.log_path()).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", lat])
            .arg(env!("CARGO_BIN_EXE_latticed"))
            .arg("--config")
            .arg(&config)
            .args(["--log-level", "debug"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        lab.latticed = Some(child);
        lab.wait_for_api();
        lab
    }

    fn config_text(&self) -> String {
        let dir = self.dir.path();
        format!(
            "\
node:      {{ name: mcat, asn: 65101, router_id: 10.98.0.1 }}
cluster:   {{ cidr: 10.244.0.0/16, block_prefix_len: 24 }}
ipam:      {{ datastore: local, state_dir: '{state}', block: 10.244.1.0/24 }}
bgp:
  listen:  {{ address: 10.98.0.1, port: 179 }}
  peers:
    - {{ address: 10.98.0.2, asn: 65002, passive: true, hold_time: 9 }}
    - {{ address: 10.98.0.3, asn: 65003, passive: true, hold_time: 9 }}
api:       {{ socket: '{socket}' }}
docker:    {{ socket: '{socket}.docker' }}
",
            state = dir.join("state").display(),
            socket = self.socket().display(),
        )
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("api.socket")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("latticed.log")
    }

    /// Until latticed answers on its API socket (exit status 0 or 1, not 2 "unreachable").
    fn wait_for_api(&mut self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.latticed.as_mut().unwrap().try_wait().unwrap() {
                panic!("latticed exited at start with {status}");
            }
            let code = Command::new(common::workspace_bin("lattice"))
                .arg("--socket")
                .arg(self.socket())
                .args(["status", "--json"])
                .output()
                .unwrap()
                .status
                .code();
            if matches!(code, Some(0 | 1)) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "latticed's API never answered"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut child) = self.latticed.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(300)..].join("\n");
            eprintln!("---- latticed's log (last 300 lines) ----\n{tail}\n----");
        }
        for ns in self.created.drain(..) {
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        }
    }
}

/// Run `f` on a thread inside namespace `ns` with its own runtime: sockets belong to the
/// namespace of the thread that creates them, and the runtime's workers are spawned after
/// `setns`, so they inherit it.
fn in_netns<F, Fut, T>(ns: &str, f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let path = format!("/run/netns/{ns}");
    let joined = std::thread::spawn(move || {
        let file = File::open(path).unwrap();
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(f())
    })
    .join();
    match joined {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

// ---- Messages, built by hand ----

/// A whole message: marker, length, type, body.
fn message(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&u16::try_from(19 + body.len()).unwrap().to_be_bytes());
    m.push(msg_type);
    m.extend_from_slice(body);
    m
}

/// A 19-octet header whose length field says `len`, whatever follows.
fn header(len: u16, msg_type: u8) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&len.to_be_bytes());
    m.push(msg_type);
    m
}

fn keepalive() -> Vec<u8> {
    encode(&Message::Keepalive, CodecContext::default())
}

fn open(asn: u32, router_id: Ipv4Addr, hold: u16) -> Vec<u8> {
    encode(
        &Message::Open(build_open(asn, router_id, hold)),
        CodecContext::default(),
    )
}

fn update(withdrawn: &[u8], attributes: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u16::try_from(withdrawn.len()).unwrap().to_be_bytes());
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&u16::try_from(attributes.len()).unwrap().to_be_bytes());
    body.extend_from_slice(attributes);
    body.extend_from_slice(nlri);
    message(2, &body)
}

/// One path attribute with a one-octet length.
fn attr(flags: u8, type_code: u8, value: &[u8]) -> Vec<u8> {
    let mut a = vec![flags, type_code, u8::try_from(value.len()).unwrap()];
    a.extend_from_slice(value);
    a
}

const WELL_KNOWN: u8 = 0x40;
const OPTIONAL: u8 = 0x80;
const OPTIONAL_TRANSITIVE: u8 = 0xc0;

fn origin_igp() -> Vec<u8> {
    attr(WELL_KNOWN, 1, &[0])
}

/// AS_PATH of one AS_SEQUENCE, 4-octet ASNs (both sides announce RFC 6793).
fn as_path(asns: &[u32]) -> Vec<u8> {
    let mut v = vec![2, u8::try_from(asns.len()).unwrap()];
    for a in asns {
        v.extend_from_slice(&a.to_be_bytes());
    }
    attr(WELL_KNOWN, 2, &v)
}

fn next_hop(a: Ipv4Addr) -> Vec<u8> {
    attr(WELL_KNOWN, 3, &a.octets())
}

/// One NLRI entry: length, then just enough octets of the address.
fn prefix(p: &str) -> Vec<u8> {
    let net: ipnet::Ipv4Net = p.parse().unwrap();
    let len = net.prefix_len();
    let octets = usize::from(len).div_ceil(8);
    let mut v = vec![len];
    v.extend_from_slice(&net.network().octets()[..octets]);
    v
}

/// MP_REACH_NLRI for IPv4 unicast (RFC 4760 §3).
fn mp_reach_v4(nh: Ipv4Addr, p: &str) -> Vec<u8> {
    let mut v = vec![0, 1, 1, 4];
    v.extend_from_slice(&nh.octets());
    v.push(0);
    v.extend_from_slice(&prefix(p));
    attr(OPTIONAL, 14, &v)
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A valid announcement of `prefixes` from the attacker (ORIGIN IGP, AS_PATH [65002], NEXT_HOP
/// 10.98.0.2).
fn attacker_announce(prefixes: &[&str]) -> Vec<u8> {
    let nlri: Vec<u8> = prefixes.iter().flat_map(|p| prefix(p)).collect();
    update(
        &[],
        &concat(&[&origin_igp(), &as_path(&[ATTACKER_AS]), &next_hop(ATTACKER)]),
        &nlri,
    )
}

// ---- A raw BGP client ----

/// What the client's reader saw.
#[derive(Debug)]
enum Event {
    Message(Message),
    /// A frame that does not parse (latticed sent garbage).
    Garbage(String),
    /// EOF or a socket error.
    Closed(String),
}

/// Aborts the task when dropped.
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Conn {
    writer: Arc<Mutex<OwnedWriteHalf>>,
    events: mpsc::UnboundedReceiver<Event>,
    reader: Task,
}

impl Conn {
    /// Connect from `from` (an address of the peers' namespace) to latticed's port 179,
    /// retrying while latticed is not listening yet.
    async fn connect(from: Ipv4Addr) -> Result<Conn, String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
            socket
                .bind(SocketAddr::new(from.into(), 0))
                .map_err(|e| format!("bind {from}: {e}"))?;
            match timeout(
                Duration::from_secs(5),
                socket.connect(SocketAddr::new(LATTICED.into(), 179)),
            )
            .await
            {
                Ok(Ok(s)) => break s,
                Ok(Err(e)) if Instant::now() < deadline => {
                    eprintln!("connect from {from}: {e}; retrying");
                    sleep(Duration::from_millis(200)).await;
                }
                Ok(Err(e)) => return Err(format!("connect from {from}: {e}")),
                Err(_) => return Err(format!("connect from {from}: timed out")),
            }
        };
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (mut read, write) = stream.into_split();
        let (tx, events) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                loop {
                    match check_frame(&buf, MAX_EXTENDED_MESSAGE_LEN) {
                        Ok(Some(len)) => {
                            let rest = buf.split_off(len);
                            let frame = std::mem::replace(&mut buf, rest);
                            let ctx = CodecContext {
                                four_octet_as: true,
                            };
                            let ev = match decode(&frame, ctx) {
                                Ok(m) => Event::Message(m),
                                Err(e) => Event::Garbage(format!("{e:?} in {frame:02x?}")),
                            };
                            let _ = tx.send(ev);
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Event::Garbage(format!("{e:?}")));
                            return;
                        }
                    }
                }
                match read.read(&mut chunk).await {
                    Ok(0) => {
                        let _ = tx.send(Event::Closed("EOF".into()));
                        return;
                    }
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) => {
                        let _ = tx.send(Event::Closed(e.to_string()));
                        return;
                    }
                }
            }
        });
        Ok(Conn {
            writer: Arc::new(Mutex::new(write)),
            events,
            reader: Task(reader),
        })
    }

    /// A session up to Established from latticed's point of view: our OPEN and KEEPALIVE sent,
    /// its OPEN and KEEPALIVE read. A Cease/7 refusal (latticed still holds a previous session of
    /// ours that it has not seen close yet) is retried.
    async fn establish(from: Ipv4Addr, asn: u32) -> Result<Conn, String> {
        let mut last = String::new();
        for _ in 0..10 {
            let mut conn = Conn::connect(from).await?;
            conn.send(&concat(&[&open(asn, from, HOLD), &keepalive()]))
                .await?;
            let (mut got_open, mut got_keepalive) = (false, false);
            let deadline = Instant::now() + ANSWER_WITHIN;
            while !(got_open && got_keepalive) {
                let left = deadline.saturating_duration_since(Instant::now());
                match conn.next(left).await {
                    Some(Event::Message(Message::Open(_))) => got_open = true,
                    Some(Event::Message(Message::Keepalive)) if got_open => got_keepalive = true,
                    Some(Event::Message(Message::Notification(n)))
                        if n.code == 6 && n.subcode == 7 =>
                    {
                        last = "refused with Cease/7 (collision)".into();
                        break;
                    }
                    Some(Event::Message(m)) => {
                        return Err(format!("session setup: unexpected {m:?}"));
                    }
                    Some(other) => return Err(format!("session setup: {other:?}")),
                    None => return Err("session setup: no OPEN/KEEPALIVE from latticed".into()),
                }
            }
            if got_open && got_keepalive {
                return Ok(conn);
            }
            sleep(Duration::from_millis(500)).await;
        }
        Err(format!("session setup from {from}: {last}"))
    }

    async fn send(&self, bytes: &[u8]) -> Result<(), String> {
        let mut w = self.writer.lock().await;
        w.write_all(bytes).await.map_err(|e| format!("write: {e}"))
    }

    /// The next event, or `None` when nothing came within `within`.
    async fn next(&mut self, within: Duration) -> Option<Event> {
        match timeout(within, self.events.recv()).await {
            Ok(Some(ev)) => Some(ev),
            Ok(None) => Some(Event::Closed("reader stopped".into())),
            Err(_) => None,
        }
    }

    /// latticed's answer to what we just sent: the first NOTIFICATION (OPEN, KEEPALIVE and
    /// UPDATE are skipped), and whether the connection then closed.
    async fn answer(&mut self) -> Answer {
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                None => return Answer::Silence,
                Some(Event::Message(Message::Notification(n))) => {
                    let closed = self.closes().await;
                    return Answer::Notification(n, closed);
                }
                Some(Event::Message(_)) => {}
                Some(Event::Garbage(g)) => return Answer::Garbage(g),
                Some(Event::Closed(why)) => return Answer::Closed(why),
            }
        }
    }

    /// Whether the connection closes (before anything but KEEPALIVEs arrives).
    async fn closes(&mut self) -> bool {
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Event::Closed(_)) => return true,
                Some(Event::Message(Message::Keepalive)) => {}
                _ => return false,
            }
        }
    }
}

#[derive(Debug)]
enum Answer {
    /// The NOTIFICATION, and whether the connection closed after it.
    Notification(NotificationMsg, bool),
    Closed(String),
    Garbage(String),
    Silence,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Notification(n, closed) => {
                write!(
                    f,
                    "NOTIFICATION {}/{} data {:02x?}",
                    n.code, n.subcode, n.data
                )?;
                if !closed {
                    write!(f, " but the connection stayed open")?;
                }
                Ok(())
            }
            Answer::Closed(why) => write!(f, "connection closed without NOTIFICATION ({why})"),
            Answer::Garbage(g) => write!(f, "an unparsable reply: {g}"),
            Answer::Silence => write!(f, "no answer within {ANSWER_WITHIN:?}"),
        }
    }
}

/// The RFC's answer: NOTIFICATION code/subcode, and its data where the RFC fixes it.
struct Expect {
    code: u8,
    subcode: u8,
    data: Option<Vec<u8>>,
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NOTIFICATION {}/{}", self.code, self.subcode)?;
        if let Some(d) = &self.data {
            write!(f, " data {d:02x?}")?;
        }
        write!(f, ", then close")
    }
}

fn expect(code: u8, subcode: u8) -> Expect {
    Expect {
        code,
        subcode,
        data: None,
    }
}

fn expect_data(code: u8, subcode: u8, data: &[u8]) -> Expect {
    Expect {
        code,
        subcode,
        data: Some(data.to_vec()),
    }
}

impl Expect {
    fn matches(&self, answer: &Answer) -> bool {
        match answer {
            Answer::Notification(n, closed) => {
                *closed
                    && n.code == self.code
                    && n.subcode == self.subcode
                    && self.data.as_ref().is_none_or(|d| *d == n.data)
            }
            _ => false,
        }
    }
}

/// Where a case starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    /// The bytes follow a valid OPEN/KEEPALIVE exchange.
    Established,
    /// The bytes are the first thing sent on the connection.
    FirstMessage,
}

struct Case {
    name: &'static str,
    start: Start,
    bytes: Vec<u8>,
    expect: Expect,
}

fn catalogue() -> Vec<Case> {
    use Start::{Established, FirstMessage};
    let mut cases = Vec::new();
    let mut case = |name, start, bytes, expect| {
        cases.push(Case {
            name,
            start,
            bytes,
            expect,
        })
    };

    // RFC 4271 §6.1: message header errors; the data is the length field or the type.
    let mut bad_marker = keepalive();
    bad_marker[0] = 0x00;
    case("marker not all ones", Established, bad_marker, expect(1, 1));
    case(
        "length field 18",
        Established,
        header(18, 4),
        expect_data(1, 2, &[0x00, 0x12]),
    );
    // A whole 4097-octet UPDATE (its withdrawn routes padded with /0 entries): more than 4096
    // without the Extended Message capability (RFC 8654), which our OPEN does not announce.
    let mut long = header(4097, 2);
    long.extend_from_slice(&4074u16.to_be_bytes());
    long.extend(std::iter::repeat_n(0u8, 4074));
    long.extend_from_slice(&[0, 0]);
    assert_eq!(long.len(), 4097);
    case(
        "length 4097 on an UPDATE",
        Established,
        long,
        expect_data(1, 2, &[0x10, 0x01]),
    );
    case(
        "message type 9",
        Established,
        header(19, 9),
        expect_data(1, 3, &[9]),
    );
    let mut long_keepalive = header(20, 4);
    long_keepalive.push(0);
    case(
        "KEEPALIVE of length 20",
        Established,
        long_keepalive,
        expect_data(1, 2, &[0x00, 0x14]),
    );

    // RFC 4271 §6.2: OPEN errors, the OPEN being the first message.
    let mut v3 = open(ATTACKER_AS, ATTACKER, HOLD);
    v3[19] = 3;
    case("OPEN version 3", FirstMessage, v3, expect(2, 1));
    case(
        "OPEN from the wrong AS (65099)",
        FirstMessage,
        open(65099, ATTACKER, HOLD),
        expect(2, 2),
    );
    case(
        "OPEN with hold time 1",
        FirstMessage,
        open(ATTACKER_AS, ATTACKER, 1),
        expect(2, 6),
    );
    case(
        "OPEN with BGP identifier 0.0.0.0",
        FirstMessage,
        open(ATTACKER_AS, Ipv4Addr::UNSPECIFIED, HOLD),
        expect(2, 3),
    );

    // RFC 4271 §6.3 and RFC 7606 §4/§5: UPDATE errors that still reset the session.
    let valid_attrs = concat(&[&origin_igp(), &as_path(&[ATTACKER_AS]), &next_hop(ATTACKER)]);
    let mut body = vec![0x00, 0x40]; // 64 octets of withdrawn routes announced...
    body.extend_from_slice(&[0x00, 0x00]); // ...but only the attribute length follows.
    case(
        "UPDATE withdrawn length running past the message",
        Established,
        message(2, &body),
        expect(3, 1),
    );
    let unknown = attr(WELL_KNOWN, 99, &[0xde, 0xad]);
    case(
        "UPDATE unrecognised well-known attribute (flags 0x40, type 99)",
        Established,
        update(
            &[],
            &concat(&[&valid_attrs, &unknown]),
            &prefix("10.244.88.0/24"),
        ),
        // §6.3: the data is the unrecognised attribute (type, length, value).
        expect_data(3, 2, &unknown),
    );
    let empty_mp = attr(OPTIONAL, 14, &[]);
    case(
        "UPDATE zero-length MP_REACH_NLRI",
        Established,
        update(
            &[],
            &concat(&[&origin_igp(), &as_path(&[ATTACKER_AS]), &empty_mp]),
            &[],
        ),
        // RFC 4760 §7 / RFC 4271 §6.3: Optional Attribute Error, data the attribute.
        expect_data(3, 9, &empty_mp),
    );
    let mp = mp_reach_v4(ATTACKER, "10.244.88.0/24");
    case(
        "UPDATE with MP_REACH_NLRI twice",
        Established,
        update(
            &[],
            &concat(&[&origin_igp(), &as_path(&[ATTACKER_AS]), &mp, &mp]),
            &[],
        ),
        // RFC 7606 §3 g.
        expect(3, 1),
    );
    case(
        "UPDATE NLRI prefix length 33",
        Established,
        update(&[], &valid_attrs, &[33, 10, 244, 88, 0, 0]),
        // RFC 7606 §5.3: an NLRI that does not parse resets the session.
        expect(3, 10),
    );

    // RFC 4271 §8.2.2 with RFC 6608: an OPEN in Established is an FSM error, subcode 3.
    case(
        "second OPEN in Established",
        Established,
        open(ATTACKER_AS, ATTACKER, HOLD),
        expect(5, 3),
    );
    // RFC 7313 §5: a Beginning-of-Route-Refresh whose body is not 4 octets is ROUTE-REFRESH
    // Message Error / Invalid Message Length, the data the whole message.
    let rr = message(5, &[0x00, 0x01, 0x01, 0x01, 0x00]);
    assert_eq!(rr.len(), 24);
    let rr_data = rr.clone();
    case(
        "ROUTE-REFRESH (BoRR) of length 24",
        Established,
        rr,
        expect_data(7, 1, &rr_data),
    );
    cases
}

// ---- Kernel and API checks ----

async fn route_installed(lat: &str, p: &str) -> bool {
    let out = tokio::process::Command::new("ip")
        .args(["-n", lat, "route", "show", p])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .any(|l| l.starts_with(p) && l.contains("proto bgp"))
}

async fn routes_text(lat: &str) -> String {
    let out = tokio::process::Command::new("ip")
        .args(["-n", lat, "route", "show"])
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// latticed's view of `peer` from `lattice status --json`.
async fn peer_state(socket: &Path, peer: Ipv4Addr) -> Result<String, String> {
    let out = tokio::process::Command::new(common::workspace_bin("lattice"))
        .arg("--socket")
        .arg(socket)
        .args(["status", "--json"])
        .output()
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "lattice status --json: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let peers = json["peers"].as_array().cloned().unwrap_or_default();
    peers
        .iter()
        .find(|p| p["address"] == peer.to_string())
        .map(|p| p["state"].as_str().unwrap_or("?").to_string())
        .ok_or_else(|| format!("{peer} not in {json}"))
}

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

// ---- The good peer ----

struct GoodPeer {
    problems: Arc<StdMutex<Vec<String>>>,
    _keepalive: Task,
    _monitor: Task,
}

impl GoodPeer {
    /// Established from 10.98.0.3, announcing 10.244.50.0/24, a KEEPALIVE every second, every
    /// NOTIFICATION, close or write failure recorded.
    async fn start(lat: &str) -> GoodPeer {
        let conn = Conn::establish(GOOD, GOOD_AS)
            .await
            .expect("the good peer's session");
        let announce = update(
            &[],
            &concat(&[&origin_igp(), &as_path(&[GOOD_AS]), &next_hop(GOOD)]),
            &prefix(GOOD_PREFIX),
        );
        conn.send(&announce).await.unwrap();
        let problems = Arc::new(StdMutex::new(Vec::new()));
        let Conn {
            writer,
            mut events,
            reader,
        } = conn;
        let sink = problems.clone();
        let keepalive = tokio::spawn(async move {
            loop {
                sleep(Duration::from_secs(1)).await;
                if let Err(e) = writer.lock().await.write_all(&keepalive()).await {
                    sink.lock()
                        .unwrap()
                        .push(format!("KEEPALIVE write failed: {e}"));
                    return;
                }
            }
        });
        let sink = problems.clone();
        let monitor = tokio::spawn(async move {
            let _reader = reader;
            while let Some(ev) = events.recv().await {
                match ev {
                    Event::Message(Message::Notification(n)) => sink
                        .lock()
                        .unwrap()
                        .push(format!("received NOTIFICATION {}/{}", n.code, n.subcode)),
                    Event::Message(_) => {}
                    Event::Garbage(g) => sink.lock().unwrap().push(format!("garbage: {g}")),
                    Event::Closed(why) => {
                        sink.lock()
                            .unwrap()
                            .push(format!("connection closed: {why}"));
                        return;
                    }
                }
            }
        });
        let peer = GoodPeer {
            problems,
            _keepalive: Task(keepalive),
            _monitor: Task(monitor),
        };
        let deadline = Instant::now() + ROUTE_WITHIN;
        while !route_installed(lat, GOOD_PREFIX).await {
            assert!(
                Instant::now() < deadline,
                "the good peer's {GOOD_PREFIX} was never installed: {}",
                routes_text(lat).await
            );
            sleep(Duration::from_millis(200)).await;
        }
        peer
    }

    /// Everything wrong with the good peer's session now.
    async fn check(&self, lat: &str, socket: &Path) -> Vec<String> {
        let mut failures: Vec<String> = self
            .problems
            .lock()
            .unwrap()
            .iter()
            .map(|p| format!("good peer 10.98.0.3: {p}"))
            .collect();
        if !route_installed(lat, GOOD_PREFIX).await {
            failures.push(format!(
                "good peer 10.98.0.3: {GOOD_PREFIX} no longer installed: {}",
                routes_text(lat).await
            ));
        }
        match peer_state(socket, GOOD).await {
            Ok(s) if s == "Established" => {}
            Ok(s) => failures.push(format!("good peer 10.98.0.3: lattice status says {s}")),
            Err(e) => failures.push(format!("good peer 10.98.0.3: {e}")),
        }
        failures
    }
}

// ---- The runs ----

/// Every catalogue case on a fresh connection from the attacker; one line per mismatch.
async fn run_catalogue() -> Vec<String> {
    let mut mismatches = Vec::new();
    for case in catalogue() {
        let conn = match case.start {
            Start::Established => Conn::establish(ATTACKER, ATTACKER_AS).await,
            Start::FirstMessage => Conn::connect(ATTACKER).await,
        };
        let got = match conn {
            Err(e) => e,
            Ok(mut conn) => match conn.send(&case.bytes).await {
                Err(e) => e,
                Ok(()) => {
                    let answer = conn.answer().await;
                    if case.expect.matches(&answer) {
                        println!("ok   {}: {answer}", case.name);
                        continue;
                    }
                    answer.to_string()
                }
            },
        };
        println!("FAIL {}: expected {}, got {got}", case.name, case.expect);
        mismatches.push(format!(
            "{}: expected {}, got {got}",
            case.name, case.expect
        ));
    }
    mismatches
}

/// The RFC 7606 cases on one session from the attacker: no NOTIFICATION, and the prefix
/// withdrawn (treat-as-withdraw) or kept (attribute discard).
async fn run_rfc7606(lat: &str) -> Vec<String> {
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

#[test]
fn latticed_answers_malformed_messages_per_rfc_4271_and_7606() {
    if !is_root() {
        eprintln!("skipped: needs root (network namespaces)");
        return;
    }
    let lab = Lab::start();
    let (lat, socket) = (lab.lat.clone(), lab.socket());
    let failures = in_netns(&lab.peers, move || async move {
        let good = GoodPeer::start(&lat).await;
        let mut failures = run_catalogue().await;
        failures.extend(run_rfc7606(&lat).await);
        failures.extend(good.check(&lat, &socket).await);
        failures
    });
    assert!(
        failures.is_empty(),
        "{} mismatch(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
