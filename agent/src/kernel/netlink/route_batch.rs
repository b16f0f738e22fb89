//! Route changes in bulk: many `RTM_NEWROUTE`/`RTM_DELROUTE` messages in one `sendmsg`, acks
//! only where they carry news.
//!
//! The kernel processes every message of a datagram in order, within the `sendmsg` call, and
//! answers a message without `NLM_F_ACK` only if it failed. So each chunk (up to [`CHUNK`]
//! bytes, a few hundred routes) costs one `sendmsg` and, when all goes well, one `recv` for the
//! ack of its last message, where one request at a time costs a `sendmsg` and a `recv` per route
//! (what `ip -batch` does, and the rtnetlink handle too, however many are in flight). Errors come
//! back tagged with the failed message's sequence number, so each is matched to its change.
//!
//! The socket is blocking and used from a blocking-pool thread: a chunk's `sendmsg` returns only
//! once the kernel has applied it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use netlink_packet_route::RouteNetlinkMessage;
use nix::errno::Errno;
use rtnetlink::packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use rtnetlink::sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::route;
use crate::kernel::{KernelError, KernelResult, RouteOp};

/// Bytes of requests per `sendmsg` (about 60 route messages). The kernel handles a whole
/// `sendmsg` without giving its CPU away, and deleting a route from a large IPv4 FIB costs it
/// tens of microseconds (`fib_table_delete` -> `update_suffix` walks the trie node's
/// children): with 32 KiB per call, a 1M-route withdrawal held a CPU for long enough at a
/// time that FRR's bfdd on the same machine missed our BFD packets (100 ms x 3); with 4 KiB
/// it does not (`agent/tests/interop_bfd_load.rs`).
const CHUNK: usize = 4 << 10;

/// How long a chunk's replies may take; the kernel answers within the `sendmsg`, so only a
/// lost reply gets anywhere near this.
const REPLY_TIMEOUT_SECS: i64 = 30;

/// Receive buffer for error replies: a whole chunk of failures must fit (acks are capped).
const RCVBUF: usize = 4 << 20;

/// A netlink socket for bulk route changes, shared by a kernel's clones.
#[derive(Debug)]
pub(super) struct RouteBatcher {
    socket: Mutex<Socket>,
    seq: AtomicU32,
}

impl RouteBatcher {
    /// A socket in the calling thread's namespace (call it from inside the namespace).
    pub(super) fn open() -> std::io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Errors echo only the failed message's header, not the whole request.
        socket.set_cap_ack(true)?;
        {
            use nix::sys::socket::{setsockopt, sockopt};
            if setsockopt(&socket, sockopt::RcvBufForce, &RCVBUF).is_err() {
                socket.set_rx_buf_sz(RCVBUF)?;
            }
            // A reply that never comes must not hold the socket (and every route change
            // behind it) forever: the batch fails and the caller falls back.
            let limit = nix::sys::time::TimeVal::new(REPLY_TIMEOUT_SECS, 0);
            setsockopt(&socket, sockopt::ReceiveTimeout, &limit)?;
        }
        Ok(RouteBatcher {
            socket: Mutex::new(socket),
            seq: AtomicU32::new(1),
        })
    }
}

/// Applies `ops` in order; returns the failed ones by index. `Err` means the socket itself
/// failed and nothing is known about the changes not yet acknowledged.
pub(super) async fn apply(
    batcher: &Arc<RouteBatcher>,
    ops: &[RouteOp],
) -> KernelResult<Vec<(usize, KernelError)>> {
    let mut failures = Vec::new();
    let mut requests = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        match request(op) {
            Ok(m) => requests.push((i, m)),
            Err(e) => failures.push((i, e)),
        }
    }
    let count = u32::try_from(requests.len())
        .map_err(|_| KernelError::Invalid("too many route changes in one batch".into()))?;
    // A block of sequence numbers for this call: seq - base is the index into `requests`.
    let base = batcher
        .seq
        .fetch_add(count.saturating_add(1), Ordering::Relaxed);
    let chunks = serialize(&mut requests, base);
    let b = Arc::clone(batcher);
    let errors = tokio::task::spawn_blocking(move || send_all(&b, &chunks))
        .await
        .map_err(|e| KernelError::Io {
            op: "route batch".into(),
            source: std::io::Error::other(e),
        })?
        .map_err(|e| KernelError::from_io("route batch socket", e))?;
    for (seq, errno) in errors {
        // Wrapping: the counter may have wrapped within this call's block. Replies to an
        // earlier, failed call fall outside the block and are skipped.
        let k = usize::try_from(seq.wrapping_sub(base)).unwrap_or(usize::MAX);
        let Some((i, _)) = requests.get(k) else {
            continue;
        };
        let Some(op) = ops.get(*i) else { continue };
        failures.push((*i, error(op, errno)));
    }
    failures.sort_by_key(|(i, _)| *i);
    Ok(failures)
}

fn request(op: &RouteOp) -> KernelResult<NetlinkMessage<RouteNetlinkMessage>> {
    let (payload, flags) = match op {
        RouteOp::Replace(r) => (
            RouteNetlinkMessage::NewRoute(route::build(r)?),
            NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE,
        ),
        RouteOp::Delete {
            destination,
            protocol,
        } => (
            RouteNetlinkMessage::DelRoute(route::delete_message(*destination, *protocol)?),
            NLM_F_REQUEST,
        ),
    };
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    Ok(NetlinkMessage::new(
        header,
        NetlinkPayload::InnerMessage(payload),
    ))
}

/// A serialized chunk and the sequence number of its last (acked) message.
type Chunk = (Vec<u8>, u32);

fn serialize(
    requests: &mut [(usize, NetlinkMessage<RouteNetlinkMessage>)],
    base: u32,
) -> Vec<Chunk> {
    // Where chunks end: greedily up to CHUNK bytes.
    let mut ends = Vec::new();
    let mut size = 0;
    for (k, (_, msg)) in requests.iter_mut().enumerate() {
        msg.header.sequence_number = base.wrapping_add(u32::try_from(k).unwrap_or(u32::MAX));
        msg.finalize();
        let len = msg.buffer_len();
        if size > 0 && size + len > CHUNK {
            ends.push(k - 1);
            size = 0;
        }
        size += len;
    }
    if !requests.is_empty() {
        ends.push(requests.len() - 1);
    }
    let mut chunks = Vec::with_capacity(ends.len());
    let mut from = 0;
    for end in ends {
        let Some(part) = requests.get_mut(from..=end) else {
            break;
        };
        // The last message of a chunk asks for an ack: its reply means the chunk is done.
        let mut last_seq = 0;
        if let Some((_, last)) = part.last_mut() {
            last.header.flags |= NLM_F_ACK;
            last_seq = last.header.sequence_number;
        }
        let total = part.iter().map(|(_, m)| m.buffer_len()).sum();
        let mut buf = vec![0u8; total];
        let mut at = 0;
        for (_, msg) in part.iter() {
            let len = msg.buffer_len();
            if let Some(slot) = buf.get_mut(at..at + len) {
                msg.serialize(slot);
            }
            at += len;
        }
        chunks.push((buf, last_seq));
        from = end + 1;
    }
    chunks
}

/// Sends every chunk and collects (sequence number, errno) of each failed message.
fn send_all(b: &RouteBatcher, chunks: &[Chunk]) -> std::io::Result<Vec<(u32, i32)>> {
    let socket = b
        .socket
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut errors = Vec::new();
    let mut buf: Vec<u8> = Vec::with_capacity(64 << 10);
    for (bytes, last) in chunks {
        socket.send(bytes, 0)?;
        loop {
            buf.clear();
            buf.reserve(64 << 10);
            let n = socket.recv(&mut buf, 0)?;
            if read_replies(buf.get(..n).unwrap_or_default(), *last, &mut errors) {
                break;
            }
        }
    }
    Ok(errors)
}

/// Collects the failures of one datagram; true once the reply to `last` was among them.
fn read_replies(data: &[u8], last: u32, errors: &mut Vec<(u32, i32)>) -> bool {
    let mut done = false;
    for msg in super::datagram::messages(data) {
        if let NetlinkPayload::Error(e) = &msg.payload {
            let seq = msg.header.sequence_number;
            if let Some(code) = e.code {
                errors.push((seq, code.get().saturating_neg()));
            }
            done |= seq == last;
        }
    }
    done
}

fn error(op: &RouteOp, errno: i32) -> KernelError {
    let (kind, what) = match op {
        RouteOp::Replace(r) => ("RTM_NEWROUTE", format!("route {}", r.destination)),
        RouteOp::Delete {
            destination,
            protocol,
        } => (
            "RTM_DELROUTE",
            format!("route {destination} proto {protocol}"),
        ),
    };
    match Errno::from_raw(errno) {
        Errno::ENODEV | Errno::ESRCH | Errno::ENOENT => KernelError::NotFound { what },
        Errno::EEXIST => KernelError::Exists { what },
        e => KernelError::Netlink {
            op: kind,
            message: format!("{what}: {}", e.desc()),
        },
    }
}

#[cfg(test)]
#[path = "route_batch_tests.rs"]
mod tests;
