//! One TCP connection: dialling it, a reader task that frames bytes, and the write half.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::md5;
use super::password::Password;
use super::ttl::{self, Ttl};
use crate::fsm::peer::ConnId;

use crate::wire::{
    check_frame, decode, Capability, CodecContext, DecodeError, Message, MAX_EXTENDED_MESSAGE_LEN,
    MAX_MESSAGE_LEN,
};

/// What a connection's reader reports, tagged with the connection's id.
#[derive(Debug)]
pub enum ConnEvent {
    /// One complete message of `len` octets, decoded by the reader (so decoding runs beside
    /// the peer task's RIB work).
    Message {
        len: usize,
        result: Result<Message, DecodeError>,
    },
    /// The header was bad; the reader stopped.
    BadFrame(DecodeError),
    /// The peer closed the connection or it failed.
    Closed(String),
}

/// A live connection to a peer.
#[derive(Debug)]
pub struct Conn {
    /// Id unique within the peer task, to tell events of two connections apart.
    pub id: ConnId,
    /// Whether we initiated it (collision resolution keeps one by direction).
    pub outbound: bool,
    /// Our end's address: the next hop we advertise (next-hop self).
    pub local: SocketAddr,
    writer: OwnedWriteHalf,
    reader: JoinHandle<()>,
}

impl Conn {
    /// Split `stream` and start its reader, which sends `(id, event)` to `events`.
    pub fn start(
        stream: TcpStream,
        id: ConnId,
        outbound: bool,
        events: mpsc::Sender<(ConnId, ConnEvent)>,
    ) -> std::io::Result<Conn> {
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let (mut read, writer) = stream.into_split();
        let reader = tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::with_capacity(2 * MAX_MESSAGE_LEN);
            let mut chunk = vec![0u8; 64 * 1024];
            // We always announce 4-octet AS support, so the peer's OPEN alone decides the AS_PATH
            // width of every later UPDATE (RFC 6793 §4).
            let mut ctx = CodecContext::default();
            loop {
                // Hand over every complete frame already buffered. The length limit applied
                // here is Extended Message's; the peer task enforces 4096 when it is not agreed.
                loop {
                    match check_frame(&buf, MAX_EXTENDED_MESSAGE_LEN) {
                        Ok(Some(len)) => {
                            let result = decode(buf.get(..len).unwrap_or_default(), ctx);
                            buf.drain(..len);
                            if let Ok(Message::Open(open)) = &result {
                                ctx.four_octet_as = open
                                    .capabilities
                                    .iter()
                                    .any(|c| matches!(c, Capability::FourOctetAs(_)));
                            }
                            let event = ConnEvent::Message { len, result };
                            if events.send((id, event)).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = events.send((id, ConnEvent::BadFrame(e))).await;
                            return;
                        }
                    }
                }
                match read.read(&mut chunk).await {
                    Ok(0) => {
                        let _ = events
                            .send((id, ConnEvent::Closed("closed by peer".into())))
                            .await;
                        return;
                    }
                    Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                    Err(e) => {
                        let _ = events.send((id, ConnEvent::Closed(e.to_string()))).await;
                        return;
                    }
                }
            }
        });
        Ok(Conn {
            id,
            outbound,
            local,
            writer,
            reader,
        })
    }

    /// Write bytes; an error means the connection is gone.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await
    }

    /// Stop reading and close (after a best-effort flush of what was written).
    pub async fn close(mut self) {
        let _ = self.writer.shutdown().await;
        self.reader.abort();
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Connect to `addr`, from `local` when the peer is configured with a source address, signing
/// the segments with `password` (TCP MD5, RFC 2385) from the SYN on when there is one, with
/// `ttl` from the SYN on too.
pub async fn dial(
    addr: SocketAddr,
    local: Option<IpAddr>,
    password: Option<Password>,
    ttl: Option<Ttl>,
) -> std::io::Result<TcpStream> {
    let socket = if addr.is_ipv6() {
        tokio::net::TcpSocket::new_v6()?
    } else {
        tokio::net::TcpSocket::new_v4()?
    };
    if let Some(local) = local {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    if let Some(password) = &password {
        md5::set_key(&socket, addr.ip(), password.expose())?;
    }
    if let Some(ttl) = ttl {
        ttl::apply(&socket, addr.ip(), ttl)?;
    }
    socket.connect(addr).await
}
