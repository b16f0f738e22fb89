//! Two of our session machines wired back to back over a simulated link (no runtime, no
//! sockets): whatever their parameters, jitter and parameter changes while Up, a lossless link
//! never produces a false down, every Poll Sequence ends, and a link that goes silent is
//! detected on both sides within the detection time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bfd::packet::{ControlPacket, Diag, State};
use bfd::session::{Input, Jitter, Params, Session, StateChange};
use proptest::prelude::*;

/// One-way delay of the simulated link.
const DELAY: Duration = Duration::from_millis(1);

struct Pair {
    s: [Session; 2],
    /// Packets in flight: (arrival, receiving side, packet).
    wire: VecDeque<(Instant, usize, ControlPacket)>,
    now: Instant,
    /// Every state change: (time, side, change).
    changes: Vec<(Instant, usize, StateChange)>,
    /// The link delivers nothing while false.
    link_up: bool,
}

impl Pair {
    fn new(params: [Params; 2], seeds: [u64; 2]) -> Pair {
        let now = Instant::now();
        Pair {
            s: [
                Session::new(0x1111, params[0], Jitter::from_seed(seeds[0]), now),
                Session::new(0x2222, params[1], Jitter::from_seed(seeds[1]), now),
            ],
            wire: VecDeque::new(),
            now,
            changes: vec![],
            link_up: true,
        }
    }

    fn feed(&mut self, side: usize, input: Input) {
        let out = self.s[side].handle(input, self.now);
        if let Some(p) = out.send {
            if self.link_up {
                self.wire.push_back((self.now + DELAY, 1 - side, p));
            }
        }
        if let Some(c) = out.change {
            self.changes.push((self.now, side, c));
        }
    }

    /// Runs the two machines and the link until `until` from now.
    fn run(&mut self, until: Duration) {
        let end = self.now + until;
        loop {
            let arrival = self.wire.front().map(|w| w.0);
            let next = [self.s[0].deadline(), self.s[1].deadline(), arrival]
                .into_iter()
                .flatten()
                .min()
                .filter(|t| *t <= end);
            let Some(t) = next else { break };
            self.now = self.now.max(t);
            if arrival == Some(t) {
                let (_, side, p) = self.wire.pop_front().unwrap();
                self.feed(side, Input::Received(p));
            } else {
                let side = usize::from(self.s[0].deadline() != Some(t));
                self.feed(side, Input::Timer);
            }
        }
        self.now = end;
    }

    fn both_up(&self) -> bool {
        self.s.iter().all(|s| s.state() == State::Up)
    }
}

/// Intervals of 10 ms to 1 s, half of them at most 50 ms (where jitter and delay bite).
fn params() -> impl Strategy<Value = Params> {
    let interval = || prop_oneof![10u64..=50, 10u64..=1000];
    (interval(), interval(), 1u8..=5)
        .prop_map(|(tx, rx, mult)| Params::from_millis(tx, rx, mult).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn no_false_down_through_any_parameter_changes(
        start in [params(), params()],
        seeds in any::<[u64; 2]>(),
        changes in proptest::collection::vec((0usize..2, params(), 500u64..5000), 0..6),
    ) {
        let mut pair = Pair::new(start, seeds);
        // Cold start: each hears the other's Down, goes Init, then Up, in a few link delays.
        pair.run(Duration::from_millis(10));
        prop_assert!(pair.both_up(), "{:?}", pair.changes);
        let settled = pair.changes.len();
        for (side, p, after_ms) in changes {
            pair.feed(side, Input::SetParams(p));
            pair.run(Duration::from_millis(after_ms));
        }
        pair.run(Duration::from_secs(10));
        prop_assert_eq!(&pair.changes[settled..], &[], "false state change");
        // Every Poll Sequence ended; each side uses what the other asked for.
        for side in 0..2 {
            let (me, other) = (pair.s[side].status(), pair.s[1 - side].params());
            prop_assert!(!me.polling);
            let expect = pair.s[side].params().desired_min_tx().max(other.required_min_rx());
            prop_assert_eq!(me.tx_interval, Some(expect));
            let detect = other.desired_min_tx().max(pair.s[side].params().required_min_rx())
                * u32::from(other.detect_mult());
            prop_assert_eq!(me.detection_time, Some(detect));
        }
    }

    #[test]
    fn a_silent_link_is_detected_on_both_sides_in_time(
        start in [params(), params()],
        seeds in any::<[u64; 2]>(),
    ) {
        let mut pair = Pair::new(start, seeds);
        pair.run(Duration::from_secs(5));
        prop_assert!(pair.both_up());
        let detection = [pair.s[0].status().detection_time.unwrap(), pair.s[1].status().detection_time.unwrap()];
        let cut = pair.now;
        pair.link_up = false;
        pair.wire.clear();
        pair.run(Duration::from_secs(30));
        for (side, limit) in detection.into_iter().enumerate() {
            let (at, _, c) = pair.changes.iter().rev().find(|(_, s, _)| *s == side).unwrap();
            prop_assert_eq!((c.from, c.to, c.diag), (State::Up, State::Down, Diag::ControlDetectionTimeExpired));
            // Counted from the last packet, which arrived before the cut.
            prop_assert!(*at - cut <= limit, "side {}: {:?} > {:?}", side, *at - cut, limit);
        }
    }
}
