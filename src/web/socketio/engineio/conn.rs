//! One Engine.IO session: its transport, what waits to be sent, the heartbeat and the
//! upgrade, shared by every thread that may touch it.
//!
//! A long-polling session is not bound to a loop: with several workers its next `GET`
//! or `POST` may reach any of them (`SO_REUSEPORT` spreads connections), so sessions
//! sit in the engine's table behind a lock and whichever loop gets a request serves it.
//! A parked `GET` is a promised response ([`Completion`]) that any thread answers. A
//! WebSocket session belongs to the loop that accepted its connection; other threads
//! reach it through its [`WebSocketHandle`] (the loop's mailbox), and the loop itself
//! writes straight into the connection while it runs that connection's callbacks (see
//! [`direct`]).
//!
//! The states follow the engine.io-protocol README: "Heartbeat" (`NextPing` until a ping
//! is due, then `AwaitPong` until `pingTimeout`), "Upgrade" (`2probe`/`3probe` over the
//! new WebSocket, a `6` noop that ends the pending `GET`, then `5` switches and what was
//! queued moves over).

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::handshake::Settings;
use super::packet::{Frame, PacketType};
use super::payload;
use super::sid::Sid;
use super::timer::Timer;
use crate::http::response::{HeaderText, Response};
use crate::http::ws::send::SharedFrame;
use crate::server::completion::Completion;
use crate::server::websocket::WebSocketHandle;

/// Why a session ended, in engine.io's words (the `reason` of its `close` event, which
/// Socket.IO passes on to `disconnect` handlers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// The client closed the connection, or sent a `1` (close) packet.
    TransportClose,
    /// No pong within `pingTimeout` after a ping.
    PingTimeout,
    /// The client sent something that does not parse (either layer).
    ParseError,
    /// The transport broke the protocol (a second concurrent `GET`, a message over
    /// `maxPayload`).
    TransportError,
}

/// What the engine does when a session closes; the engine implements it, and a session
/// holds it weakly so that either side may go first.
pub(crate) trait Hooks<D>: Send + Sync {
    fn closed(&self, conn: &Arc<Conn<D>>, reason: CloseReason);
}

/// An Engine.IO session. `D` is the data of the layer above (Socket.IO's client).
pub(crate) struct Conn<D> {
    pub(crate) sid: Sid,
    pub(crate) data: D,
    pub(crate) settings: Settings,
    state: Mutex<State>,
    hooks: Weak<dyn Hooks<D>>,
    timer: Timer,
}

struct State {
    transport: Transport,
    /// A WebSocket of this session being probed for the upgrade.
    probe: Option<WebSocketHandle>,
    heartbeat: Heartbeat,
    closed: bool,
}

enum Transport {
    Polling(Polling),
    WebSocket(WebSocketHandle),
}

#[derive(Default)]
struct Polling {
    outbox: Vec<Frame>,
    /// The waiting `GET`, and the headers (CORS) its answer carries.
    parked: Option<(Completion, Vec<(HeaderText, HeaderText)>)>,
    /// A `GET` is parked or about to be: a second one is a protocol error.
    get_busy: bool,
    /// A `POST` is being read.
    post_busy: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Heartbeat {
    NextPing(Instant),
    AwaitPong(Instant),
}

/// Where a frame for this session goes now.
pub(crate) enum Route {
    /// Over the session's WebSocket (its handle), or straight into it when it is the
    /// connection whose callback runs on this thread.
    WebSocket(WebSocketHandle),
    /// Into the long-polling queue (already done).
    Queued,
    /// The session is closed.
    Closed,
}

/// What a long-polling `GET` gets.
pub(crate) enum GetOutcome {
    /// An answer now: the payload of what was queued, or a noop during an upgrade.
    Now(Response),
    /// Nothing to send yet: park the request until something is.
    Park,
    /// Refused; `close` says whether the session ends for it.
    Refused { close: bool },
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // No critical section calls out to other code, so a poisoned lock only means a
    // panic elsewhere on that thread; the state itself is consistent.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The answer to a long-polling `GET`: the payload of `frames`.
pub(crate) fn polling_response(
    frames: &[Frame],
    headers: Vec<(HeaderText, HeaderText)>,
) -> Response {
    let mut body = BytesMut::new();
    payload::encode(frames, &mut body);
    let mut response = Response::new(body.freeze())
        .with_content_type("text/plain; charset=UTF-8")
        .with_header("Cache-Control", "no-store");
    for (name, value) in headers {
        response.append_header(name, value);
    }
    response
}

/// The WebSocket frames of Engine.IO frames, encoded once for any number of connections.
pub(crate) fn shared_frames(frames: &[Frame]) -> Arc<[SharedFrame]> {
    frames
        .iter()
        .map(|frame| match frame {
            // Engine.IO text frames are UTF-8 by construction (a digit and JSON or text).
            Frame::Text(text) => SharedFrame::text(std::str::from_utf8(text).unwrap_or("")),
            Frame::Binary(data) => SharedFrame::binary(data),
        })
        .collect()
}

impl<D: Send + Sync + 'static> Conn<D> {
    /// A new session on `websocket`, or on long-polling when `None`; its first ping is
    /// due one `pingInterval` from now.
    pub(crate) fn new(
        sid: Sid,
        data: D,
        settings: Settings,
        websocket: Option<WebSocketHandle>,
        hooks: Weak<dyn Hooks<D>>,
        timer: Timer,
    ) -> Arc<Conn<D>> {
        let transport = match websocket {
            Some(ws) => Transport::WebSocket(ws),
            None => Transport::Polling(Polling::default()),
        };
        let next_ping = Instant::now() + settings.ping_interval;
        let conn = Arc::new(Conn {
            sid,
            data,
            settings,
            state: Mutex::new(State {
                transport,
                probe: None,
                heartbeat: Heartbeat::NextPing(next_ping),
                closed: false,
            }),
            hooks,
            timer,
        });
        schedule_heartbeat(&conn, next_ping);
        conn
    }

    /// A number that tells this session from any other alive now.
    pub(crate) fn key(&self) -> usize {
        self as *const Conn<D> as usize
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Whether the session's transport is a WebSocket (after the upgrade, or from the start).
    pub(crate) fn is_websocket(&self) -> bool {
        matches!(lock(&self.state).transport, Transport::WebSocket(_))
    }

    /// Sends Engine.IO frames, in order, by the session's transport.
    pub(crate) fn send(&self, frames: &[Frame]) {
        if let Route::WebSocket(ws) = self.route(frames)
            && !direct::push(self.key(), frames)
        {
            // A full mailbox drops them, as a full socket buffer would.
            let _ = ws.send_frames(shared_frames(frames));
        }
    }

    /// Queues `frames` when the session polls, or says which WebSocket takes them: a
    /// broadcast sends to all WebSocket recipients of a loop in one message.
    pub(crate) fn route(&self, frames: &[Frame]) -> Route {
        let mut state = lock(&self.state);
        if state.closed {
            return Route::Closed;
        }
        match &mut state.transport {
            Transport::WebSocket(ws) => Route::WebSocket(ws.clone()),
            Transport::Polling(polling) => {
                polling.outbox.extend_from_slice(frames);
                let parked = polling.parked.take();
                if parked.is_some() {
                    polling.get_busy = false;
                }
                let outbox = parked.as_ref().map(|_| std::mem::take(&mut polling.outbox));
                drop(state);
                if let (Some((completion, headers)), Some(outbox)) = (parked, outbox) {
                    completion.complete(polling_response(&outbox, headers));
                }
                Route::Queued
            }
        }
    }

    /// A long-polling `GET` arrived.
    pub(crate) fn on_get(&self, headers: &[(HeaderText, HeaderText)]) -> GetOutcome {
        let mut state = lock(&self.state);
        let probing = state.probe.is_some();
        let Transport::Polling(polling) = &mut state.transport else {
            return GetOutcome::Refused { close: false };
        };
        if polling.get_busy {
            // engine.io: "overlap from client" closes the session.
            return GetOutcome::Refused { close: true };
        }
        if !polling.outbox.is_empty() {
            let outbox = std::mem::take(&mut polling.outbox);
            return GetOutcome::Now(polling_response(&outbox, headers.to_vec()));
        }
        if probing {
            // The client waits for this poll to end before it sends `5`.
            return GetOutcome::Now(polling_response(
                &[Frame::bare(PacketType::Noop)],
                headers.to_vec(),
            ));
        }
        polling.get_busy = true;
        GetOutcome::Park
    }

    /// Parks the `GET` that [`on_get`](Conn::on_get) said to park; it is answered at once
    /// if something was queued (or the session changed) in between.
    pub(crate) fn park(&self, completion: Completion, headers: Vec<(HeaderText, HeaderText)>) {
        let mut state = lock(&self.state);
        let closed = state.closed;
        let probing = state.probe.is_some();
        let frames = match &mut state.transport {
            Transport::Polling(polling) if closed => {
                polling.get_busy = false;
                vec![Frame::bare(PacketType::Close)]
            }
            Transport::Polling(polling) if !polling.outbox.is_empty() || probing => {
                polling.get_busy = false;
                if polling.outbox.is_empty() {
                    vec![Frame::bare(PacketType::Noop)]
                } else {
                    std::mem::take(&mut polling.outbox)
                }
            }
            Transport::Polling(polling) => {
                polling.parked = Some((completion, headers));
                return;
            }
            Transport::WebSocket(_) => vec![Frame::bare(PacketType::Noop)],
        };
        drop(state);
        completion.complete(polling_response(&frames, headers));
    }

    /// A long-polling `POST` starts; `false` if one is already being read (the caller
    /// closes the session) or the session does not poll.
    pub(crate) fn begin_post(&self) -> Result<(), bool> {
        let mut state = lock(&self.state);
        match &mut state.transport {
            Transport::Polling(polling) if polling.post_busy => Err(true),
            Transport::Polling(polling) => {
                polling.post_busy = true;
                Ok(())
            }
            Transport::WebSocket(_) => Err(false),
        }
    }

    pub(crate) fn end_post(&self) {
        if let Transport::Polling(polling) = &mut lock(&self.state).transport {
            polling.post_busy = false;
        }
    }

    /// A pong arrived: the next ping is due one `pingInterval` from now.
    pub(crate) fn on_pong(&self, now: Instant) {
        let mut state = lock(&self.state);
        if let Heartbeat::AwaitPong(_) = state.heartbeat {
            state.heartbeat = Heartbeat::NextPing(now + self.settings.ping_interval);
        }
    }

    /// `2probe` arrived on `ws`: it becomes the session's probe, and a parked `GET` ends
    /// with a noop so the client can pause polling. `false` when no upgrade is possible.
    pub(crate) fn begin_probe(&self, ws: &WebSocketHandle) -> bool {
        let mut state = lock(&self.state);
        if state.closed || state.probe.is_some() {
            return false;
        }
        let Transport::Polling(polling) = &mut state.transport else {
            return false;
        };
        let parked = polling.parked.take();
        if parked.is_some() {
            polling.get_busy = false;
        }
        state.probe = Some(ws.clone());
        drop(state);
        if let Some((completion, headers)) = parked {
            completion.complete(polling_response(&[Frame::bare(PacketType::Noop)], headers));
        }
        true
    }

    /// `5` arrived on the probed `ws`: it becomes the transport. Returns what was queued
    /// for polling, to send over it now; `None` if `ws` was not the probe.
    pub(crate) fn finish_upgrade(&self, ws: &WebSocketHandle) -> Option<Vec<Frame>> {
        let mut state = lock(&self.state);
        if state.closed || state.probe.as_ref() != Some(ws) {
            return None;
        }
        state.probe = None;
        let old = std::mem::replace(&mut state.transport, Transport::WebSocket(ws.clone()));
        drop(state);
        let Transport::Polling(mut polling) = old else {
            return Some(Vec::new());
        };
        if let Some((completion, headers)) = polling.parked.take() {
            completion.complete(polling_response(&[Frame::bare(PacketType::Noop)], headers));
        }
        Some(polling.outbox)
    }

    /// The probed WebSocket closed before `5`: the session goes on polling.
    pub(crate) fn cancel_probe(&self, ws: &WebSocketHandle) {
        let mut state = lock(&self.state);
        if state.probe.as_ref() == Some(ws) {
            state.probe = None;
        }
    }

    /// The probe's connection ended before `5`: the session goes on polling.
    pub(crate) fn cancel_probe_any(&self) {
        let mut state = lock(&self.state);
        if state.probe.as_ref().is_some_and(WebSocketHandle::is_closed) {
            state.probe = None;
        }
    }

    /// Ends the session: its transport is closed, the engine forgets it and the layer
    /// above hears why. Closing twice does nothing.
    pub(crate) fn close(self: &Arc<Self>, reason: CloseReason) {
        let mut state = lock(&self.state);
        if state.closed {
            return;
        }
        state.closed = true;
        let probe = state.probe.take();
        let (parked, ws) = match &mut state.transport {
            Transport::Polling(polling) => {
                polling.outbox.clear();
                (polling.parked.take(), None)
            }
            Transport::WebSocket(ws) => (None, Some(ws.clone())),
        };
        drop(state);
        if let Some((completion, headers)) = parked {
            completion.complete(polling_response(&[Frame::bare(PacketType::Close)], headers));
        }
        for ws in [ws, probe].into_iter().flatten() {
            // Engine.IO's close is the WebSocket's close (engine.io's `transport.close`).
            let _ = ws.close(1000, "");
        }
        if let Some(hooks) = self.hooks.upgrade() {
            hooks.closed(self, reason);
        }
    }

    /// A heartbeat deadline passed: ping, or give up on a client that did not answer.
    /// Returns when to look again, `None` once the session is closed.
    fn on_timer(self: &Arc<Self>, now: Instant) -> Option<Instant> {
        let mut state = lock(&self.state);
        if state.closed {
            return None;
        }
        match state.heartbeat {
            Heartbeat::NextPing(at) if now >= at => {
                let deadline = now + self.settings.ping_timeout;
                state.heartbeat = Heartbeat::AwaitPong(deadline);
                drop(state);
                self.send(&[Frame::bare(PacketType::Ping)]);
                Some(deadline)
            }
            Heartbeat::AwaitPong(deadline) if now >= deadline => {
                drop(state);
                self.close(CloseReason::PingTimeout);
                None
            }
            Heartbeat::NextPing(at) | Heartbeat::AwaitPong(at) => Some(at),
        }
    }
}

/// Runs the heartbeat of `conn` at `at` and again as long as the session lives.
fn schedule_heartbeat<D: Send + Sync + 'static>(conn: &Arc<Conn<D>>, at: Instant) {
    let weak = Arc::downgrade(conn);
    conn.timer.schedule(at, move |timer, now| {
        let Some(conn) = weak.upgrade() else { return };
        if let Some(next) = conn.on_timer(now) {
            let _ = timer;
            schedule_heartbeat(&conn, next);
        }
    });
}

/// Frames for the WebSocket connection whose callback runs on this thread, written
/// straight into its buffer when the callback returns rather than posted to the loop's
/// own mailbox: an answer to a message costs no lock, no queue and no wake-up.
pub(crate) mod direct {
    use super::*;

    thread_local! {
        static DIRECT: RefCell<Option<(usize, Vec<Frame>)>> = const { RefCell::new(None) };
    }

    /// Runs `f` with frames for session `key` collected; returns them.
    pub(crate) fn collect(key: usize, f: impl FnOnce()) -> Vec<Frame> {
        let outer = DIRECT.with(|d| d.borrow_mut().replace((key, Vec::new())));
        f();
        let mine = DIRECT.with(|d| std::mem::replace(&mut *d.borrow_mut(), outer));
        mine.map(|(_, frames)| frames).unwrap_or_default()
    }

    /// Takes `frames` for session `key` if its callback runs on this thread.
    pub(crate) fn push(key: usize, frames: &[Frame]) -> bool {
        DIRECT.with(|d| match &mut *d.borrow_mut() {
            Some((k, out)) if *k == key => {
                out.extend_from_slice(frames);
                true
            }
            _ => false,
        })
    }
}

/// A message for the layer above.
#[derive(Debug)]
pub(crate) enum Incoming<'a> {
    Text(&'a str),
    Binary(Bytes),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::completion::Slot;
    use std::time::Duration;

    struct Recorder(Mutex<Vec<CloseReason>>);

    impl Hooks<()> for Recorder {
        fn closed(&self, _: &Arc<Conn<()>>, reason: CloseReason) {
            self.0.lock().unwrap().push(reason);
        }
    }

    fn polling(hooks: &Arc<Recorder>, timer: &Timer) -> Arc<Conn<()>> {
        let weak: Weak<dyn Hooks<()>> = Arc::downgrade(hooks) as Weak<dyn Hooks<()>>;
        let sid = Sid::generate().unwrap();
        Conn::new(sid, (), Settings::default(), None, weak, timer.clone())
    }

    fn body(response: &Response) -> &[u8] {
        response.body().unwrap_or_default()
    }

    #[test]
    fn a_parked_get_is_answered_by_the_next_send() {
        let (hooks, timer) = (Arc::new(Recorder(Mutex::default())), Timer::default());
        let conn = polling(&hooks, &timer);
        assert!(matches!(conn.on_get(&[]), GetOutcome::Park));
        // A second GET while one waits: refused, and the session is to close.
        assert!(matches!(
            conn.on_get(&[]),
            GetOutcome::Refused { close: true }
        ));
        let slot = Arc::new(Slot::default());
        conn.park(Completion::in_memory(slot.clone()), Vec::new());
        conn.send(&[
            Frame::text(PacketType::Message, "2[\"a\"]"),
            Frame::Binary(Bytes::from_static(b"\x01")),
        ]);
        let response = slot.wait(Duration::from_secs(5)).unwrap();
        assert_eq!(body(&response), b"42[\"a\"]\x1ebAQ==");
        // Queued while no GET waits: the next GET takes it at once.
        conn.send(&[Frame::bare(PacketType::Ping)]);
        match conn.on_get(&[]) {
            GetOutcome::Now(response) => assert_eq!(body(&response), b"2"),
            _ => panic!("expected an answer now"),
        }
        timer.stop();
    }

    #[test]
    fn closing_answers_the_parked_get_and_tells_the_engine_once() {
        let (hooks, timer) = (Arc::new(Recorder(Mutex::default())), Timer::default());
        let conn = polling(&hooks, &timer);
        assert!(matches!(conn.on_get(&[]), GetOutcome::Park));
        let slot = Arc::new(Slot::default());
        conn.park(Completion::in_memory(slot.clone()), Vec::new());
        conn.close(CloseReason::ParseError);
        conn.close(CloseReason::TransportClose);
        assert_eq!(body(&slot.wait(Duration::from_secs(5)).unwrap()), b"1");
        assert_eq!(*hooks.0.lock().unwrap(), [CloseReason::ParseError]);
        assert!(matches!(conn.route(&[]), Route::Closed));
        timer.stop();
    }

    #[test]
    fn a_post_at_a_time() {
        let (hooks, timer) = (Arc::new(Recorder(Mutex::default())), Timer::default());
        let conn = polling(&hooks, &timer);
        assert_eq!(conn.begin_post(), Ok(()));
        assert_eq!(conn.begin_post(), Err(true));
        conn.end_post();
        assert_eq!(conn.begin_post(), Ok(()));
        timer.stop();
    }

    #[test]
    fn no_pong_within_the_timeout_closes() {
        let (hooks, timer) = (Arc::new(Recorder(Mutex::default())), Timer::default());
        let weak: Weak<dyn Hooks<()>> = Arc::downgrade(&hooks) as Weak<dyn Hooks<()>>;
        let settings = Settings {
            ping_interval: Duration::from_millis(30),
            ping_timeout: Duration::from_millis(30),
            ..Settings::default()
        };
        let conn = Conn::new(
            Sid::generate().unwrap(),
            (),
            settings,
            None,
            weak,
            timer.clone(),
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while hooks.0.lock().unwrap().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(*hooks.0.lock().unwrap(), [CloseReason::PingTimeout]);
        assert!(conn.is_closed());
        timer.stop();
    }
}
