//! One event loop: its `mio::Poll`, its listeners, the slab of connections, and the timers.
//! Each worker thread runs one; loops share nothing but the service.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::http::date::DateCache;
use crate::http::parse::Limits;
use crate::server::ShutdownHandle;
use crate::server::conn::{Conn, Next, Ready, Scratch};
use crate::server::h1::{Env, Origin};
use crate::server::mailbox::{ConnId, LoopHandle, Message};
use crate::server::pool::BlockingPool;
use crate::server::service::Service;
use crate::server::timer::Timers;
use crate::server::transport::Acceptor;
#[cfg(feature = "websocket")]
use crate::server::websocket::Outgoing;

pub(crate) const WAKER: Token = Token(usize::MAX - 1);
/// Listener `i` has token `FIRST_LISTENER - i`; connection keys never get this high.
const FIRST_LISTENER: usize = usize::MAX - 2;
/// At most this many listeners per loop (HTTP and HTTPS, inherited sockets...).
const MAX_LISTENERS: usize = 64;

fn listener_token(i: usize) -> Token {
    Token(FIRST_LISTENER - i)
}

/// How long accepting pauses after the process runs out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At most one report of failing accepts per this interval.
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// What every connection of a loop shares, apart from the loop's mutable state.
struct LoopContext<S> {
    service: Arc<S>,
    limits: Limits,
    mailbox: LoopHandle,
    pool: BlockingPool,
}

impl<S: Service> LoopContext<S> {
    fn config(&self) -> &crate::config::Config {
        self.service.config()
    }

    /// What the exchange of connection `key` needs for one call.
    fn env<'a>(&'a self, date: &'a DateCache, conn: &Conn, key: usize) -> Env<'a, S> {
        Env {
            service: &*self.service,
            limits: &self.limits,
            date: date.as_bytes(),
            conn: conn.info(),
            origin: Some(Origin {
                service: &self.service,
                mailbox: &self.mailbox,
                pool: &self.pool,
                conn: ConnId {
                    key,
                    serial: conn.serial,
                },
            }),
        }
    }
}

/// Whether the loop goes on after a round.
enum Turn {
    Again,
    /// Shut down and drained: `run` returns.
    Done,
}

/// One loop: its poll, listener, connections and timers.
pub(crate) struct EventLoop<S> {
    poll: Poll,
    /// Emptied when draining for shutdown: the sockets close with the loop's copies.
    listeners: Vec<Acceptor>,
    listening: bool,
    conns: Slab<Conn>,
    timers: Timers,
    scratch: Scratch,
    date: DateCache,
    ctx: LoopContext<S>,
    /// The mailbox's messages, taken in one swap; kept to reuse its allocation.
    inbox: VecDeque<Message>,
    shutdown: ShutdownHandle,
    next_serial: u64,
    /// Closed during this batch of events; freed after it, so a key is never reused
    /// while an event for its old connection may still be in the batch.
    closed: Vec<usize>,
    /// Connections that used their read budget and must be revisited without an event.
    yielded: Vec<usize>,
    revisit: Vec<usize>,
    /// Connections with WebSocket output queued by this mailbox batch, to write once each.
    #[cfg(feature = "websocket")]
    queued: Vec<usize>,
    accept_paused_until: Option<Instant>,
    /// When accept errors were last logged, and how many failed since: a burst of
    /// EMFILE is reported once, not on every retry.
    accept_errors_logged: Option<Instant>,
    accept_errors_since: u64,
    drain_deadline: Option<Instant>,
}

impl<S: Service> EventLoop<S> {
    pub(crate) fn new(
        poll: Poll,
        mut listeners: Vec<Acceptor>,
        service: Arc<S>,
        mailbox: LoopHandle,
        pool: BlockingPool,
        shutdown: ShutdownHandle,
    ) -> io::Result<EventLoop<S>> {
        if listeners.len() > MAX_LISTENERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("at most {MAX_LISTENERS} listening sockets"),
            ));
        }
        for (i, acceptor) in listeners.iter_mut().enumerate() {
            poll.registry().register(
                &mut acceptor.listener,
                listener_token(i),
                Interest::READABLE,
            )?;
        }
        Ok(EventLoop {
            poll,
            listeners,
            listening: true,
            conns: Slab::with_capacity(1024),
            timers: Timers::default(),
            scratch: Scratch::new(),
            date: DateCache::new(),
            ctx: LoopContext {
                limits: Limits::new(service.config()),
                service,
                mailbox,
                pool,
            },
            inbox: VecDeque::new(),
            shutdown,
            next_serial: 0,
            closed: Vec::new(),
            yielded: Vec::new(),
            revisit: Vec::new(),
            #[cfg(feature = "websocket")]
            queued: Vec::new(),
            accept_paused_until: None,
            accept_errors_logged: None,
            accept_errors_since: 0,
            drain_deadline: None,
        })
    }

    pub(crate) fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Turn::Done = self.turn(&mut events, timeout)? {
                return Ok(());
            }
        }
    }

    /// One round: waits for events (at most `timeout`), acts on them, the timers and the
    /// shutdown flag.
    #[inline]
    fn turn(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<Turn> {
        if let Err(e) = self.poll.poll(events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(Turn::Again);
            }
            return Err(e);
        }
        let now = Instant::now();
        self.date.update(now);
        for event in events.iter() {
            match event.token() {
                WAKER => self.read_mailbox(now),
                Token(n) if n > FIRST_LISTENER - MAX_LISTENERS => {
                    self.accept(FIRST_LISTENER - n, now)
                }
                Token(key) => {
                    let ready = Ready {
                        readable: event.is_readable(),
                        writable: event.is_writable(),
                        read_closed: event.is_read_closed() || event.is_error(),
                    };
                    self.conn_ready(key, ready, now);
                }
            }
        }
        // Swap with a spare list rather than take: no allocation once both have grown.
        std::mem::swap(&mut self.yielded, &mut self.revisit);
        for i in 0..self.revisit.len() {
            self.conn_ready(self.revisit[i], Ready::default(), now);
        }
        self.revisit.clear();
        self.expire_timers(now);
        if self.shutdown.is_shutdown() && self.drain_deadline.is_none() {
            self.begin_drain(now);
        }
        self.free_closed();
        if let Some(deadline) = self.drain_deadline
            && (self.conns.is_empty() || now >= deadline)
        {
            // Whatever is still open is cut off: its handlers hear of it.
            for (_, conn) in self.conns.iter_mut() {
                conn.on_close();
            }
            return Ok(Turn::Done);
        }
        self.resume_accepting(now);
        Ok(Turn::Again)
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.yielded.is_empty() {
            return Some(Duration::ZERO);
        }
        let next = [
            self.timers.next_due(),
            self.accept_paused_until,
            self.drain_deadline,
        ]
        .into_iter()
        .flatten()
        .min()?;
        // Round up so a deadline never wakes the loop a moment too early.
        Some(next.saturating_duration_since(Instant::now()) + Duration::from_millis(1))
    }

    fn accept(&mut self, index: usize, now: Instant) {
        loop {
            if !self.listening {
                return;
            }
            if self.conns.len() >= self.ctx.config().max_connections {
                // At the limit: stop accepting until a connection closes (no busy loop).
                self.pause_accepting(None);
                return;
            }
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            match listener.accept() {
                Ok((mut socket, peer)) => {
                    let entry = self.conns.vacant_entry();
                    let key = entry.key();
                    if let Err(e) =
                        self.poll
                            .registry()
                            .register(&mut socket, Token(key), Interest::READABLE)
                    {
                        log::warn!("could not register a connection: {e}");
                        continue;
                    }
                    self.next_serial += 1;
                    let conn = entry.insert(Conn::new(socket, peer, self.next_serial, now));
                    if let Some(deadline) = conn.deadline(self.ctx.config()) {
                        self.timers
                            .schedule(&mut conn.timer, deadline, key, conn.serial);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS...: the connection waits in the backlog. Back
                    // off instead of spinning on a listener that stays readable.
                    self.accept_errors_since += 1;
                    if self
                        .accept_errors_logged
                        .is_none_or(|at| now.duration_since(at) >= ACCEPT_ERROR_LOG_INTERVAL)
                    {
                        log::error!(
                            "accept failed: {e}; pausing accepts for {ACCEPT_BACKOFF:?} \
                             ({} failures since the last report)",
                            self.accept_errors_since
                        );
                        self.accept_errors_logged = Some(now);
                        self.accept_errors_since = 0;
                    }
                    self.pause_accepting(Some(now + ACCEPT_BACKOFF));
                    return;
                }
            }
        }
    }

    fn pause_accepting(&mut self, until: Option<Instant>) {
        if self.listening {
            for acceptor in &mut self.listeners {
                let _ = self.poll.registry().deregister(&mut acceptor.listener);
            }
            self.listening = false;
        }
        self.accept_paused_until = until;
    }

    fn resume_accepting(&mut self, now: Instant) {
        if self.listening || self.conns.len() >= self.ctx.config().max_connections {
            return;
        }
        if self.accept_paused_until.is_some_and(|until| now < until) {
            return;
        }
        if self.listeners.is_empty() {
            return;
        }
        let registry = self.poll.registry();
        let registered = self
            .listeners
            .iter_mut()
            .enumerate()
            .try_for_each(|(i, a)| {
                registry.register(&mut a.listener, listener_token(i), Interest::READABLE)
            });
        match registered {
            Ok(()) => {
                self.listening = true;
                self.accept_paused_until = None;
                // Registering reports a backlog that is already waiting; accept it now anyway.
                for i in 0..self.listeners.len() {
                    self.accept(i, now);
                }
            }
            Err(e) => {
                log::error!("could not resume accepting: {e}");
                for acceptor in &mut self.listeners {
                    let _ = self.poll.registry().deregister(&mut acceptor.listener);
                }
                self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
            }
        }
    }

    fn conn_ready(&mut self, key: usize, ready: Ready, now: Instant) {
        let Some(conn) = self.conns.get_mut(key) else {
            return; // a stale token: tolerated, as mio's docs ask
        };
        if conn.closed {
            return;
        }
        let env = self.ctx.env(&self.date, conn, key);
        let next = conn.on_ready(ready, &mut self.scratch, &env, self.ctx.config(), now);
        self.after(key, next);
    }

    /// Acts on what other threads posted: responses from the blocking pool, wake-ups
    /// for pushed bodies. A message for a connection that has closed (its key now free
    /// or another's) is dropped.
    fn read_mailbox(&mut self, now: Instant) {
        let mut inbox = std::mem::take(&mut self.inbox);
        self.ctx.mailbox.drain_into(&mut inbox);
        // Several messages at once: the loop is behind (a burst of broadcasts). WebSocket
        // output then gathers per connection and goes out in one write each, after the
        // batch, so the loop catches up instead of making a system call per message.
        #[cfg(feature = "websocket")]
        let gather = inbox.len() > 1;
        for message in inbox.drain(..) {
            match message {
                Message::Wake { conn } if self.is_open(conn) => {
                    self.conn_ready(conn.key, Ready::default(), now)
                }
                Message::Respond { conn, response } if self.is_open(conn) => {
                    let c = &mut self.conns[conn.key];
                    let env = self.ctx.env(&self.date, c, conn.key);
                    let next =
                        c.on_respond(response, &mut self.scratch, &env, self.ctx.config(), now);
                    self.after(conn.key, next);
                }
                #[cfg(feature = "websocket")]
                Message::WsSend { conn, outgoing } if self.is_open(conn) => {
                    self.ws_send(conn, outgoing, gather, now);
                }
                #[cfg(feature = "websocket")]
                Message::WsBroadcast { conns, frames } => {
                    for conn in conns {
                        if self.is_open(conn) {
                            self.ws_send(conn, Outgoing::Frames(frames.clone()), gather, now);
                        }
                    }
                }
                _ => {} // for a connection that has closed
            }
        }
        self.inbox = inbox;
        #[cfg(feature = "websocket")]
        self.flush_queued(now);
    }

    /// Writes the WebSocket output a mailbox batch gathered, once per connection.
    #[cfg(feature = "websocket")]
    fn flush_queued(&mut self, now: Instant) {
        let mut queued = std::mem::take(&mut self.queued);
        for key in queued.drain(..) {
            let c = &mut self.conns[key];
            c.queued = false;
            if c.closed {
                continue;
            }
            let env = self.ctx.env(&self.date, c, key);
            let next = c.flush_queued(&mut self.scratch, &env, self.ctx.config(), now);
            self.after(key, next);
        }
        self.queued = queued;
    }

    /// Whether `conn` still names an open connection (not a later one on its key).
    fn is_open(&self, conn: ConnId) -> bool {
        self.conns
            .get(conn.key)
            .is_some_and(|c| c.serial == conn.serial && !c.closed)
    }

    #[cfg(feature = "websocket")]
    fn ws_send(&mut self, conn: ConnId, outgoing: Outgoing, gather: bool, now: Instant) {
        let c = &mut self.conns[conn.key];
        if gather {
            if c.queue_ws(outgoing, now) && !c.queued {
                c.queued = true;
                self.queued.push(conn.key);
            }
            return;
        }
        let env = self.ctx.env(&self.date, c, conn.key);
        let next = c.on_ws_send(outgoing, &mut self.scratch, &env, self.ctx.config(), now);
        self.after(conn.key, next);
    }

    fn expire_timers(&mut self, now: Instant) {
        while let Some((at, key, serial)) = self.timers.pop_due(now) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if conn.serial != serial || conn.closed || conn.timer != Some(at) {
                continue; // superseded by an earlier entry, or another connection's
            }
            conn.timer = None;
            match conn.deadline(self.ctx.config()) {
                None => continue,
                Some(deadline) if deadline > now => {
                    self.timers.schedule(&mut conn.timer, deadline, key, serial);
                    continue;
                }
                Some(_) => {}
            }
            let env = self.ctx.env(&self.date, conn, key);
            let next = conn.on_timeout(&mut self.scratch, &env, self.ctx.config(), now);
            self.after(key, next);
        }
    }

    /// Files what a connection needs next: its interest, its deadline, or its closing.
    fn after(&mut self, key: usize, next: Next) {
        let conn = &mut self.conns[key];
        let next = if self.drain_deadline.is_some() && conn.is_idle() {
            Next::Close
        } else {
            next
        };
        if next == Next::Close {
            conn.closed = true;
            self.closed.push(key);
            return;
        }
        let interest = conn.interest();
        if interest != conn.registered {
            match self
                .poll
                .registry()
                .reregister(&mut conn.socket, Token(key), interest)
            {
                Ok(()) => conn.registered = interest,
                Err(_) => {
                    conn.closed = true;
                    self.closed.push(key);
                    return;
                }
            }
        }
        if conn.yielded {
            self.yielded.push(key);
        }
        if let Some(deadline) = conn.deadline(self.ctx.config()) {
            self.timers
                .schedule(&mut conn.timer, deadline, key, conn.serial);
        }
    }

    fn free_closed(&mut self) {
        for key in self.closed.drain(..) {
            // Dropping the socket closes it, which also removes it from the poll.
            if let Some(mut conn) = self.conns.try_remove(key) {
                conn.on_close();
            }
        }
    }

    /// Stops accepting; idle connections close now, the rest after their request.
    fn begin_drain(&mut self, now: Instant) {
        self.drain_deadline = Some(now + self.ctx.config().shutdown_timeout);
        for mut acceptor in std::mem::take(&mut self.listeners) {
            if self.listening {
                let _ = self.poll.registry().deregister(&mut acceptor.listener);
            }
        }
        self.listening = false;
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let conn = &mut self.conns[key];
            if conn.closed {
                continue;
            }
            let next = conn.begin_close(now);
            self.after(key, next);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{ErrorKind, Read, Write};
    use std::net::TcpStream;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::config::Config;
    use crate::http::response::Response;
    use crate::server::ShutdownState;
    use crate::server::completion::Completion;
    use crate::server::listener;
    use crate::server::service::{Incoming, Reply};
    use crate::server::transport::{ListenAddr, Security};

    /// Answers every request later: the test keeps the promises and answers them.
    struct Later {
        config: Config,
        promises: Arc<Mutex<Vec<Completion>>>,
    }

    impl Service for Later {
        fn config(&self) -> &Config {
            &self.config
        }

        fn respond(&self, _: Incoming<'_>, _: &mut Response) -> Reply<Later> {
            let promises = self.promises.clone();
            Reply::Later(Box::new(move |promise| {
                promises.lock().unwrap().push(promise)
            }))
        }
    }

    /// A loop on a free port, driven round by round by the test, and its address.
    fn event_loop(
        promises: &Arc<Mutex<Vec<Completion>>>,
    ) -> (EventLoop<Later>, LoopHandle, std::net::SocketAddr) {
        let any = ListenAddr::Tcp(([127, 0, 0, 1], 0).into());
        let (mut listeners, local) = listener::open(&any, 1, 16, None).unwrap();
        let poll = Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), WAKER).unwrap();
        let mailbox = LoopHandle::new(waker, 16);
        let shutdown = ShutdownHandle {
            inner: Arc::new(ShutdownState {
                requested: AtomicBool::new(false),
                loops: vec![mailbox.clone()],
            }),
        };
        let service = Later {
            config: Config::default(),
            promises: promises.clone(),
        };
        let event_loop = EventLoop::new(
            poll,
            vec![Acceptor::new(listeners.remove(0), Security::Plain)],
            Arc::new(service),
            mailbox.clone(),
            BlockingPool::new(1, 0),
            shutdown,
        )
        .unwrap();
        (event_loop, mailbox, local.tcp().unwrap())
    }

    /// Runs rounds until `done` holds (a few seconds at most).
    fn turn_until(
        event_loop: &mut EventLoop<Later>,
        mut done: impl FnMut(&EventLoop<Later>) -> bool,
    ) {
        let mut events = Events::with_capacity(64);
        for _ in 0..500 {
            if done(event_loop) {
                return;
            }
            event_loop
                .turn(&mut events, Some(Duration::from_millis(10)))
                .unwrap();
        }
        panic!("the loop never got there");
    }

    /// The one open connection: its key and serial.
    fn only_conn(event_loop: &EventLoop<Later>) -> (usize, u64) {
        assert_eq!(event_loop.conns.len(), 1);
        let (key, conn) = event_loop.conns.iter().next().unwrap();
        (key, conn.serial)
    }

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn a_late_answer_for_a_closed_connection_skips_the_one_on_its_key() {
        let promises = Arc::new(Mutex::new(Vec::new()));
        let (mut event_loop, mailbox, addr) = event_loop(&promises);
        let waiting = || promises.lock().unwrap().len();

        let mut first = TcpStream::connect(addr).unwrap();
        first.write_all(REQUEST).unwrap();
        turn_until(&mut event_loop, |_| waiting() == 1);
        let (first_key, first_serial) = only_conn(&event_loop);
        // The client leaves while its answer is pending; the loop notices and frees the key.
        drop(first);
        turn_until(&mut event_loop, |l| l.conns.is_empty());

        let mut second = TcpStream::connect(addr).unwrap();
        second.write_all(REQUEST).unwrap();
        turn_until(&mut event_loop, |_| waiting() == 2);
        let (second_key, second_serial) = only_conn(&event_loop);
        assert_eq!(second_key, first_key, "the slab key was reused");
        assert_ne!(second_serial, first_serial);

        // The first connection's answer arrives: it names the key the second one waits on.
        let stale = promises.lock().unwrap().remove(0);
        stale.complete(Response::text("for the first client"));
        turn_until(&mut event_loop, |_| mailbox.len() == 0);
        second.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4096];
        match second.read(&mut buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Ok(n) => panic!(
                "the second client was sent {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => panic!("read: {e}"),
        }

        // Its own answer still reaches it.
        let own = promises.lock().unwrap().remove(0);
        own.complete(Response::text("for the second client"));
        let mut received = Vec::new();
        turn_until(&mut event_loop, |_| {
            match second.read(&mut buf) {
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("read: {e}"),
            }
            received.ends_with(b"for the second client")
        });
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(!text.contains("first"), "{text}");
    }
}
