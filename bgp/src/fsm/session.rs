//! The per-connection session machine: RFC 4271 §8.2.2, state by state.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::open::{build_open_with, check_open, Negotiated, OpenOptions};
use super::{Input, Output, State, Timer};
use crate::wire::{cease_subcode, ErrorCode, Message, NotificationMsg};

/// Hold time while waiting for the peer's OPEN (RFC 4271 §8.2.2 suggests 4 minutes).
const LARGE_HOLD: Duration = Duration::from_secs(240);

/// What one session needs to know about its peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our ASN.
    pub local_as: u32,
    /// The ASN the peer must have.
    pub remote_as: super::RemoteAs,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Hold time we propose.
    pub hold_time: u16,
    /// Keepalive interval; `None` means a third of the negotiated hold time.
    pub keepalive: Option<u16>,
    /// ConnectRetryTimer interval (jitter is the driver's business).
    pub connect_retry: Duration,
    /// Never initiate the connection.
    pub passive: bool,
    /// Capabilities we announce.
    pub open: OpenOptions,
}

/// One BGP session's state machine.
#[derive(Debug, Clone)]
pub struct Session {
    config: SessionConfig,
    state: State,
    negotiated: Option<Negotiated>,
    /// The last drop to Idle sent or received a NOTIFICATION (which ends graceful restart).
    notified: bool,
}

impl Session {
    /// A session in Idle.
    pub fn new(config: SessionConfig) -> Self {
        Self {
            config,
            state: State::Idle,
            negotiated: None,
            notified: false,
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// What the OPEN exchange agreed, once it has happened.
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.negotiated
    }

    /// Change the capabilities announced in the next OPEN (e.g. clear the Restart State bit).
    pub fn set_open_options(&mut self, open: super::OpenOptions) {
        self.config.open = open;
    }

    /// Whether the session's last fall to Idle involved a NOTIFICATION either way (RFC 4724
    /// §4.2: then the peer's routes are not kept for a graceful restart).
    pub fn ended_with_notification(&self) -> bool {
        self.notified
    }

    /// Process one event (RFC 4271 §8.2.2).
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        match self.state {
            State::Idle => self.idle(input),
            State::Connect | State::Active => self.connecting(input),
            State::OpenSent => self.open_sent(input),
            State::OpenConfirm => self.open_confirm(input),
            State::Established => self.established(input),
        }
    }

    fn idle(&mut self, input: Input) -> Vec<Output> {
        let retry = Output::StartTimer(Timer::ConnectRetry, self.config.connect_retry);
        match input {
            // Event 1: ManualStart (Event 3: AutomaticStart)
            Input::ManualStart if !self.config.passive => {
                self.state = State::Connect;
                vec![retry, Output::Connect]
            }
            // Event 4: ManualStart_with_PassiveTcpEstablishment
            Input::ManualStart | Input::PassiveStart => {
                self.state = State::Active;
                vec![retry]
            }
            // Every other event is ignored in Idle.
            _ => vec![],
        }
    }

    /// Connect and Active differ only in whether an outgoing connection is in flight.
    fn connecting(&mut self, input: Input) -> Vec<Output> {
        match input {
            // Event 2: ManualStop
            Input::ManualStop | Input::Stop(_) => {
                self.enter_idle(vec![Output::Disconnect], "stopped")
            }
            // Event 9: ConnectRetryTimer_Expires
            Input::TimerExpired(Timer::ConnectRetry) => {
                let mut out = vec![Output::StartTimer(
                    Timer::ConnectRetry,
                    self.config.connect_retry,
                )];
                if !self.config.passive {
                    self.state = State::Connect;
                    out.push(Output::Connect);
                }
                out
            }
            // Events 16/17: Tcp_CR_Acked / TcpConnectionConfirmed
            Input::TcpConnected => {
                self.state = State::OpenSent;
                let open = build_open_with(
                    self.config.local_as,
                    self.config.router_id,
                    self.config.hold_time,
                    &self.config.open,
                );
                vec![
                    Output::StopTimer(Timer::ConnectRetry),
                    Output::Send(Message::Open(open)),
                    Output::StartTimer(Timer::Hold, LARGE_HOLD),
                ]
            }
            // Event 18: TcpConnectionFails — keep listening, retry when the timer fires.
            Input::TcpFails => {
                self.state = State::Active;
                vec![]
            }
            Input::ManualStart | Input::PassiveStart => vec![],
            // Anything else here is an FSM error (Events 8, 10-13, 19-28).
            other => self.fsm_error(other, 0),
        }
    }

    fn open_sent(&mut self, input: Input) -> Vec<Output> {
        match input {
            // Event 19: BGPOpen
            Input::Message(Message::Open(open)) => {
                let c = &self.config;
                match check_open(
                    &open,
                    c.remote_as,
                    c.router_id,
                    c.hold_time,
                    c.local_as,
                    &c.open,
                ) {
                    Ok(n) => {
                        self.negotiated = Some(n);
                        self.state = State::OpenConfirm;
                        let mut out = vec![Output::Send(Message::Keepalive)];
                        out.extend(self.hold_timers(n.hold_time));
                        out
                    }
                    Err(notification) => {
                        let reason = format!(
                            "refused the peer's OPEN ({}/{})",
                            notification.code, notification.subcode
                        );
                        self.enter_idle(
                            vec![
                                Output::Send(Message::Notification(notification)),
                                Output::Disconnect,
                            ],
                            &reason,
                        )
                    }
                }
            }
            // Event 18: TcpConnectionFails — close the connection and go back to Active to
            // wait for the peer (§8.2.2); a slot that kept the dead connection would refuse
            // every later one.
            Input::TcpFails => {
                self.state = State::Active;
                vec![
                    Output::Disconnect,
                    Output::StopTimer(Timer::Hold),
                    Output::StartTimer(Timer::ConnectRetry, self.config.connect_retry),
                ]
            }
            // RFC 6608 subcode 1: unexpected message in OpenSent.
            other => self.common(other, 1),
        }
    }

    fn open_confirm(&mut self, input: Input) -> Vec<Output> {
        match input {
            // Event 26: KeepAliveMsg
            Input::Message(Message::Keepalive) => {
                self.state = State::Established;
                let Some(n) = self.negotiated else {
                    return self.fsm_error(Input::Message(Message::Keepalive), 2);
                };
                let mut out = self.hold_timers(n.hold_time);
                out.retain(|o| !matches!(o, Output::StartTimer(Timer::Keepalive, _)));
                out.push(Output::Established(n));
                out
            }
            // RFC 6608 subcode 2: unexpected message in OpenConfirm.
            other => self.common(other, 2),
        }
    }

    fn established(&mut self, input: Input) -> Vec<Output> {
        let hold = self.negotiated.map(|n| n.hold_time).unwrap_or(0);
        match input {
            // Event 27: UpdateMsg
            Input::Message(Message::Update(update)) => {
                let mut out = restart_hold(hold);
                out.push(Output::Update(update));
                out
            }
            // Event 26: KeepAliveMsg
            Input::Message(Message::Keepalive) => restart_hold(hold),
            // RFC 2918 §4: a request to send our Adj-RIB-Out again (or an RFC 7313 marker).
            Input::Message(Message::RouteRefresh(rr)) => {
                let mut out = restart_hold(hold);
                out.push(Output::RouteRefresh(rr));
                out
            }
            // RFC 6608 subcode 3: unexpected message in Established.
            other => self.common(other, 3),
        }
    }

    /// Events handled alike in OpenSent, OpenConfirm and Established.
    fn common(&mut self, input: Input, fsm_subcode: u8) -> Vec<Output> {
        match input {
            // Event 2: ManualStop
            Input::ManualStop => {
                let cease = notification(ErrorCode::Cease, cease_subcode::ADMINISTRATIVE_SHUTDOWN);
                self.enter_idle(
                    vec![Output::Send(cease), Output::Disconnect],
                    "administratively stopped",
                )
            }
            Input::Stop(n) => {
                let reason = format!("sent NOTIFICATION {}/{}{}", n.code, n.subcode, why(&n));
                self.enter_idle(
                    vec![Output::Send(Message::Notification(n)), Output::Disconnect],
                    &reason,
                )
            }
            // Event 10: HoldTimer_Expires
            Input::TimerExpired(Timer::Hold) => {
                let expired = notification(ErrorCode::HoldTimerExpired, 0);
                self.enter_idle(
                    vec![Output::Send(expired), Output::Disconnect],
                    "hold timer expired",
                )
            }
            // Event 11: KeepaliveTimer_Expires
            Input::TimerExpired(Timer::Keepalive) => {
                let hold = self.negotiated.map(|n| n.hold_time).unwrap_or(0);
                let mut out = vec![Output::Send(Message::Keepalive)];
                if hold > 0 {
                    out.push(Output::StartTimer(
                        Timer::Keepalive,
                        self.keepalive_interval(hold),
                    ));
                }
                out
            }
            // Event 18: TcpConnectionFails
            Input::TcpFails => {
                self.enter_idle(vec![Output::Disconnect], "connection closed by peer")
            }
            // Events 24/25: NotifMsgVerErr / NotifMsg
            Input::Message(Message::Notification(n)) => {
                let reason = format!("received NOTIFICATION {}/{}{}", n.code, n.subcode, why(&n));
                self.enter_idle(vec![Output::Disconnect], &reason)
            }
            // Events 21/22/28: the codec refused the message; answer with its NOTIFICATION.
            Input::BadMessage(err) => {
                let reason = format!(
                    "sent NOTIFICATION {}/{}: {}",
                    err.code as u8, err.subcode, err.reason
                );
                let n = Message::Notification(NotificationMsg::from(&err));
                self.enter_idle(vec![Output::Send(n), Output::Disconnect], &reason)
            }
            Input::ManualStart | Input::PassiveStart | Input::TcpConnected => vec![],
            other => self.fsm_error(other, fsm_subcode),
        }
    }

    /// Event 8 and other unexpected events: NOTIFICATION FSM Error (RFC 6608 subcode), to Idle.
    fn fsm_error(&mut self, input: Input, subcode: u8) -> Vec<Output> {
        let reason = format!(
            "FSM error in {:?}: unexpected {}",
            self.state,
            describe(&input)
        );
        let mut out = vec![];
        if matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            out.push(Output::Send(notification(ErrorCode::FsmError, subcode)));
        }
        out.push(Output::Disconnect);
        self.enter_idle(out, &reason)
    }

    fn enter_idle(&mut self, mut out: Vec<Output>, reason: &str) -> Vec<Output> {
        self.notified = reason.starts_with("received NOTIFICATION")
            || out
                .iter()
                .any(|o| matches!(o, Output::Send(Message::Notification(_))));
        self.state = State::Idle;
        self.negotiated = None;
        out.extend([Timer::ConnectRetry, Timer::Hold, Timer::Keepalive].map(Output::StopTimer));
        out.push(Output::Down(reason.to_string()));
        out
    }

    /// Hold and keepalive timers for a negotiated hold time (none when it is 0, RFC 4271 §4.4).
    fn hold_timers(&self, hold: u16) -> Vec<Output> {
        if hold == 0 {
            return vec![
                Output::StopTimer(Timer::Hold),
                Output::StopTimer(Timer::Keepalive),
            ];
        }
        vec![
            Output::StartTimer(Timer::Keepalive, self.keepalive_interval(hold)),
            Output::StartTimer(Timer::Hold, Duration::from_secs(u64::from(hold))),
        ]
    }

    /// A third of the hold time (RFC 4271 §10), or the configured interval if shorter; at
    /// least one second.
    fn keepalive_interval(&self, hold: u16) -> Duration {
        let third = hold / 3;
        let k = self.config.keepalive.map_or(third, |k| k.min(third));
        Duration::from_secs(u64::from(k.max(1)))
    }
}

fn restart_hold(hold: u16) -> Vec<Output> {
    if hold == 0 {
        return vec![];
    }
    vec![Output::StartTimer(
        Timer::Hold,
        Duration::from_secs(u64::from(hold)),
    )]
}

fn notification(code: ErrorCode, subcode: u8) -> Message {
    Message::Notification(NotificationMsg {
        code: code as u8,
        subcode,
        data: vec![],
    })
}

/// A Cease's Shutdown Communication (RFC 9003) for the reason shown to the operator.
fn why(n: &NotificationMsg) -> String {
    n.shutdown_communication()
        .map(|c| format!(", shutdown communication {c}"))
        .unwrap_or_default()
}

fn describe(input: &Input) -> String {
    match input {
        Input::Message(Message::Open(_)) => "OPEN".into(),
        Input::Message(Message::Update(_)) => "UPDATE".into(),
        Input::Message(Message::Keepalive) => "KEEPALIVE".into(),
        Input::Message(Message::Notification(_)) => "NOTIFICATION".into(),
        Input::Message(Message::RouteRefresh(_)) => "ROUTE-REFRESH".into(),
        // Message types the codec may add later (e.g. ROUTE-REFRESH).
        #[allow(unreachable_patterns)]
        Input::Message(_) => "message".into(),
        other => format!("{other:?}"),
    }
}
