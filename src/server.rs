//! The event loop: one `mio::Poll` per thread, a listener token, a waker token, and one
//! token per connection from a `Slab`. With several workers each loop has its own
//! listener on the same port (`SO_REUSEPORT`), so loops share nothing but the app.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::app::App;
use crate::conn::{Conn, Next, Ready, Scratch};
use crate::date::DateCache;
use crate::h1::Env;
use crate::parse::Limits;
use crate::timer::Timers;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);

/// How long accepting pauses after the process runs out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At most one report of failing accepts per this interval.
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// A bound server, ready to [`run`](Server::run).
///
/// ```
/// use carafe::{App, Request};
/// use std::io::{Read, Write};
///
/// let mut app = App::new();
/// app.get("/", |_: &Request| "hi");
/// let server = app.bind("127.0.0.1:0").unwrap();
/// let addr = server.local_addr();
/// let stop = server.shutdown_handle();
/// let thread = std::thread::spawn(move || server.run());
///
/// let mut stream = std::net::TcpStream::connect(addr).unwrap();
/// stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
/// let mut response = String::new();
/// stream.read_to_string(&mut response).unwrap();
/// assert!(response.starts_with("HTTP/1.1 200 OK"));
///
/// stop.shutdown();
/// thread.join().unwrap().unwrap();
/// ```
pub struct Server {
    loops: Vec<EventLoop>,
    local_addr: SocketAddr,
    shutdown: ShutdownHandle,
}

/// Stops a running server from any thread: it stops accepting, finishes the requests in
/// flight (up to `shutdown_timeout`), closes idle connections, and `run` returns.
#[derive(Clone)]
pub struct ShutdownHandle {
    inner: Arc<ShutdownState>,
}

struct ShutdownState {
    requested: AtomicBool,
    wakers: Vec<Waker>,
}

impl ShutdownHandle {
    /// Asks every loop to shut down gracefully; returns at once.
    pub fn shutdown(&self) {
        self.inner.requested.store(true, Ordering::SeqCst);
        for waker in &self.inner.wakers {
            if let Err(e) = waker.wake() {
                log::error!("could not wake an event loop for shutdown: {e}");
            }
        }
    }

    /// Whether shutdown was asked for.
    pub fn is_shutdown(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }
}

impl Server {
    pub(crate) fn bind(app: App, addr: impl ToSocketAddrs) -> io::Result<Server> {
        let workers = match app.config().workers {
            0 => thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let backlog = app.config().backlog;
        let mut last_error = None;
        let mut first = None;
        for candidate in addr.to_socket_addrs()? {
            match listen(candidate, workers > 1, backlog) {
                Ok(listener) => {
                    first = Some(listener);
                    break;
                }
                Err(e) => {
                    last_error = Some(io::Error::new(
                        e.kind(),
                        format!("cannot listen on {candidate}: {e}"),
                    ));
                }
            }
        }
        let first = match (first, last_error) {
            (Some(listener), _) => listener,
            (None, Some(e)) => return Err(e),
            (None, None) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "no address to listen on",
                ));
            }
        };
        let local_addr = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..workers {
            // Own listeners let the kernel spread connections; where SO_REUSEPORT is not
            // available, the loops share one listening socket instead.
            let listener = match listen(local_addr, true, backlog) {
                Ok(listener) => listener,
                Err(_) => listeners[0].try_clone()?,
            };
            listeners.push(listener);
        }

        let app = Arc::new(app);
        let mut polls = Vec::with_capacity(workers);
        let mut wakers = Vec::with_capacity(workers);
        for _ in 0..workers {
            let poll = Poll::new()?;
            wakers.push(Waker::new(poll.registry(), WAKER)?);
            polls.push(poll);
        }
        let shutdown = ShutdownHandle {
            inner: Arc::new(ShutdownState {
                requested: AtomicBool::new(false),
                wakers,
            }),
        };
        let loops = polls
            .into_iter()
            .zip(listeners)
            .map(|(poll, listener)| EventLoop::new(poll, listener, app.clone(), shutdown.clone()))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Server {
            loops,
            local_addr,
            shutdown,
        })
    }

    /// The address the server listens on (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Number of event loops (threads) this server runs.
    pub fn workers(&self) -> usize {
        self.loops.len()
    }

    /// Shuts down gracefully on SIGINT or SIGTERM (a background thread waits for them).
    #[cfg(feature = "signals")]
    pub fn shutdown_on_signals(&self) -> io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        let handle = self.shutdown_handle();
        thread::Builder::new()
            .name("carafe-signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    log::info!("signal {signal}: shutting down");
                    handle.shutdown();
                }
            })?;
        Ok(())
    }

    /// Serves until shut down; runs the first loop on this thread and the others on
    /// threads of their own. Returns the first error any loop met.
    pub fn run(self) -> io::Result<()> {
        let mut loops = self.loops.into_iter();
        let first = loops.next().expect("a server has at least one loop");
        let mut threads = Vec::new();
        for (i, mut worker) in loops.enumerate() {
            let spawned = thread::Builder::new()
                .name(format!("carafe-worker-{}", i + 1))
                .spawn(move || worker.run());
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    self.shutdown.shutdown();
                    return Err(e);
                }
            }
        }
        let mut first = first;
        let mut result = first.run();
        if result.is_err() {
            self.shutdown.shutdown();
        }
        for thread in threads {
            let joined = thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("an event loop panicked")));
            if result.is_ok() {
                result = joined;
            }
        }
        result
    }
}

/// Binds a nonblocking listener; `reuse_port` lets several loops bind the same address.
fn listen(addr: SocketAddr, reuse_port: bool, backlog: u32) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Restarts can bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if reuse_port {
        #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
        socket.set_reuse_port(true)?;
        #[cfg(not(all(unix, not(any(target_os = "solaris", target_os = "illumos")))))]
        return Err(io::Error::new(io::ErrorKind::Unsupported, "SO_REUSEPORT"));
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// One loop: its poll, listener, connections and timers.
struct EventLoop {
    poll: Poll,
    listener: Option<TcpListener>,
    listening: bool,
    conns: Slab<Conn>,
    timers: Timers,
    scratch: Scratch,
    date: DateCache,
    app: Arc<App>,
    limits: Limits,
    shutdown: ShutdownHandle,
    next_serial: u64,
    /// Closed during this batch of events; freed after it, so a key is never reused
    /// while an event for its old connection may still be in the batch.
    closed: Vec<usize>,
    /// Connections that used their read budget and must be revisited without an event.
    yielded: Vec<usize>,
    revisit: Vec<usize>,
    accept_paused_until: Option<Instant>,
    /// When accept errors were last logged, and how many failed since: a burst of
    /// EMFILE is reported once, not on every retry.
    accept_errors_logged: Option<Instant>,
    accept_errors_since: u64,
    drain_deadline: Option<Instant>,
}

impl EventLoop {
    fn new(
        poll: Poll,
        listener: std::net::TcpListener,
        app: Arc<App>,
        shutdown: ShutdownHandle,
    ) -> io::Result<EventLoop> {
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(EventLoop {
            poll,
            listener: Some(listener),
            listening: true,
            conns: Slab::with_capacity(1024),
            timers: Timers::default(),
            scratch: Scratch::new(),
            date: DateCache::new(),
            limits: Limits::new(app.config()),
            app,
            shutdown,
            next_serial: 0,
            closed: Vec::new(),
            yielded: Vec::new(),
            revisit: Vec::new(),
            accept_paused_until: None,
            accept_errors_logged: None,
            accept_errors_since: 0,
            drain_deadline: None,
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = Instant::now();
            self.date.update(now);
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now),
                    WAKER => {}
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
                return Ok(());
            }
            self.resume_accepting(now);
        }
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

    fn accept(&mut self, now: Instant) {
        loop {
            if !self.listening {
                return;
            }
            if self.conns.len() >= self.app.config().max_connections {
                // At the limit: stop accepting until a connection closes (no busy loop).
                self.pause_accepting(None);
                return;
            }
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((mut socket, peer)) => {
                    // Responses are written whole; Nagle would only delay them.
                    let _ = socket.set_nodelay(true);
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
                    let deadline = conn.deadline(self.app.config());
                    self.timers
                        .schedule(&mut conn.timer, deadline, key, conn.serial);
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
        if let Some(listener) = &mut self.listener
            && self.listening
        {
            let _ = self.poll.registry().deregister(listener);
            self.listening = false;
        }
        self.accept_paused_until = until;
    }

    fn resume_accepting(&mut self, now: Instant) {
        if self.listening || self.conns.len() >= self.app.config().max_connections {
            return;
        }
        if self.accept_paused_until.is_some_and(|until| now < until) {
            return;
        }
        let Some(listener) = &mut self.listener else {
            return;
        };
        match self
            .poll
            .registry()
            .register(listener, LISTENER, Interest::READABLE)
        {
            Ok(()) => {
                self.listening = true;
                self.accept_paused_until = None;
                // Registering reports a backlog that is already waiting; accept it now anyway.
                self.accept(now);
            }
            Err(e) => {
                log::error!("could not resume accepting: {e}");
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
        let env = Env {
            app: &self.app,
            limits: &self.limits,
            date: self.date.as_bytes(),
            peer: conn.peer(),
        };
        let next = conn.on_ready(ready, &mut self.scratch, &env, self.app.config(), now);
        self.after(key, next);
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
            let deadline = conn.deadline(self.app.config());
            if deadline > now {
                self.timers.schedule(&mut conn.timer, deadline, key, serial);
                continue;
            }
            let env = Env {
                app: &self.app,
                limits: &self.limits,
                date: self.date.as_bytes(),
                peer: conn.peer(),
            };
            let next = conn.on_timeout(&mut self.scratch, &env, self.app.config(), now);
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
        let deadline = conn.deadline(self.app.config());
        self.timers
            .schedule(&mut conn.timer, deadline, key, conn.serial);
    }

    fn free_closed(&mut self) {
        for key in self.closed.drain(..) {
            // Dropping the socket closes it, which also removes it from the poll.
            self.conns.try_remove(key);
        }
    }

    /// Stops accepting; idle connections close now, the rest after their request.
    fn begin_drain(&mut self, now: Instant) {
        self.drain_deadline = Some(now + self.app.config().shutdown_timeout);
        if let Some(mut listener) = self.listener.take()
            && self.listening
        {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.listening = false;
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let conn = &mut self.conns[key];
            if conn.closed {
                continue;
            }
            let next = conn.begin_close();
            self.after(key, next);
        }
    }
}
