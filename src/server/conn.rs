//! One connection: the socket, what it carries over between readiness events, and the
//! timing of its phases. Besides the server loop, the only code that does IO.
//!
//! Reads go into the loop's scratch buffer and requests are answered straight from it;
//! responses are encoded into the loop's scratch output buffer and written at once. Only
//! what is left over (a partial request, output the client has not taken) is copied into
//! the connection's own buffers, so an idle keep-alive connection holds no buffer at all.

use std::io::{self, ErrorKind, Read, Write};
use std::time::Instant;

use bytes::{Buf, BytesMut};
use mio::Interest;

use crate::config::Config;
use crate::http::response::Response;
use crate::server::h1::{Env, H1, OUTPUT_HIGH_WATER, Phase};
use crate::server::service::{ConnInfo, Service};
use crate::server::transport::{PeerAddr, Stream};
#[cfg(feature = "websocket")]
use crate::server::websocket::{Alive, Outgoing, Session, Target, WebSocketHandle};

/// Size of the loop's read buffer: one read drains a socket in most cases.
pub(crate) const READ_BUFFER: usize = 64 * 1024;

/// Reads (or flushes) per readiness event before yielding to other connections: one
/// fast client must not hold the loop.
const READS_PER_EVENT: usize = 16;

/// Buffers shared by every connection of one loop: only one connection runs at a time.
pub(crate) struct Scratch {
    read: Box<[u8]>,
    write: BytesMut,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        Scratch {
            read: vec![0; READ_BUFFER].into_boxed_slice(),
            write: BytesMut::with_capacity(READ_BUFFER),
        }
    }
}

/// Where output produced outside `drive` goes: behind what the connection still has
/// pending, if anything, else into the loop's buffer; `drive` then sends it first.
fn output<'b>(wbuf: &'b mut BytesMut, scratch: &'b mut Scratch) -> &'b mut BytesMut {
    if wbuf.is_empty() {
        &mut scratch.write
    } else {
        wbuf
    }
}

/// What the server should do with the connection after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Open,
    Close,
}

/// Readiness reported for one event.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ready {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer shut down its side (or the socket failed): read until EOF.
    pub(crate) read_closed: bool,
}

pub(crate) struct Conn {
    pub(crate) socket: Stream,
    /// The peer, and whether TLS protects the connection.
    info: ConnInfo,
    /// Distinguishes this connection from earlier ones that had the same slab key.
    pub(crate) serial: u64,
    h1: H1,
    /// After an upgrade: the WebSocket the connection now speaks.
    #[cfg(feature = "websocket")]
    ws: Option<Box<Session>>,
    /// Input not yet used: a partial request, or requests held back by backpressure.
    rbuf: BytesMut,
    /// Output the socket has not accepted yet.
    wbuf: BytesMut,
    /// The socket may have data: no `WouldBlock` or short read since the last edge.
    readable: bool,
    writable: bool,
    /// The peer's FIN may be waiting behind the data: read until EOF, even after a short read.
    read_closed: bool,
    /// The peer has closed its side (a read returned 0).
    peer_closed: bool,
    /// After the last response: our side is shut down, and input is discarded until this.
    lingering: Option<Instant>,
    pub(crate) registered: Interest,
    /// When the request head now arriving began, and the request count it belongs to.
    partial_since: Option<(u64, Instant)>,
    answered: u64,
    last_active: Instant,
    /// The earliest entry this connection has in the loop's timer heap.
    pub(crate) timer: Option<Instant>,
    /// The read budget ran out with input possibly left: the server should come back.
    pub(crate) yielded: bool,
    /// WebSocket output was queued in `wbuf` by a mailbox batch and awaits one write.
    #[cfg(feature = "websocket")]
    pub(crate) queued: bool,
    pub(crate) closed: bool,
}

impl Conn {
    pub(crate) fn new(socket: Stream, peer: PeerAddr, serial: u64, now: Instant) -> Conn {
        Conn {
            info: ConnInfo {
                peer,
                secure: socket.is_secure(),
            },
            socket,
            serial,
            h1: H1::new(),
            #[cfg(feature = "websocket")]
            ws: None,
            rbuf: BytesMut::new(),
            wbuf: BytesMut::new(),
            readable: false,
            writable: true,
            read_closed: false,
            peer_closed: false,
            lingering: None,
            registered: Interest::READABLE,
            partial_since: None,
            answered: 0,
            last_active: now,
            timer: None,
            yielded: false,
            #[cfg(feature = "websocket")]
            queued: false,
            closed: false,
        }
    }

    /// What its requests know of it.
    #[inline]
    pub(crate) fn info(&self) -> ConnInfo {
        self.info
    }

    /// Handles readiness: read, answer, write, as far as the socket allows.
    pub(crate) fn on_ready<S: Service>(
        &mut self,
        ready: Ready,
        scratch: &mut Scratch,
        env: &Env<'_, S>,
        config: &Config,
        now: Instant,
    ) -> Next {
        self.readable |= ready.readable || ready.read_closed;
        self.writable |= ready.writable;
        if ready.read_closed && !self.read_closed {
            self.read_closed = true;
            self.socket.note_read_closed();
        }
        self.yielded = false;
        if ready.writable {
            // Output the transport holds back (TLS records the socket did not take) goes
            // before anything new; a bare socket holds nothing back.
            match self.socket.flush() {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.writable = false,
                Err(_) => return Next::Close,
            }
        }
        let result = if self.lingering.is_some() {
            self.linger(scratch)
        } else {
            self.drive(scratch, env, config, now)
        };
        if self.read_closed && self.awaits_others() {
            // The client left while its answer was being computed or pushed: as nginx
            // does, take a closed reading side as the client giving up. The answer, when
            // it comes, finds the connection gone; a pushed body's senders see it closed.
            return Next::Close;
        }
        result.unwrap_or(Next::Close)
    }

    /// Delivers the response a blocking view computed off the loop.
    pub(crate) fn on_respond<S: Service>(
        &mut self,
        response: Response,
        scratch: &mut Scratch,
        env: &Env<'_, S>,
        config: &Config,
        now: Instant,
    ) -> Next {
        if self.h1.phase() != Phase::Pending {
            return Next::Open;
        }
        let out = output(&mut self.wbuf, scratch);
        self.h1.complete(response, out, env);
        self.last_active = now;
        self.drive(scratch, env, config, now).unwrap_or(Next::Close)
    }

    /// Sends a WebSocket message another thread posted.
    #[cfg(feature = "websocket")]
    pub(crate) fn on_ws_send<S: Service>(
        &mut self,
        outgoing: Outgoing,
        scratch: &mut Scratch,
        env: &Env<'_, S>,
        config: &Config,
        now: Instant,
    ) -> Next {
        let Some(ws) = &mut self.ws else {
            return Next::Open;
        };
        ws.deliver(outgoing, output(&mut self.wbuf, scratch), now);
        self.drive(scratch, env, config, now).unwrap_or(Next::Close)
    }

    /// Queues a WebSocket message from another thread in the connection's own buffer,
    /// to be written with whatever else the same mailbox batch brings it
    /// ([`flush_queued`](Conn::flush_queued)): one write, and one TCP segment, for many
    /// messages when the loop is behind. Returns whether it was queued.
    #[cfg(feature = "websocket")]
    pub(crate) fn queue_ws(&mut self, outgoing: Outgoing, now: Instant) -> bool {
        let Some(ws) = &mut self.ws else {
            return false;
        };
        ws.deliver(outgoing, &mut self.wbuf, now);
        true
    }

    /// Writes what [`queue_ws`](Conn::queue_ws) queued.
    #[cfg(feature = "websocket")]
    pub(crate) fn flush_queued<S: Service>(
        &mut self,
        scratch: &mut Scratch,
        env: &Env<'_, S>,
        config: &Config,
        now: Instant,
    ) -> Next {
        self.drive(scratch, env, config, now).unwrap_or(Next::Close)
    }

    /// The connection is being closed, for whatever reason: a WebSocket's handler hears
    /// of it.
    pub(crate) fn on_close(&mut self) {
        #[cfg(feature = "websocket")]
        if let Some(ws) = &mut self.ws {
            ws.gone();
        }
        self.socket.close();
    }

    /// Waiting on another thread with nothing to send: a response being computed, or a
    /// pushed body whose next piece has not come.
    fn awaits_others(&self) -> bool {
        self.wbuf.is_empty() && (self.h1.phase() == Phase::Pending || self.h1.awaits_push())
    }

    /// Acts on a passed deadline: close an idle or stuck connection, or answer a slow
    /// request with 408 and close.
    pub(crate) fn on_timeout<S: Service>(
        &mut self,
        scratch: &mut Scratch,
        env: &Env<'_, S>,
        config: &Config,
        now: Instant,
    ) -> Next {
        if self.lingering.is_some() || !self.wbuf.is_empty() {
            return Next::Close;
        }
        #[cfg(feature = "websocket")]
        if let Some(ws) = &mut self.ws {
            let mut out = std::mem::take(&mut scratch.write);
            let alive = ws.on_timer(&mut out, now);
            scratch.write = out;
            return match alive {
                Alive::Yes => self.drive(scratch, env, config, now).unwrap_or(Next::Close),
                Alive::No => Next::Close,
            };
        }
        match self.h1.phase() {
            Phase::Head if self.rbuf.is_empty() => Next::Close,
            Phase::Head | Phase::Body => {
                let mut out = std::mem::take(&mut scratch.write);
                self.h1.time_out(&self.rbuf, &mut out, env);
                self.rbuf.clear();
                scratch.write = out;
                self.drive(scratch, env, config, now).unwrap_or(Next::Close)
            }
            Phase::Streaming | Phase::Done => Next::Close,
            #[cfg(feature = "websocket")]
            Phase::Upgraded => Next::Close,
            // Not timed: a view may take as long as it takes.
            Phase::Pending => Next::Open,
        }
    }

    /// The server is shutting down: close now if idle, else after the request in flight;
    /// a WebSocket is sent its close frame (1001) and closes after the client answers.
    pub(crate) fn begin_close(&mut self, now: Instant) -> Next {
        #[cfg(feature = "websocket")]
        if let Some(ws) = &mut self.ws {
            ws.shut_down(&mut self.wbuf, now);
            return Next::Open;
        }
        let _ = now;
        self.h1.begin_close();
        if self.is_idle() {
            Next::Close
        } else {
            Next::Open
        }
    }

    /// Nothing in flight: no partial request, no pending output, no body streaming.
    pub(crate) fn is_idle(&self) -> bool {
        #[cfg(feature = "websocket")]
        if self.ws.is_some() {
            return false;
        }
        self.h1.phase() == Phase::Head
            && self.rbuf.is_empty()
            && self.wbuf.is_empty()
            && !self.socket.wants_write()
    }

    /// When this connection must next be looked at, given its phase; `None` while it
    /// waits on another thread with nothing to send.
    pub(crate) fn deadline(&self, config: &Config) -> Option<Instant> {
        if let Some(until) = self.lingering {
            return Some(until);
        }
        if !self.wbuf.is_empty() || self.socket.wants_write() {
            return Some(self.last_active + config.write_timeout);
        }
        #[cfg(feature = "websocket")]
        if let Some(ws) = &self.ws {
            return Some(ws.deadline());
        }
        Some(match self.h1.phase() {
            Phase::Head => match self.partial_since {
                Some((_, since)) => since + config.head_timeout,
                None => self.last_active + config.keep_alive_timeout,
            },
            Phase::Body => self.last_active + config.body_timeout,
            // Waiting on another thread with nothing to send: no timeout applies (a
            // view takes as long as it takes; a pushed body may be quiet).
            Phase::Pending => return None,
            Phase::Streaming if self.h1.awaits_push() => return None,
            Phase::Streaming | Phase::Done => self.last_active + config.write_timeout,
            #[cfg(feature = "websocket")]
            Phase::Upgraded => self.last_active + config.write_timeout,
        })
    }

    /// The interest the socket needs now: writable only while output is pending, here
    /// or in the transport.
    pub(crate) fn interest(&self) -> Interest {
        if self.wbuf.is_empty() && !self.socket.wants_write() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        }
    }

    fn drive<S: Service>(
        &mut self,
        scratch: &mut Scratch,
        env: &Env<'_, S>,
        config: &Config,
        now: Instant,
    ) -> io::Result<Next> {
        // Output already pending must go first, so new responses queue behind it.
        let own = !self.wbuf.is_empty();
        let mut out = std::mem::take(if own {
            &mut self.wbuf
        } else {
            &mut scratch.write
        });
        let result = self.pump(&mut out, scratch, env, now);
        if own {
            // Once a slow reader has caught up, its backlog's memory goes back too.
            self.wbuf = if out.is_empty() { BytesMut::new() } else { out };
        } else if !out.is_empty() {
            // The client is behind: it takes the buffer as it is (no copy), and the loop
            // starts a fresh one. Rare, so the allocation is off the hot path.
            self.wbuf = out;
            scratch.write = BytesMut::with_capacity(READ_BUFFER);
        } else {
            // One huge response must not pin its size in the loop's buffer forever.
            if out.capacity() > 16 * READ_BUFFER {
                out = BytesMut::with_capacity(READ_BUFFER);
            }
            scratch.write = out;
        }
        result?;
        if self.wbuf.is_empty() {
            // Everything produced is on the socket: finished requests get their log lines.
            self.h1.flushed(now);
        }
        #[cfg(feature = "websocket")]
        if let Some(ws) = &self.ws {
            if self.peer_closed {
                return Ok(Next::Close);
            }
            if self.wbuf.len() > config.websocket_max_buffered {
                // A client that stopped reading: dropped rather than buffered for.
                log::warn!("a WebSocket client is not reading its messages; disconnecting it");
                return Ok(Next::Close);
            }
            if ws.is_finished() && self.wbuf.is_empty() {
                return self.finish(scratch, config, now);
            }
            return Ok(Next::Open);
        }
        self.note_partial(now);
        if self.h1.phase() == Phase::Done && self.wbuf.is_empty() {
            return self.finish(scratch, config, now);
        }
        Ok(Next::Open)
    }

    /// Hands input to the protocol the connection speaks; returns the bytes used. After
    /// the request that upgrades it, the rest is WebSocket frames.
    #[inline]
    fn feed<S: Service>(
        &mut self,
        input: &mut [u8],
        out: &mut BytesMut,
        env: &Env<'_, S>,
        now: Instant,
    ) -> usize {
        #[cfg(feature = "websocket")]
        if let Some(ws) = &mut self.ws {
            return ws.read(input, out, now);
        }
        let used = self.h1.advance(input, out, env);
        self.count_answered(used);
        #[cfg(feature = "websocket")]
        if self.h1.is_switched() {
            self.upgrade(out, env, now);
        }
        #[cfg(not(feature = "websocket"))]
        let _ = now;
        used
    }

    /// Starts the WebSocket the exchange just switched to.
    #[cfg(feature = "websocket")]
    #[cold]
    fn upgrade<S: Service>(&mut self, out: &mut BytesMut, env: &Env<'_, S>, now: Instant) {
        let Some(upgrade) = self.h1.take_upgrade() else {
            return;
        };
        let target = match &env.origin {
            Some(origin) => Target::Loop {
                mailbox: origin.mailbox.clone(),
                conn: origin.conn,
            },
            None => Target::Memory(Default::default()),
        };
        let handle = WebSocketHandle::new(target);
        let config = env.service.config();
        if !config.websocket_nodelay {
            // Only a TCP socket has it; failing to change it changes nothing else.
            let _ = self.socket.set_nodelay(false);
        }
        let mut session = Box::new(Session::new(*upgrade, handle, config, now));
        session.open(out, now);
        self.ws = Some(session);
    }

    /// Whether more input is useful now.
    #[inline]
    fn wants_input(&self) -> bool {
        #[cfg(feature = "websocket")]
        if let Some(ws) = &self.ws {
            return ws.wants_input();
        }
        self.h1.wants_input()
    }

    /// Reads, answers and writes until the socket would block or the client must catch up.
    fn pump<S: Service>(
        &mut self,
        out: &mut BytesMut,
        scratch: &mut Scratch,
        env: &Env<'_, S>,
        now: Instant,
    ) -> io::Result<()> {
        let mut reads = 0;
        let mut flushes = 0;
        loop {
            // Input carried over from earlier (or a body still streaming out).
            if !self.rbuf.is_empty() || self.h1.phase() == Phase::Streaming {
                let mut input = std::mem::take(&mut self.rbuf);
                let used = self.feed(&mut input, out, env, now);
                input.advance(used);
                self.rbuf = input;
                if self.rbuf.is_empty() {
                    // Only partial requests use this buffer: release it rather than keep
                    // its memory for as long as the connection idles.
                    self.rbuf = BytesMut::new();
                }
            }
            if self.readable && self.wants_input() && out.len() < OUTPUT_HIGH_WATER {
                if reads == READS_PER_EVENT {
                    self.yielded = true;
                } else {
                    reads += 1;
                    self.read_some(out, scratch, env, now)?;
                    continue;
                }
            }
            if out.is_empty() || !self.writable {
                return Ok(());
            }
            if !self.write_out(out)? {
                return Ok(());
            }
            self.last_active = now;
            flushes += 1;
            if flushes == READS_PER_EVENT {
                // A body streaming to a fast reader: let the others have a turn.
                self.yielded = true;
                return Ok(());
            }
            // Everything was written: more may be producible now that the client caught up.
            let more = self.h1.phase() == Phase::Streaming
                || (!self.rbuf.is_empty() && self.wants_input())
                || (self.readable && self.wants_input() && !self.yielded);
            if !more {
                return Ok(());
            }
        }
    }

    /// One read into the loop's buffer; complete requests are answered straight from it.
    fn read_some<S: Service>(
        &mut self,
        out: &mut BytesMut,
        scratch: &mut Scratch,
        env: &Env<'_, S>,
        now: Instant,
    ) -> io::Result<()> {
        let n = match self.socket.read(&mut scratch.read) {
            Ok(0) => {
                self.readable = false;
                self.peer_closed = true;
                self.h1.end_of_input();
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                self.readable = false;
                return Ok(());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        };
        // A short read drained the socket: the next data brings a new edge, so reading
        // again now would only return WouldBlock. Not so if the FIN is still to be read.
        if n < scratch.read.len() && !self.read_closed {
            self.readable = false;
        }
        self.last_active = now;
        if self.rbuf.is_empty() {
            let input = &mut scratch.read[..n];
            let used = self.feed(input, out, env, now);
            self.rbuf.extend_from_slice(&input[used..]);
        } else {
            self.rbuf.extend_from_slice(&scratch.read[..n]);
        }
        Ok(())
    }

    /// Writes until `out` is empty (`true`) or the socket would block (`false`).
    ///
    /// Only a partial write advances `out`: a buffer written whole is cleared with its
    /// start in place, so its capacity still tells how much memory it holds.
    fn write_out(&mut self, out: &mut BytesMut) -> io::Result<bool> {
        let mut written = 0;
        while written < out.len() {
            match self.socket.write(&out[written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.writable = false;
                    out.advance(written);
                    return Ok(false);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        out.clear();
        Ok(true)
    }

    fn count_answered(&mut self, used: usize) {
        if used > 0 {
            self.answered += 1;
        }
    }

    /// Starts the head timer when a new head begins to arrive, or a TLS handshake: a
    /// client that stalls in either is timed out alike. Stops it otherwise.
    fn note_partial(&mut self, now: Instant) {
        let partial = self.h1.phase() == Phase::Head
            && (!self.rbuf.is_empty() || self.socket.is_handshaking());
        self.partial_since = match self.partial_since {
            Some((n, since)) if partial && n == self.answered => Some((n, since)),
            _ if partial => Some((self.answered, now)),
            _ => None,
        };
    }

    /// The last response is out: close at once if the peer is gone, else shut down our
    /// side and linger, so unread input does not make the kernel reset the connection
    /// and destroy the response before the client has read it.
    fn finish(&mut self, scratch: &mut Scratch, config: &Config, now: Instant) -> io::Result<Next> {
        if self.peer_closed {
            return Ok(Next::Close);
        }
        self.socket.shutdown_write()?;
        self.lingering = Some(now + config.linger_timeout);
        self.rbuf = BytesMut::new();
        self.readable = true;
        self.linger(scratch)
    }

    /// Reads and discards until EOF; at most a few reads per event.
    fn linger(&mut self, scratch: &mut Scratch) -> io::Result<Next> {
        if !self.readable {
            return Ok(Next::Open);
        }
        for _ in 0..READS_PER_EVENT {
            match self.socket.read(&mut scratch.read) {
                Ok(0) => return Ok(Next::Close),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Ok(Next::Open);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.yielded = true;
        Ok(Next::Open)
    }
}
