//! A raw BGP client of latticed: it sends whatever bytes it is given and reports latticed's
//! answers (messages, garbage, the connection closing), and what the RFCs expect of them.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bgp::wire::{
    check_frame, decode, CodecContext, Message, NotificationMsg, MAX_EXTENDED_MESSAGE_LEN,
};
use testkit::bgp::{keepalive, open};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpSocket;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};

use crate::{ANSWER_WITHIN, HOLD, LATTICED};

/// What the client's reader saw.
#[derive(Debug)]
pub enum Event {
    Message(Message),
    /// A frame that does not parse (latticed sent garbage).
    Garbage(String),
    /// EOF or a socket error.
    Closed(String),
}

/// Aborts the task when dropped.
pub struct Task(pub JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub struct Conn {
    pub writer: Arc<Mutex<OwnedWriteHalf>>,
    pub events: mpsc::UnboundedReceiver<Event>,
    pub reader: Task,
}

impl Conn {
    /// Connect from `from` (an address of the peers' namespace) to latticed's port 179,
    /// retrying while latticed is not listening yet.
    pub async fn connect(from: Ipv4Addr) -> Result<Conn, String> {
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
    pub async fn establish(from: Ipv4Addr, asn: u32) -> Result<Conn, String> {
        let mut last = String::new();
        for _ in 0..10 {
            let mut conn = Conn::connect(from).await?;
            conn.send(&[open(asn, from, HOLD), keepalive()].concat())
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

    pub async fn send(&self, bytes: &[u8]) -> Result<(), String> {
        let mut w = self.writer.lock().await;
        w.write_all(bytes).await.map_err(|e| format!("write: {e}"))
    }

    /// The next event, or `None` when nothing came within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Event> {
        match timeout(within, self.events.recv()).await {
            Ok(Some(ev)) => Some(ev),
            Ok(None) => Some(Event::Closed("reader stopped".into())),
            Err(_) => None,
        }
    }

    /// latticed's answer to what we just sent: the first NOTIFICATION (OPEN, KEEPALIVE and
    /// UPDATE are skipped), and whether the connection then closed.
    pub async fn answer(&mut self) -> Answer {
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
    pub async fn closes(&mut self) -> bool {
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
pub enum Answer {
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
pub struct Expect {
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

pub fn expect(code: u8, subcode: u8) -> Expect {
    Expect {
        code,
        subcode,
        data: None,
    }
}

pub fn expect_data(code: u8, subcode: u8, data: &[u8]) -> Expect {
    Expect {
        code,
        subcode,
        data: Some(data.to_vec()),
    }
}

impl Expect {
    pub fn matches(&self, answer: &Answer) -> bool {
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
