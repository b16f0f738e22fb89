//! The netlink messages of one datagram read from a socket of our own (the kernel packs
//! several per datagram, each 4-byte aligned). Decoding stops at the first message that does
//! not parse or whose length does not fit: nothing the kernel sends can make us panic.

use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::packet_core::NetlinkMessage;

/// Iterator over the messages of `data`, in order.
pub(super) fn messages(data: &[u8]) -> Messages<'_> {
    Messages { data }
}

/// See [`messages`].
pub(super) struct Messages<'a> {
    data: &'a [u8],
}

impl Iterator for Messages<'_> {
    type Item = NetlinkMessage<RouteNetlinkMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(self.data) else {
            self.data = &[];
            return None;
        };
        let len = usize::try_from(msg.header.length).unwrap_or(usize::MAX);
        let step = len.checked_add(3).map(|l| l & !3).unwrap_or(usize::MAX);
        self.data = match self.data.get(step..) {
            Some(rest) if step > 0 => rest,
            // A last message without padding, or a length that does not fit: nothing follows.
            _ => &[],
        };
        Some(msg)
    }
}
