//! The session FSM driven by an arbitrary byte string: shared by the `session` fuzz target and
//! the ordinary test that replays its corpus (`bgp/tests/fsm_corpus.rs`).
//!
//! Each byte picks an event; message events take their bytes from the rest of the input and go
//! through the real decoder, so the FSM sees both messages and decode errors. The FSM must never
//! panic, and its invariants hold.

use std::net::Ipv4Addr;
use std::time::Duration;

use bgp::fsm::{Input, OpenOptions, Output, Session, SessionConfig, State, Timer};
use bgp::wire::{decode, CodecContext, Message};

/// Run one script.
pub fn run(data: &[u8]) {
    let mut s = Session::new(SessionConfig {
        local_as: 65101,
        remote_as: 65001.into(),
        router_id: Ipv4Addr::new(10, 0, 0, 2),
        hold_time: 9,
        keepalive: None,
        connect_retry: Duration::from_secs(3),
        passive: data.first().is_some_and(|b| b & 1 == 1),
        open: OpenOptions {
            ipv6: true,
            ..OpenOptions::default()
        },
    });
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let input = match op % 10 {
            0 => Input::ManualStart,
            1 => Input::PassiveStart,
            2 => Input::ManualStop,
            3 => Input::TcpConnected,
            4 => Input::TcpFails,
            5 => Input::TimerExpired(Timer::ConnectRetry),
            6 => Input::TimerExpired(Timer::Hold),
            7 => Input::TimerExpired(Timer::Keepalive),
            8 => Input::Message(Message::Keepalive),
            _ => {
                // A length byte, then that many bytes as a message frame.
                let Some((&len, tail)) = rest.split_first() else {
                    break;
                };
                let len = usize::from(len).min(tail.len());
                let (frame, tail) = tail.split_at(len);
                rest = tail;
                let ctx = CodecContext {
                    four_octet_as: op & 0x80 != 0,
                };
                match decode(frame, ctx) {
                    Ok(m) => Input::Message(m),
                    Err(e) => Input::BadMessage(e),
                }
            }
        };
        let was = s.state();
        let out = s.handle(input);
        // Invariants: Idle means no negotiated session; becoming Established says so once.
        if s.state() == State::Idle {
            assert!(s.negotiated().is_none());
        }
        let established = out
            .iter()
            .filter(|o| matches!(o, Output::Established(_)))
            .count();
        assert!(established <= 1);
        if established == 1 {
            assert_eq!(s.state(), State::Established);
            assert_ne!(was, State::Established);
        }
    }
}
