//! The Loc-RIB changes the agent consumes, coalesced: the RIB remembers which prefixes moved and
//! the consumer takes their latest state, so a slow consumer (programming the kernel) costs one
//! entry per prefix rather than a queue of every intermediate step.

use std::collections::VecDeque;
use std::sync::Arc;

use super::shared::Shared;
use crate::rib::RouteChange;

/// How many changes one lock of the RIB hands over.
const BATCH: usize = 4096;

/// The receiving end of the speaker's Loc-RIB changes.
#[derive(Debug)]
pub struct RouteChanges {
    shared: Arc<Shared>,
    buffered: VecDeque<RouteChange>,
}

/// Nothing to take right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Empty;

impl RouteChanges {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            buffered: VecDeque::new(),
        }
    }

    /// The next change, waiting for one; `None` once the speaker has stopped and every change
    /// was taken.
    pub async fn recv(&mut self) -> Option<RouteChange> {
        loop {
            if let Ok(c) = self.try_recv() {
                return Some(c);
            }
            if self.shared.signal.is_stopped() {
                return None;
            }
            self.shared.signal.wait().await;
        }
    }

    /// The next change if one is ready.
    pub fn try_recv(&mut self) -> Result<RouteChange, Empty> {
        if self.buffered.is_empty() {
            if let Ok(mut rib) = self.shared.rib.lock() {
                self.buffered.extend(rib.take_changes(BATCH));
            }
        }
        self.buffered.pop_front().ok_or(Empty)
    }
}
