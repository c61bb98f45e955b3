//! The HTTP/1.1 exchange of one connection, without IO: bytes in, responses out.
//!
//! [`H1::advance`] answers every complete request at the start of the input, in order,
//! appending the responses to the output buffer; it reports how much input it used and
//! keeps what it needs to resume (a body still arriving, a response still streaming).
//! The server's connection feeds it from a socket; the test client feeds it from memory,
//! so both go through exactly the same code.

use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::http::body::{ChunkError, ChunkedDecoder, Cursor};
use crate::http::channel::{Receiver, Taken};
use crate::http::date::{DATE_LEN, DateCache};
use crate::http::encode::{self, BodyFraming, Persistence};
use crate::http::method::Method;
use crate::http::parse::{self, Framing, Head, HeaderSlots, Limits, Version};
use crate::http::response::{Body, Response};
use crate::http::status::StatusCode;
use crate::server::access_log::{self, AccessLog};
use crate::server::completion::{Completion, Slot};
use crate::server::mailbox::{ConnId, LoopHandle, Message};
use crate::server::pool::BlockingPool;
use crate::server::service::{BlockingJob, ConnInfo, Incoming, Reply, Service};
use crate::server::transport::PeerAddr;
#[cfg(feature = "websocket")]
use crate::server::websocket::Upgrade;

/// Output above which no further request is answered until the client has read some:
/// a client that pipelines without reading cannot grow the buffer without bound.
pub(crate) const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// Largest piece read from a file body at a time.
const READER_PIECE: usize = 64 * 1024;

/// What the exchange needs from its surroundings for one call.
pub(crate) struct Env<'a, S> {
    pub(crate) service: &'a S,
    pub(crate) limits: &'a Limits,
    pub(crate) date: &'a [u8; DATE_LEN],
    pub(crate) conn: ConnInfo,
    /// The loop and connection this exchange runs on; `None` in memory (the test client,
    /// fuzzing), where blocking jobs run inline and pushed bodies are waited for.
    pub(crate) origin: Option<Origin<'a, S>>,
}

/// Where an answer computed off the loop goes back to.
pub(crate) struct Origin<'a, S> {
    pub(crate) service: &'a Arc<S>,
    pub(crate) mailbox: &'a LoopHandle,
    pub(crate) pool: &'a BlockingPool,
    pub(crate) conn: ConnId,
}

/// Where the exchange is, for the connection's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for (the rest of) a request head.
    Head,
    /// A head was read; its body is arriving.
    Body,
    /// A response body is being produced as the client reads.
    Streaming,
    /// A response is being computed off the loop.
    Pending,
    /// The connection switched to another protocol.
    #[cfg(feature = "websocket")]
    Upgraded,
    /// No more requests will be read; the connection closes once output is flushed.
    Done,
}

/// The reading side: what the next input bytes are.
enum Reading {
    /// Waiting for a head; the first `seen` bytes of input hold no complete one.
    Head { seen: usize },
    /// A head of `head_len` bytes was parsed; `body_len` bytes of body follow.
    Length {
        head_len: usize,
        body_len: usize,
        /// When the head was complete, for the access log (`None` when it is off).
        head_at: Option<Instant>,
    },
    /// A chunked body is being decoded in place right after the head.
    Chunked {
        head_len: usize,
        decoder: ChunkedDecoder,
        cursor: Cursor,
        expect_continue: bool,
        head_at: Option<Instant>,
    },
    /// Nothing more is read: `Connection: close`, an error, or end of input.
    Closed,
    /// The connection switched protocols (`101`): what follows is not HTTP, and is
    /// left for the protocol that takes over.
    #[cfg(feature = "websocket")]
    Switched,
}

/// The writing side: a response whose body is still being produced.
enum Writing {
    Idle,
    Stream {
        pieces: Box<dyn Iterator<Item = Bytes> + Send>,
        chunked: bool,
    },
    Reader {
        reader: Box<dyn Read + Send>,
        remaining: u64,
    },
    /// Pieces pushed from other threads, sent as they arrive.
    Channel {
        receiver: Box<Receiver>,
        chunked: bool,
    },
    /// A response being computed off the loop. Nothing behind its request is answered
    /// (or read) until it arrives, so pipelined responses keep their order.
    Pending(Box<Pending>),
}

/// What a response computed off the loop needs when it arrives.
struct Pending {
    method: Box<str>,
    target: Box<str>,
    version: Version,
    is_head: bool,
    keep_alive: bool,
    started: Option<Instant>,
}

/// The HTTP/1.1 state of one connection.
pub(crate) struct H1 {
    reading: Reading,
    writing: Writing,
    /// Answer the request in progress with `Connection: close` (server shutting down).
    closing: bool,
    log: AccessLog,
    /// The WebSocket to hand the connection to, once its `101` is written.
    #[cfg(feature = "websocket")]
    upgrade: Option<Box<Upgrade>>,
}

/// The result of one step over the input.
enum Step {
    /// A request was answered using this many bytes.
    Answered(usize),
    /// The state changed without using input; step again.
    Again,
    /// More input is needed.
    NeedMore,
    /// Reading has ended.
    Closed,
}

impl H1 {
    pub(crate) fn new() -> H1 {
        H1 {
            reading: Reading::Head { seen: 0 },
            writing: Writing::Idle,
            closing: false,
            log: AccessLog::default(),
            #[cfg(feature = "websocket")]
            upgrade: None,
        }
    }

    /// Answers what it can of `input`, appending to `out`; returns the bytes used.
    ///
    /// Input that is not used (a partial request) must be passed again, followed by
    /// more, on the next call. Once reading has ended, all input is reported used.
    pub(crate) fn advance<S: Service>(
        &mut self,
        input: &mut [u8],
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) -> usize {
        let mut used = 0;
        loop {
            if !matches!(self.writing, Writing::Idle) {
                self.fill(out);
                if !matches!(self.writing, Writing::Idle) {
                    return used;
                }
            }
            if out.len() >= OUTPUT_HIGH_WATER {
                return used;
            }
            match self.step(&mut input[used..], out, env) {
                Step::Answered(n) => {
                    used += n;
                    // All input used and nothing left to send: another step would only
                    // find that out (`NeedMore`, or `Closed` reporting the same length).
                    if used == input.len() && matches!(self.writing, Writing::Idle) {
                        return used;
                    }
                }
                Step::Again => {}
                Step::NeedMore => return used,
                Step::Closed => return input.len(),
            }
        }
    }

    fn step<S: Service>(&mut self, buf: &mut [u8], out: &mut BytesMut, env: &Env<'_, S>) -> Step {
        match &mut self.reading {
            Reading::Closed => Step::Closed,
            #[cfg(feature = "websocket")]
            Reading::Switched => Step::NeedMore,
            Reading::Head { seen } if buf.len() <= *seen => Step::NeedMore,
            // A head arriving a few bytes at a time is parsed again only when a line has
            // been completed, so a trickle costs one parse per line, not one per read.
            Reading::Head { seen } if *seen > 0 && !buf[*seen..].contains(&b'\n') => {
                *seen = buf.len();
                match parse::check_partial(buf, env.limits) {
                    Ok(()) => Step::NeedMore,
                    Err(err) => self.fail(err.status(), err.reason(), out, env),
                }
            }
            Reading::Head { .. } => {
                let mut slots = HeaderSlots::new();
                // Borrowed where it was parsed: moved out, the head was copied once more.
                let parsed = parse::parse_head(buf, &mut slots, env.limits);
                let head = match &parsed {
                    Ok(Some(head)) => {
                        self.reading = Reading::Head { seen: 0 };
                        head
                    }
                    Ok(None) => {
                        self.reading = Reading::Head { seen: buf.len() };
                        return Step::NeedMore;
                    }
                    Err(err) => return self.fail(err.status(), err.reason(), out, env),
                };
                match head.framing {
                    Framing::Length(len) if len > env.limits.max_body_size as u64 => {
                        let head_at = access_log::enabled().then(Instant::now);
                        self.refuse(head, StatusCode::CONTENT_TOO_LARGE, head_at, out, env)
                    }
                    Framing::Length(len) => {
                        // Within the body limit, so this fits.
                        let total = head.len + len as usize;
                        if buf.len() >= total {
                            self.respond(head, &buf[head.len..total], None, out, env);
                            if buf.len() == total {
                                return Step::Answered(total);
                            }
                            let more = self.answer_pipelined(&buf[total..], &mut slots, out, env);
                            return Step::Answered(total + more);
                        }
                        if head.expect_continue {
                            encode::write_continue(out);
                        }
                        self.reading = Reading::Length {
                            head_len: head.len,
                            body_len: len as usize,
                            head_at: access_log::enabled().then(Instant::now),
                        };
                        Step::NeedMore
                    }
                    Framing::Chunked => {
                        self.reading = Reading::Chunked {
                            head_len: head.len,
                            decoder: ChunkedDecoder::new(env.limits.max_body_size),
                            cursor: Cursor::default(),
                            expect_continue: head.expect_continue,
                            head_at: access_log::enabled().then(Instant::now),
                        };
                        Step::Again
                    }
                }
            }
            Reading::Length {
                head_len,
                body_len,
                head_at,
            } => {
                let (head_len, total, head_at) = (*head_len, *head_len + *body_len, *head_at);
                if buf.len() < total {
                    return Step::NeedMore;
                }
                self.reading = Reading::Head { seen: 0 };
                let (head, body) = (&buf[..head_len], &buf[head_len..total]);
                self.respond_buffered(head, body, head_at, out, env);
                Step::Answered(total)
            }
            Reading::Chunked {
                head_len,
                decoder,
                cursor,
                expect_continue,
                head_at,
            } => {
                let (head_len, head_at) = (*head_len, *head_at);
                let (_, body) = buf.split_at_mut(head_len);
                match decoder.decode(body, cursor) {
                    Ok(true) => {
                        let (read, written) = (cursor.read, cursor.written);
                        self.reading = Reading::Head { seen: 0 };
                        self.respond_buffered(
                            &buf[..head_len],
                            &buf[head_len..head_len + written],
                            head_at,
                            out,
                            env,
                        );
                        Step::Answered(head_len + read)
                    }
                    Ok(false) => {
                        if std::mem::take(expect_continue) {
                            encode::write_continue(out);
                        }
                        Step::NeedMore
                    }
                    Err(ChunkError::Invalid(why)) => {
                        self.fail(StatusCode::BAD_REQUEST, why, out, env)
                    }
                    Err(ChunkError::TooLarge) => {
                        let status = StatusCode::CONTENT_TOO_LARGE;
                        self.refuse_buffered(&buf[..head_len], status, head_at, out, env)
                    }
                }
            }
        }
    }

    /// Answers the complete requests that follow one just answered (pipelining), reusing
    /// its header slots: a round through `advance` and `step` for each cost more than the
    /// request's own routing. Anything else (a partial or invalid head, a body not all
    /// here, a streaming response, output to flush first, the end of reading) is left
    /// untouched for `step`, which sees it exactly as it would have. Returns the bytes used.
    fn answer_pipelined<'b, S: Service>(
        &mut self,
        buf: &'b [u8],
        slots: &mut HeaderSlots<'b>,
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) -> usize {
        let mut used = 0;
        while used < buf.len()
            && matches!(self.reading, Reading::Head { .. })
            && matches!(self.writing, Writing::Idle)
            && out.len() < OUTPUT_HIGH_WATER
        {
            let rest = &buf[used..];
            // Borrowed where it was parsed, as in `step`: moving the head out of the
            // result copied it, reading back what was just stored (a stall).
            let parsed = parse::parse_head(rest, slots, env.limits);
            let Ok(Some(head)) = &parsed else {
                break;
            };
            let Framing::Length(len) = head.framing else {
                break;
            };
            if len > env.limits.max_body_size as u64 {
                break;
            }
            let total = head.len + len as usize;
            if rest.len() < total {
                break;
            }
            self.respond(head, &rest[head.len..total], None, out, env);
            used += total;
        }
        used
    }

    /// Answers a request whose head was parsed on an earlier call: parse it again (it is
    /// known to be valid, and re-parsing is cheaper than keeping owned copies).
    fn respond_buffered<S: Service>(
        &mut self,
        head: &[u8],
        body: &[u8],
        head_at: Option<Instant>,
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) {
        match parse::parse_head(head, &mut HeaderSlots::new(), env.limits) {
            Ok(Some(head)) => self.respond(&head, body, head_at, out, env),
            _ => {
                self.fail(StatusCode::BAD_REQUEST, "malformed request", out, env);
            }
        }
    }

    /// Refuses a request whose head was parsed on an earlier call (see [`H1::refuse`]).
    fn refuse_buffered<S: Service>(
        &mut self,
        head: &[u8],
        status: StatusCode,
        head_at: Option<Instant>,
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) -> Step {
        match parse::parse_head(head, &mut HeaderSlots::new(), env.limits) {
            Ok(Some(head)) => self.refuse(&head, status, head_at, out, env),
            _ => self.fail(status, "malformed request", out, env),
        }
    }

    /// Refuses a request the server will not finish reading (its body is too large, or
    /// too slow): the service dresses the error (an app's error handlers), and reading
    /// stops, since the rest of the stream cannot be trusted.
    fn refuse<S: Service>(
        &mut self,
        head: &Head<'_, '_>,
        status: StatusCode,
        head_at: Option<Instant>,
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) -> Step {
        let Some(method) = Method::from_bytes(head.method.as_bytes()) else {
            return self.fail(status, "malformed request", out, env);
        };
        let is_head = method == Method::HEAD;
        let request = Incoming {
            method,
            version: head.version,
            target: head.target,
            headers: head.headers,
            body: &[],
            conn: &env.conn,
        };
        let mut response = Response::empty(status);
        env.service.refuse(request, status, &mut response);
        let started = access_log::enabled().then(|| head_at.unwrap_or_else(Instant::now));
        let line = (head.method, head.target, head.version);
        self.answer(response, is_head, false, line, started, out, env);
        self.reading = Reading::Closed;
        Step::Closed
    }

    /// Runs the service on one request and encodes its response, or leaves the exchange
    /// waiting for a response computed off the loop.
    fn respond<S: Service>(
        &mut self,
        head: &Head<'_, '_>,
        body: &[u8],
        head_at: Option<Instant>,
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) {
        let Some(method) = Method::from_bytes(head.method.as_bytes()) else {
            self.fail(StatusCode::BAD_REQUEST, "invalid method", out, env);
            return;
        };
        // From the complete head: earlier than now when the body came in later reads.
        let started = access_log::enabled().then(|| head_at.unwrap_or_else(Instant::now));
        let is_head = method == Method::HEAD;
        let request = Incoming {
            method,
            version: head.version,
            target: head.target,
            headers: head.headers,
            body,
            conn: &env.conn,
        };
        let mut response = Response::empty(StatusCode::OK);
        let keep_alive = head.keep_alive && !self.closing;
        match env.service.respond(request, &mut response) {
            Reply::Ready => {}
            #[cfg(feature = "websocket")]
            Reply::Upgrade(upgrade) => {
                return self.switch(
                    response,
                    upgrade,
                    (head.method, head.target, head.version),
                    started,
                    out,
                    env,
                );
            }
            Reply::Later(promise) => match park(promise, env) {
                Some(now) => response = now,
                None => {
                    self.wait_for_answer(head, is_head, keep_alive, started);
                    return;
                }
            },
            Reply::Blocking(job) => match defer(job, env) {
                Deferred::Now(now) => response = now,
                Deferred::Refused => {
                    // The pool is full: refused like any error after routing, so the
                    // app's handlers dress it; the client may retry shortly.
                    let request = Incoming {
                        method: Method::from_bytes(head.method.as_bytes()).expect("parsed above"),
                        version: head.version,
                        target: head.target,
                        headers: head.headers,
                        body,
                        conn: &env.conn,
                    };
                    let status = StatusCode::SERVICE_UNAVAILABLE;
                    response = Response::empty(status);
                    env.service.refuse(request, status, &mut response);
                    if response.header("Retry-After").is_none() {
                        response.set_header("Retry-After", "1");
                    }
                }
                Deferred::Later => {
                    self.wait_for_answer(head, is_head, keep_alive, started);
                    return;
                }
            },
        }
        let line = (head.method, head.target, head.version);
        self.answer(response, is_head, keep_alive, line, started, out, env);
    }

    /// Leaves the exchange waiting for a response computed elsewhere; what it needs to
    /// send it then is kept (the head itself is gone with the read buffer).
    #[cold]
    fn wait_for_answer(
        &mut self,
        head: &Head<'_, '_>,
        is_head: bool,
        keep_alive: bool,
        started: Option<Instant>,
    ) {
        self.writing = Writing::Pending(Box::new(Pending {
            method: head.method.into(),
            target: head.target.into(),
            version: head.version,
            is_head,
            keep_alive,
            started,
        }));
    }

    /// Writes the `101 Switching Protocols` in `response` and hands the connection over:
    /// nothing after this request is read as HTTP.
    #[cfg(feature = "websocket")]
    #[cold]
    fn switch<S: Service>(
        &mut self,
        response: Response,
        upgrade: Box<Upgrade>,
        line: (&str, &str, Version),
        started: Option<Instant>,
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) {
        encode::write_head(
            out,
            &response,
            env.date,
            BodyFraming::Forbidden,
            Persistence::Upgrade,
        );
        if let Some(started) = started {
            let status = response.status();
            self.log
                .record(env.conn.peer, line, status, None, started, true);
        }
        self.reading = Reading::Switched;
        self.upgrade = Some(upgrade);
    }

    /// Delivers the response a blocking view computed off the loop; what was read
    /// behind its request is answered on the next `advance`.
    pub(crate) fn complete<S: Service>(
        &mut self,
        response: Response,
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) {
        let Writing::Pending(pending) = std::mem::replace(&mut self.writing, Writing::Idle) else {
            unreachable!("a response was delivered to an exchange that awaited none");
        };
        let line = (&*pending.method, &*pending.target, pending.version);
        // Shutdown may have begun while the view ran: then this is the last response.
        let keep_alive = pending.keep_alive && !self.closing;
        let (is_head, started) = (pending.is_head, pending.started);
        self.answer(response, is_head, keep_alive, line, started, out, env);
    }

    /// Encodes a final response and writes its access-log line.
    // Inlined into `respond`: passed by value to a call, the response was copied.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn answer<S: Service>(
        &mut self,
        mut response: Response,
        is_head: bool,
        keep_alive: bool,
        (method, target, version): (&str, &str, Version),
        started: Option<Instant>,
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) {
        if response.status().is_informational() {
            // An interim status would leave the client waiting for the final response.
            log::error!(
                "{method} {target}: a handler returned {}, which is not a final status",
                response.status()
            );
            response = Response::text("500 Internal Server Error\n")
                .with_status(StatusCode::INTERNAL_SERVER_ERROR);
        }
        let status = response.status();
        let body_len = response.body_len();
        // The commonest response is written whole here, before `send`: passing it there
        // by value costs a copy of the response.
        let common = keep_alive
            && !is_head
            && version == Version::Http11
            && matches!(&response.body, Body::Full(bytes)
                if encode::write_common(out, &response, env.date, bytes));
        if !common {
            self.send(response, is_head, version, keep_alive, out, env);
        }
        if let Some(started) = started {
            let line = (method, target, version);
            let produced = matches!(self.writing, Writing::Idle);
            self.log
                .record(env.conn.peer, line, status, body_len, started, produced);
        }
    }

    /// Encodes `resp`, deciding its framing; a body that is not in memory is left in
    /// `self.writing` to be produced as the client reads.
    fn send<S: Service>(
        &mut self,
        resp: Response,
        is_head: bool,
        version: Version,
        mut keep_alive: bool,
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) {
        let framing = if resp.status().forbids_body() {
            BodyFraming::Forbidden
        } else {
            match &resp.body {
                Body::Empty => BodyFraming::Length(0),
                Body::Full(bytes) => BodyFraming::Length(bytes.len() as u64),
                Body::Reader { len, .. } => BodyFraming::Length(*len),
                Body::Stream(_) | Body::Channel(_) if version == Version::Http11 => {
                    BodyFraming::Chunked
                }
                Body::Stream(_) | Body::Channel(_) => {
                    // HTTP/1.0 has no chunked coding: the body ends with the connection.
                    keep_alive = keep_alive && is_head;
                    BodyFraming::UntilClose
                }
            }
        };
        let persistence = match (keep_alive, version) {
            (false, _) => Persistence::Close,
            (true, Version::Http10) => Persistence::KeepAlive10,
            (true, Version::Http11) => Persistence::KeepAlive,
        };
        encode::write_head(out, &resp, env.date, framing, persistence);
        if !keep_alive {
            self.reading = Reading::Closed;
        }
        if is_head || framing == BodyFraming::Forbidden {
            return;
        }
        // The response is owned here, so its body moves out without leaving a placeholder
        // behind for a later drop to inspect.
        match resp.body {
            Body::Empty => {}
            Body::Full(bytes) => out.extend_from_slice(&bytes),
            Body::Stream(pieces) => {
                self.writing = Writing::Stream {
                    pieces,
                    chunked: framing == BodyFraming::Chunked,
                };
            }
            Body::Reader { reader, len } => {
                self.writing = Writing::Reader {
                    reader,
                    remaining: len,
                };
            }
            Body::Channel(receiver) => {
                if let Some(origin) = &env.origin {
                    let (mailbox, conn) = (origin.mailbox.clone(), origin.conn);
                    // One wake-up per empty-to-not-empty change of each connection's
                    // queue, so their number is bounded by the connections: reserved.
                    receiver.set_notify(Box::new(move || {
                        mailbox.post_reserved(Message::Wake { conn })
                    }));
                }
                self.writing = Writing::Channel {
                    receiver,
                    chunked: framing == BodyFraming::Chunked,
                };
            }
        }
    }

    /// Produces more of a streaming body, up to the high-water mark.
    fn fill(&mut self, out: &mut BytesMut) {
        // User code runs here (iterators, readers): a panic ends this response, not the loop.
        let finished = catch_unwind(AssertUnwindSafe(|| self.fill_unguarded(out)));
        match finished {
            Ok(Ok(true)) => {
                self.writing = Writing::Idle;
                self.log.body_done();
            }
            Ok(Ok(false)) => {}
            Ok(Err(())) | Err(_) => {
                self.log.body_done();
                // The promised length or chunk framing cannot be completed: stop here and
                // close, so the client sees a truncated body rather than a wrong one.
                log::warn!("a response body failed while being sent; closing the connection");
                self.writing = Writing::Idle;
                self.reading = Reading::Closed;
            }
        }
    }

    /// `Ok(true)` when the body is complete.
    fn fill_unguarded(&mut self, out: &mut BytesMut) -> Result<bool, ()> {
        match &mut self.writing {
            Writing::Idle => Ok(true),
            Writing::Pending(_) => Ok(false),
            Writing::Channel { receiver, chunked } => {
                let chunked = *chunked;
                while out.len() < OUTPUT_HIGH_WATER {
                    match receiver.take() {
                        Taken::Piece(piece) => put_piece(out, &piece, chunked),
                        Taken::Empty => return Ok(false),
                        Taken::Ended => return Ok(self.end_body(out, chunked)),
                    }
                }
                Ok(false)
            }
            Writing::Stream { pieces, chunked } => {
                let chunked = *chunked;
                while out.len() < OUTPUT_HIGH_WATER {
                    match pieces.next() {
                        Some(piece) => put_piece(out, &piece, chunked),
                        None => return Ok(self.end_body(out, chunked)),
                    }
                }
                Ok(false)
            }
            Writing::Reader { reader, remaining } => {
                while out.len() < OUTPUT_HIGH_WATER && *remaining > 0 {
                    let want = (*remaining).min(READER_PIECE as u64) as usize;
                    let start = out.len();
                    out.resize(start + want, 0);
                    match reader.read(&mut out[start..]) {
                        Ok(0) => {
                            out.truncate(start);
                            return Err(());
                        }
                        Ok(n) => {
                            out.truncate(start + n);
                            *remaining -= n as u64;
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => out.truncate(start),
                        Err(_) => {
                            out.truncate(start);
                            return Err(());
                        }
                    }
                }
                Ok(*remaining == 0)
            }
        }
    }

    /// Ends a body of unknown length: the last chunk, or (close-delimited, for HTTP/1.0)
    /// the end of the connection. Returns `true`: the body is complete.
    fn end_body(&mut self, out: &mut BytesMut, chunked: bool) -> bool {
        if chunked {
            encode::write_last_chunk(out);
        } else {
            self.reading = Reading::Closed;
        }
        true
    }

    /// Answers a bad request with `status` and stops reading: after a framing error the
    /// rest of the stream cannot be trusted, so nothing after it is parsed as a request.
    fn fail<S: Service>(
        &mut self,
        status: StatusCode,
        reason: &str,
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) -> Step {
        let resp = Response::text(format!("{status}: {reason}\n")).with_status(status);
        self.send(resp, false, Version::Http11, false, out, env);
        Step::Closed
    }

    /// Answers the request in progress with `408 Request Timeout` and stops reading.
    /// `input` is what the connection holds of it: a request whose head is complete is
    /// refused through the service, like any error after routing.
    pub(crate) fn time_out<S: Service>(
        &mut self,
        input: &[u8],
        out: &mut BytesMut,
        env: &Env<'_, S>,
    ) {
        let body_of = match self.reading {
            Reading::Length {
                head_len, head_at, ..
            }
            | Reading::Chunked {
                head_len, head_at, ..
            } if matches!(self.writing, Writing::Idle) && input.len() >= head_len => {
                Some((head_len, head_at))
            }
            _ => None,
        };
        if let Some((head_len, head_at)) = body_of {
            let status = StatusCode::REQUEST_TIMEOUT;
            self.refuse_buffered(&input[..head_len], status, head_at, out, env);
            self.reading = Reading::Closed;
            return;
        }
        if matches!(self.writing, Writing::Idle) && !matches!(self.reading, Reading::Closed) {
            self.fail(
                StatusCode::REQUEST_TIMEOUT,
                "request took too long",
                out,
                env,
            );
        }
        self.reading = Reading::Closed;
    }

    /// The input has ended: a partial request can never complete.
    pub(crate) fn end_of_input(&mut self) {
        self.reading = Reading::Closed;
    }

    /// The server is shutting down: the request in progress (if any) is the last.
    pub(crate) fn begin_close(&mut self) {
        self.closing = true;
    }

    pub(crate) fn phase(&self) -> Phase {
        match (&self.reading, &self.writing) {
            #[cfg(feature = "websocket")]
            (Reading::Switched, _) => Phase::Upgraded,
            (_, Writing::Pending(_)) => Phase::Pending,
            (_, Writing::Stream { .. } | Writing::Reader { .. } | Writing::Channel { .. }) => {
                Phase::Streaming
            }
            (Reading::Closed, Writing::Idle) => Phase::Done,
            (Reading::Head { .. }, Writing::Idle) => Phase::Head,
            (Reading::Length { .. } | Reading::Chunked { .. }, Writing::Idle) => Phase::Body,
        }
    }

    /// Whether the connection has switched protocols.
    #[cfg(feature = "websocket")]
    #[inline]
    pub(crate) fn is_switched(&self) -> bool {
        matches!(self.reading, Reading::Switched)
    }

    /// The WebSocket the connection switched to, to run it.
    #[cfg(feature = "websocket")]
    pub(crate) fn take_upgrade(&mut self) -> Option<Box<Upgrade>> {
        self.upgrade.take()
    }

    /// Everything produced so far has been handed to the socket (or, in memory, taken).
    #[inline]
    pub(crate) fn flushed(&mut self, now: Instant) {
        self.log.flushed(now);
    }

    /// Whether the body being sent waits for pieces pushed from other threads: no
    /// output timeout applies while nothing is pending.
    pub(crate) fn awaits_push(&self) -> bool {
        matches!(self.writing, Writing::Channel { .. })
    }

    /// Blocks until a pushed piece arrives (or a while passes): for an exchange driven
    /// in memory, with no event loop to wake it.
    pub(crate) fn wait_for_push(&self) {
        if let Writing::Channel { receiver, .. } = &self.writing {
            receiver.wait(Duration::from_millis(100));
        }
    }

    /// Whether more input is useful now: not while a body streams out, nor once reading ended.
    pub(crate) fn wants_input(&self) -> bool {
        matches!(self.phase(), Phase::Head | Phase::Body)
    }
}

/// One piece of a body of unknown length, as a chunk or as it is.
fn put_piece(out: &mut BytesMut, piece: &[u8], chunked: bool) {
    if chunked {
        encode::write_chunk(out, piece);
    } else {
        out.extend_from_slice(piece);
    }
}

/// What became of a blocking job.
enum Deferred {
    /// On the pool; its response comes back through the mailbox.
    Later,
    /// Run here (in memory, with no loop): its response.
    Now(Response),
    /// The pool is full.
    Refused,
}

/// Hands a blocking job to the pool, or runs it here when there is no loop.
#[cold]
fn defer<S: Service>(job: BlockingJob<S>, env: &Env<'_, S>) -> Deferred {
    let Some(origin) = &env.origin else {
        return Deferred::Now(run_guarded(job, env.service));
    };
    let service = origin.service.clone();
    let mailbox = origin.mailbox.clone();
    let conn = origin.conn;
    let task = Box::new(move || {
        let response = run_guarded(job, &service);
        // Bounded by the pool's own queue limit, and the client must not wait forever.
        mailbox.post_reserved(Message::Respond { conn, response });
    });
    match origin.pool.submit(task) {
        Ok(()) => Deferred::Later,
        Err(_) => {
            log::warn!("the blocking pool is full; answering 503");
            Deferred::Refused
        }
    }
}

/// Hands the promise of a response to whoever will give it. In memory (no loop to
/// wake), waits for it here and returns it.
#[cold]
fn park<S: Service>(
    promise: Box<dyn FnOnce(Completion) + Send>,
    env: &Env<'_, S>,
) -> Option<Response> {
    let Some(origin) = &env.origin else {
        let slot = Arc::new(Slot::default());
        promise(Completion::in_memory(slot.clone()));
        // A test waits at most this long for an answer that never comes.
        return Some(slot.wait(Duration::from_secs(30)).unwrap_or_else(|| {
            Response::text("504 Gateway Timeout: no answer came\n")
                .with_status(StatusCode::GATEWAY_TIMEOUT)
        }));
    };
    promise(Completion::on_loop(origin.mailbox.clone(), origin.conn));
    None
}

/// Runs a job; a panic the service did not catch still gets its client an answer.
fn run_guarded<S: Service>(job: BlockingJob<S>, service: &S) -> Response {
    catch_unwind(AssertUnwindSafe(|| job(service))).unwrap_or_else(|_| {
        Response::text("500 Internal Server Error\n").with_status(StatusCode::INTERNAL_SERVER_ERROR)
    })
}

/// Feeds `reads` to one connection's HTTP/1.1 exchange, as a socket would deliver them,
/// and returns everything written (a streamed body is pulled to its end after each read).
pub(crate) fn feed<'a, S: Service>(service: &S, reads: impl Iterator<Item = &'a [u8]>) -> BytesMut {
    let date = DateCache::new();
    let limits = Limits::new(service.config());
    let env = Env {
        service,
        limits: &limits,
        date: date.as_bytes(),
        conn: ConnInfo::plain(PeerAddr::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, 1)))),
        origin: None,
    };
    let mut h1 = H1::new();
    let mut pending = Vec::new();
    let mut out = BytesMut::new();
    for piece in reads {
        pending.extend_from_slice(piece);
        loop {
            let before = out.len();
            let used = h1.advance(&mut pending, &mut out, &env);
            assert!(used <= pending.len());
            pending.drain(..used);
            if h1.phase() != Phase::Streaming {
                break;
            }
            if out.len() == before {
                h1.wait_for_push();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// A service of a few routes: the exchange is tested without the framework.
    struct Stub {
        config: Config,
    }

    impl Service for Stub {
        fn config(&self) -> &Config {
            &self.config
        }

        fn respond(&self, request: Incoming<'_>, response: &mut Response) -> Reply<Stub> {
            *response = match (request.method.as_str(), request.target) {
                ("GET", "/") => Response::text("root"),
                ("POST", "/echo") => Response::new(request.body.to_vec()),
                ("GET", "/early") => Response::empty(StatusCode::from(103)),
                _ => Response::empty(StatusCode::NOT_FOUND),
            };
            Reply::Ready
        }
    }

    fn app() -> Stub {
        Stub {
            config: Config::default(),
        }
    }

    /// Feeds `input` in pieces ending at `splits`, as reads would deliver it; returns
    /// everything written.
    fn run(app: &Stub, input: &[u8], splits: &[usize]) -> Vec<u8> {
        let ends = splits.iter().copied().chain([input.len()]);
        let starts = [0].into_iter().chain(splits.iter().copied());
        let out = feed(app, starts.zip(ends).map(|(a, b)| &input[a..b]));
        // Responses differ only if a second passed mid-test: compare without dates.
        let text = String::from_utf8(out.to_vec()).unwrap();
        text.lines()
            .filter(|l| !l.starts_with("Date: "))
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes()
    }

    const PIPELINE: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
        POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
        POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
        GET / HTTP/1.1\r\nHost: a\r\n\r\n";

    #[test]
    fn any_split_gives_the_same_responses() {
        let app = app();
        let whole = run(&app, PIPELINE, &[]);
        assert_eq!(
            String::from_utf8_lossy(&whole)
                .matches("HTTP/1.1 200 OK")
                .count(),
            4
        );
        for split in 1..PIPELINE.len() {
            assert_eq!(run(&app, PIPELINE, &[split]), whole, "split at {split}");
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let app = app();
        let splits: Vec<usize> = (1..PIPELINE.len()).collect();
        assert_eq!(run(&app, PIPELINE, &splits), run(&app, PIPELINE, &[]));
    }

    #[test]
    fn pipelined_requests_stop_at_a_close_or_an_invalid_head() {
        let app = app();
        let closing = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
            GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n\
            GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let out = String::from_utf8(run(&app, closing, &[])).unwrap();
        assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
        assert!(out.contains("Connection: close"), "{out}");
        let invalid =
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/9.9\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        let out = String::from_utf8(run(&app, invalid, &[])).unwrap();
        assert_eq!(out.matches("HTTP/1.1 ").count(), 2, "{out}");
        assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    }

    #[test]
    fn an_interim_status_from_a_handler_becomes_a_500() {
        let app = app();
        let out =
            String::from_utf8(run(&app, b"GET /early HTTP/1.1\r\nHost: a\r\n\r\n", &[])).unwrap();
        assert!(out.starts_with("HTTP/1.1 500 "), "{out}");
        assert!(out.contains("Content-Length: "));
    }

    #[test]
    fn a_trickled_head_is_refused_once_over_the_limit() {
        let mut app = app();
        app.config.max_head_size = 64;
        let mut input = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
        input.extend([b'y'; 100]);
        let splits: Vec<usize> = (30..input.len()).collect();
        let out = String::from_utf8(run(&app, &input, &splits)).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
    }
}
