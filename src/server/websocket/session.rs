//! One open WebSocket connection, without IO: the protocol state, the route's handler,
//! liveness pings and the closing handshake's timing. The connection feeds it what it
//! reads and writes what it appends; the test client drives it from memory the same way.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::config::Config;
use crate::http::ws::close::GOING_AWAY;
use crate::http::ws::handshake::Accepted;
use crate::http::ws::protocol::{self, Event, Protocol, State};
use crate::server::websocket::{Message, Outgoing, WebSocket, WebSocketHandle, WebSocketHandler};

/// What a WebSocket route hands the server with its `101`: the handshake's outcome and
/// the connection's handler.
pub(crate) struct Upgrade {
    pub(crate) accepted: Accepted,
    pub(crate) handler: Box<dyn WebSocketHandler>,
}

/// Close code for a handler that panicked (RFC 6455 §7.4.1, 1011: internal error).
const INTERNAL_ERROR: u16 = 1011;

/// Timing of pings and of the closing handshake.
#[derive(Clone, Copy, Debug)]
struct Timing {
    ping_interval: Duration,
    ping_timeout: Duration,
    close_timeout: Duration,
}

pub(crate) struct Session {
    protocol: Protocol,
    handler: Box<dyn WebSocketHandler>,
    handle: WebSocketHandle,
    subprotocol: Option<Box<str>>,
    timing: Timing,
    /// When the client last sent anything: liveness, whatever it was.
    last_heard: Instant,
    /// A ping of ours awaiting any sign of life.
    ping_sent: Option<Instant>,
    /// When our close frame went out (we started closing).
    close_sent: Option<Instant>,
    /// The client's close code, once its close frame arrived.
    peer_close: Option<(Option<u16>, String)>,
    /// `on_close` has run.
    ended: bool,
}

/// Whether the connection should go on after a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alive {
    Yes,
    No,
}

impl Session {
    pub(crate) fn new(
        upgrade: Upgrade,
        handle: WebSocketHandle,
        config: &Config,
        now: Instant,
    ) -> Session {
        let limits = protocol::Limits {
            max_frame: config.websocket_max_frame,
            max_message: config.websocket_max_message,
        };
        let Upgrade { accepted, handler } = upgrade;
        Session {
            protocol: Protocol::new(limits, accepted.deflate),
            handler,
            handle,
            subprotocol: accepted.protocol.map(String::into_boxed_str),
            timing: Timing {
                ping_interval: config.websocket_ping_interval,
                ping_timeout: config.websocket_ping_timeout,
                close_timeout: config.websocket_close_timeout,
            },
            last_heard: now,
            ping_sent: None,
            close_sent: None,
            peer_close: None,
            ended: false,
        }
    }

    pub(crate) fn handle(&self) -> &WebSocketHandle {
        &self.handle
    }

    /// Runs `on_open`.
    pub(crate) fn open(&mut self, out: &mut BytesMut, now: Instant) {
        let Session {
            protocol,
            handler,
            handle,
            subprotocol,
            ..
        } = self;
        let mut sender = protocol.sender(out);
        let ok = {
            let mut ws = WebSocket {
                sender: sender.reborrow(),
                handle,
                protocol: subprotocol.as_deref(),
            };
            guarded(|| handler.on_open(&mut ws))
        };
        if !ok {
            let _ = sender.send_close(INTERNAL_ERROR, "");
        }
        self.after(now);
    }

    /// Reads the frames at the start of `input`, running the handler on each message;
    /// returns the bytes used.
    pub(crate) fn read(&mut self, input: &mut [u8], out: &mut BytesMut, now: Instant) -> usize {
        let Session {
            protocol,
            handler,
            handle,
            subprotocol,
            peer_close,
            ..
        } = self;
        let protocol_name = subprotocol.as_deref();
        let used = protocol.advance(input, out, |event, sender| {
            let message = match event {
                Event::Text(text) => Message::Text(text),
                Event::Binary(data) => Message::Binary(data),
                Event::Close { code, reason } => {
                    *peer_close = Some((code, reason.to_owned()));
                    return;
                }
                // Pings are answered by the protocol; any frame counts as liveness.
                Event::Ping(_) | Event::Pong(_) => return,
            };
            let ok = {
                let mut ws = WebSocket {
                    sender: sender.reborrow(),
                    handle,
                    protocol: protocol_name,
                };
                guarded(|| handler.on_message(&mut ws, message))
            };
            if !ok {
                let _ = sender.send_close(INTERNAL_ERROR, "");
            }
        });
        if used > 0 {
            self.last_heard = now;
            self.ping_sent = None;
        }
        self.after(now);
        used
    }

    /// Sends what another thread asked for.
    pub(crate) fn deliver(&mut self, outgoing: Outgoing, out: &mut BytesMut, now: Instant) {
        let mut sender = self.protocol.sender(out);
        // A send racing the close finds the connection closed: nothing to do.
        let _ = match &outgoing {
            Outgoing::Text(text) => sender.send_text(text),
            Outgoing::Binary(data) => sender.send_binary(data),
            Outgoing::Frames(frames) => frames.iter().try_for_each(|f| sender.send_shared(f)),
            Outgoing::Ping(payload) => sender.send_ping(payload),
            Outgoing::Close(code, reason) => sender.send_close(*code, reason),
        };
        self.after(now);
    }

    /// The server is shutting down: close with 1001 and wait for the client's answer.
    pub(crate) fn shut_down(&mut self, out: &mut BytesMut, now: Instant) {
        let _ = self
            .protocol
            .sender(out)
            .send_close(GOING_AWAY, "server shutting down");
        self.after(now);
    }

    /// Both close frames are out, or the connection failed: once the write buffer is
    /// flushed the server closes the TCP connection (it closes first, RFC 6455 §7.1.1).
    pub(crate) fn is_finished(&self) -> bool {
        self.protocol.state() == State::Closed
    }

    /// Whether more input is useful.
    pub(crate) fn wants_input(&self) -> bool {
        !self.is_finished()
    }

    /// When the timers next need a look: a ping due, a pong overdue, a close unanswered.
    pub(crate) fn deadline(&self) -> Instant {
        if let Some(at) = self.close_sent {
            return at + self.timing.close_timeout;
        }
        match self.ping_sent {
            Some(at) => at + self.timing.ping_timeout,
            None => self.last_heard + self.timing.ping_interval,
        }
    }

    /// Acts on a passed deadline: sends a ping, or gives up on a silent client.
    pub(crate) fn on_timer(&mut self, out: &mut BytesMut, now: Instant) -> Alive {
        if now < self.deadline() {
            return Alive::Yes;
        }
        if self.close_sent.is_some() || self.ping_sent.is_some() {
            // No answer to our close, or no sign of life since our ping.
            self.gone();
            return Alive::No;
        }
        if self.protocol.sender(out).send_ping(b"").is_err() {
            return Alive::No;
        }
        self.ping_sent = Some(now);
        Alive::Yes
    }

    /// The TCP connection is ending, for whatever reason: runs `on_close` if it has not.
    pub(crate) fn gone(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.handle.mark_closed();
        let (code, reason) = match (&self.peer_close, self.protocol.failure()) {
            (Some((code, reason)), _) => (*code, reason.clone()),
            (None, Some(failure)) => (Some(failure.code), failure.reason.to_owned()),
            (None, None) => (None, String::new()),
        };
        let handler = &mut self.handler;
        guarded(|| handler.on_close(code, &reason));
    }

    /// Keeps the shared state in step with the protocol's: once our close is out, other
    /// threads' sends are refused; once the handshake is over, `on_close` runs.
    fn after(&mut self, now: Instant) {
        if self.protocol.state() != State::Open {
            self.handle.mark_closed();
            if self.close_sent.is_none() {
                self.close_sent = Some(now);
            }
        }
        if self.is_finished() {
            self.gone();
        }
    }
}

/// Runs handler code; a panic is logged and reported as `false`, and costs only this
/// connection (it is closed with 1011).
fn guarded(f: impl FnOnce()) -> bool {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => true,
        Err(panic) => {
            let message = crate::server::panic_message(&*panic);
            log::error!("panic in a WebSocket handler: {message}");
            false
        }
    }
}
