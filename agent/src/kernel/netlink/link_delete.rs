//! `RTM_DELLINK` on a socket of its own, answered as soon as the link is unregistered.
//!
//! The kernel handles a netlink request inside the sender's `sendmsg`, and for a link deletion
//! that call only returns after `netdev_run_todo` has waited for an RCU barrier and for every
//! reference to the device to drop: about 20 ms on a 2-vCPU machine, of which unregistering
//! the device (and its peer, its addresses and its routes) is about 1 ms. On the shared
//! rtnetlink connection that wait blocked every other request and a runtime worker, so ten
//! parallel CNI DELs queued behind each other.
//!
//! So each deletion gets its own socket and a blocking thread to send on, and asks for the
//! kernel's `RTM_DELLINK` notification to be echoed back to it (`NLM_F_ECHO`). The kernel sends
//! that echo from `unregister_netdevice_many` after the device is unlisted and the protocols
//! have dropped its addresses and routes, and before the RCU wait: from then on the name is free
//! and the link is gone from every dump. The deletion returns at the echo (or at the ack, if the
//! kernel does not echo, or at the error); the sending thread finishes the kernel's cleanup on
//! its own and closes the socket.

use std::fs::File;
use std::io;
use std::sync::Arc;

use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::packet_core::{
    ErrorMessage, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_ECHO, NLM_F_REQUEST,
};
use rtnetlink::sys::{protocols::NETLINK_ROUTE, AsyncSocket, SocketAddr, TokioSocket};

use super::{error::map, netns};
use crate::kernel::{KernelError, KernelResult};

/// The request's sequence number: the socket carries nothing else.
const SEQ: u32 = 1;

/// How a deletion ended, as seen on its socket.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The kernel echoed the `RTM_DELLINK` notification of our link: it is unregistered.
    Gone,
    /// The kernel acknowledged the request (it did not echo).
    Acked,
    /// The kernel refused.
    Failed(ErrorMessage),
}

/// Deletes link `index` of the namespace `ns`; returns once the link is unregistered.
pub(super) async fn delete(ns: Arc<File>, index: u32) -> KernelResult<()> {
    let what = format!("link index {index}");
    let runtime = tokio::runtime::Handle::current();
    let socket = netns::run_in(ns, format!("RTM_DELLINK socket for {what}"), move || {
        // The socket registers with the runtime's reactor, so enter it on this thread.
        let _guard = runtime.enter();
        let mut s = TokioSocket::new(NETLINK_ROUTE)?;
        s.socket_mut().bind_auto()?;
        s.socket_ref().connect(&SocketAddr::new(0, 0))?;
        Ok(Arc::new(s))
    })
    .await?;
    let request = encode(index);
    let sender = Arc::clone(&socket);
    // Non-blocking only for reads: a request to the kernel is handled inside this call.
    let mut sent = tokio::task::spawn_blocking(move || sender.socket_ref().send(&request, 0));
    let mut sending = true;
    let read = read_outcome(&socket, index);
    tokio::pin!(read);
    let outcome = loop {
        tokio::select! {
            outcome = &mut read => break outcome.map_err(|e| io_error(&what, e))?,
            // Once sent, the kernel has queued the echo or the answer: the read ends.
            result = &mut sent, if sending => match result {
                Ok(Ok(_)) => sending = false,
                Ok(Err(e)) => return Err(io_error(&what, e)),
                Err(e) => return Err(io_error(&what, io::Error::other(e))),
            },
        }
    };
    match outcome {
        Outcome::Gone | Outcome::Acked => Ok(()),
        Outcome::Failed(err) => Err(map(
            "RTM_DELLINK",
            what,
            rtnetlink::Error::NetlinkError(err),
        )),
    }
}

fn io_error(what: &str, source: io::Error) -> KernelError {
    KernelError::Io {
        op: format!("RTM_DELLINK {what}"),
        source,
    }
}

/// The request: `RTM_DELLINK` for `index`, acknowledged and echoed.
fn encode(index: u32) -> Vec<u8> {
    let mut link = LinkMessage::default();
    link.header.index = index;
    let mut msg = NetlinkMessage::from(RouteNetlinkMessage::DelLink(link));
    msg.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO;
    msg.header.sequence_number = SEQ;
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// Reads the socket until the echo, the ack or an error for our request arrives.
async fn read_outcome(socket: &TokioSocket, index: u32) -> io::Result<Outcome> {
    let mut buf: Vec<u8> = Vec::with_capacity(32 * 1024);
    loop {
        buf.clear();
        std::future::poll_fn(|cx| socket.poll_recv(cx, &mut buf)).await?;
        if let Some(outcome) = parse(&buf, index) {
            return Ok(outcome);
        }
    }
}

/// The outcome a datagram of (possibly several) netlink messages reports, if any.
fn parse(datagram: &[u8], index: u32) -> Option<Outcome> {
    super::datagram::messages(datagram).find_map(|msg| match msg.payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(m))
            if m.header.index == index =>
        {
            Some(Outcome::Gone)
        }
        NetlinkPayload::Error(e) if msg.header.sequence_number == SEQ => Some(match e.code {
            None => Outcome::Acked,
            Some(_) => Outcome::Failed(e),
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_core::NetlinkHeader;

    fn bytes(mut msg: NetlinkMessage<RouteNetlinkMessage>) -> Vec<u8> {
        msg.finalize();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut buf);
        buf
    }

    fn del_link(index: u32) -> Vec<u8> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        bytes(NetlinkMessage::from(RouteNetlinkMessage::DelLink(link)))
    }

    fn error(code: i32, seq: u32) -> Vec<u8> {
        let mut e = ErrorMessage::default();
        e.code = std::num::NonZeroI32::new(code);
        let mut header = NetlinkHeader::default();
        header.sequence_number = seq;
        bytes(NetlinkMessage::new(header, NetlinkPayload::Error(e)))
    }

    #[test]
    fn the_request_asks_for_an_echo_and_an_ack() {
        let buf = encode(7);
        let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf).unwrap();
        assert_eq!(msg.header.flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO);
        match msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(m)) => {
                assert_eq!(m.header.index, 7)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_echo_of_our_link_means_gone_another_link_means_nothing() {
        assert_eq!(parse(&del_link(7), 7), Some(Outcome::Gone));
        assert_eq!(parse(&del_link(8), 7), None);
    }

    #[test]
    fn ack_and_refusal_of_our_request() {
        assert_eq!(parse(&error(0, SEQ), 7), Some(Outcome::Acked));
        match parse(&error(-19, SEQ), 7) {
            Some(Outcome::Failed(e)) => assert_eq!(e.code.map(|c| c.get()), Some(-19)),
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(&error(-19, SEQ + 1), 7), None);
    }

    #[test]
    fn several_messages_in_one_datagram_and_garbage() {
        let mut two = del_link(8);
        two.extend(error(0, SEQ));
        assert_eq!(parse(&two, 7), Some(Outcome::Acked));
        assert_eq!(parse(&[1, 2, 3], 7), None);
        assert_eq!(parse(&[0xff; 64], 7), None);
        assert_eq!(parse(&[], 7), None);
    }
}
