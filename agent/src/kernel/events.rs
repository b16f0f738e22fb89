//! The channel kernel notifications travel on, with overrun folded in.
//!
//! A subscriber that falls behind must not stall the producer (the netlink reader or the
//! fake), and must not silently miss a change either: when the bounded channel is full the
//! event is dropped and the next delivery is preceded by [`KernelEvent::Overrun`], exactly what
//! the kernel does with `ENOBUFS`.

use tokio::sync::mpsc;

use super::KernelEvent;

/// How many notifications may wait for the subscriber before an overrun is declared.
const CAPACITY: usize = 4096;

/// The subscriber's end.
pub type EventReceiver = mpsc::Receiver<KernelEvent>;

/// The producer's end.
#[derive(Debug)]
pub struct EventSender {
    tx: mpsc::Sender<KernelEvent>,
    lost: bool,
}

impl EventSender {
    /// A new channel.
    pub fn channel() -> (EventSender, EventReceiver) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        (EventSender { tx, lost: false }, rx)
    }

    /// Delivers `event` without waiting; returns false once the subscriber is gone.
    pub fn send(&mut self, event: KernelEvent) -> bool {
        if self.lost {
            match self.tx.try_send(KernelEvent::Overrun) {
                Ok(()) => self.lost = false,
                Err(mpsc::error::TrySendError::Full(_)) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
        }
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lost = true;
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// True once the subscriber has dropped its end.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_channel_turns_into_one_overrun() {
        let (mut tx, mut rx) = EventSender::channel();
        let ev = KernelEvent::Address { index: 1 };
        for _ in 0..CAPACITY + 10 {
            assert!(tx.send(ev.clone()));
        }
        for _ in 0..CAPACITY {
            assert_eq!(rx.try_recv().ok(), Some(ev.clone()));
        }
        assert!(rx.try_recv().is_err());
        assert!(tx.send(ev.clone()));
        assert_eq!(rx.try_recv().ok(), Some(KernelEvent::Overrun));
        assert_eq!(rx.try_recv().ok(), Some(ev));
        drop(rx);
        assert!(!tx.send(KernelEvent::Overrun));
    }
}
