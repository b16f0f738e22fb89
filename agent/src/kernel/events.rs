//! The channel kernel notifications travel on, with overrun folded in.
//!
//! A subscriber that falls behind must not stall the producer (the netlink reader or the
//! fake), and must not silently miss a change either: when the bounded channel is full the
//! event is dropped and the subscriber gets [`KernelEvent::Overrun`] once it has drained what
//! is queued, exactly what the kernel does with `ENOBUFS`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};

use super::KernelEvent;

/// How many notifications may wait for the subscriber before an overrun is declared.
const CAPACITY: usize = 4096;

/// The subscriber's end.
#[derive(Debug)]
pub struct EventReceiver {
    rx: mpsc::Receiver<KernelEvent>,
    lost: Arc<AtomicBool>,
}

/// The producer's end.
#[derive(Debug)]
pub struct EventSender {
    tx: mpsc::Sender<KernelEvent>,
    lost: Arc<AtomicBool>,
    /// Protocols whose route additions are not delivered.
    quiet: Vec<u8>,
}

impl EventSender {
    /// A new channel delivering everything.
    pub fn channel() -> (EventSender, EventReceiver) {
        Self::quiet_channel(&[])
    }

    /// A new channel that drops route additions owned by the `quiet` protocols.
    pub fn quiet_channel(quiet: &[u8]) -> (EventSender, EventReceiver) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let lost = Arc::new(AtomicBool::new(false));
        let rx = EventReceiver {
            rx,
            lost: Arc::clone(&lost),
        };
        let quiet = quiet.to_vec();
        (EventSender { tx, lost, quiet }, rx)
    }

    /// Delivers `event` without waiting; returns false once the subscriber is gone.
    pub fn send(&mut self, event: KernelEvent) -> bool {
        if let KernelEvent::Route {
            protocol,
            deleted: false,
            ..
        } = &event
        {
            if self.quiet.contains(protocol) {
                return !self.tx.is_closed();
            }
        }
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.lost.store(true, Ordering::Release);
                true
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }
}

impl EventReceiver {
    /// The next notification; [`KernelEvent::Overrun`] once the queue is drained if any was
    /// lost; `None` when the producer is gone.
    pub async fn recv(&mut self) -> Option<KernelEvent> {
        match self.try_recv() {
            Some(event) => Some(event),
            None => self.rx.recv().await,
        }
    }

    /// The next notification if one is ready.
    pub fn try_recv(&mut self) -> Option<KernelEvent> {
        match self.rx.try_recv() {
            Ok(event) => Some(event),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => self
                .lost
                .swap(false, Ordering::AcqRel)
                .then_some(KernelEvent::Overrun),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_channel_turns_into_one_overrun_after_the_queue() {
        let (mut tx, mut rx) = EventSender::channel();
        let ev = KernelEvent::Address { index: 1 };
        for _ in 0..CAPACITY + 10 {
            assert!(tx.send(ev.clone()));
        }
        for _ in 0..CAPACITY {
            assert_eq!(rx.try_recv(), Some(ev.clone()));
        }
        assert_eq!(rx.try_recv(), Some(KernelEvent::Overrun));
        assert_eq!(rx.try_recv(), None);
        assert!(tx.send(ev.clone()));
        assert_eq!(rx.try_recv(), Some(ev));
        drop(rx);
        assert!(!tx.send(KernelEvent::Overrun));
    }

    #[test]
    fn quiet_protocols_only_report_deletions() {
        let (mut tx, mut rx) = EventSender::quiet_channel(&[186]);
        let route = |protocol, deleted| KernelEvent::Route {
            destination: "10.0.0.0/8".parse().unwrap_or_default(),
            protocol,
            deleted,
        };
        assert!(tx.send(route(186, false)));
        assert!(tx.send(route(186, true)));
        assert!(tx.send(route(4, false)));
        assert_eq!(rx.try_recv(), Some(route(186, true)));
        assert_eq!(rx.try_recv(), Some(route(4, false)));
        assert_eq!(rx.try_recv(), None);
    }
}
