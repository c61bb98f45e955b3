//! The server: the only code that does IO. One `mio::Poll` per thread, a listener token,
//! a waker token, and one token per connection from a `Slab`. With several workers each
//! loop has its own listener on the same port (`SO_REUSEPORT`), so loops share nothing
//! but the service.
//!
//! It drives the layer above through [`Service`] alone and never names the framework.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use mio::{Poll, Waker};

mod access_log;
pub(crate) mod completion;
mod conn;
mod event_loop;
pub(crate) mod h1;
mod listener;
pub(crate) mod mailbox;
mod panic;
pub(crate) mod pool;
mod service;
mod timer;
#[cfg(feature = "tls")]
mod tls;
mod transport;
#[cfg(feature = "websocket")]
pub(crate) mod websocket;

pub(crate) use panic::panic_message;
pub(crate) use service::{BlockingJob, ConnInfo, Incoming, Reply, Service};
#[cfg(feature = "tls")]
pub use tls::TlsConfig;
pub use transport::{Listen, ListenAddr, PeerAddr, ToListenAddrs};

use crate::config::Config;
use event_loop::{EventLoop, WAKER};
use mailbox::LoopHandle;
use pool::BlockingPool;
use transport::{Acceptor, Listener, Security};

/// A loop, erased to what `run` needs: the server is not generic over its service.
type LoopRun = Box<dyn FnOnce() -> io::Result<()> + Send>;

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
    loops: Vec<LoopRun>,
    /// One per listening address, in the order they were asked for.
    local_addrs: Vec<ListenAddr>,
    shutdown: ShutdownHandle,
    pool: BlockingPool,
}

/// Stops a running server from any thread: it stops accepting, finishes the requests in
/// flight (up to `shutdown_timeout`), closes idle connections, and `run` returns.
#[derive(Clone)]
pub struct ShutdownHandle {
    inner: Arc<ShutdownState>,
}

struct ShutdownState {
    requested: AtomicBool,
    loops: Vec<LoopHandle>,
}

impl ShutdownHandle {
    /// Asks every loop to shut down gracefully; returns at once.
    pub fn shutdown(&self) {
        self.inner.requested.store(true, Ordering::SeqCst);
        for handle in &self.inner.loops {
            handle.wake();
        }
    }

    /// Whether shutdown was asked for.
    pub fn is_shutdown(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }
}

impl Server {
    /// Binds every one of `listens` (none may fail) and builds the loops, each of which
    /// accepts on all of them.
    pub(crate) fn bind<S: Service>(service: S, listens: Vec<Listen>) -> io::Result<Server> {
        let config = service.config();
        let workers = match config.workers {
            0 => thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (per_loop, local_addrs) = open_listeners(listens, workers, config)?;
        let service = Arc::new(service);
        let config = service.config();
        let pool = BlockingPool::new(config.blocking_threads, config.blocking_queue);
        let mut polls = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let poll = Poll::new()?;
            // mio allows one waker per poll: the mailbox's serves shutdown as well.
            let waker = Waker::new(poll.registry(), WAKER)?;
            handles.push(LoopHandle::new(waker, config.mailbox_capacity));
            polls.push(poll);
        }
        let shutdown = ShutdownHandle {
            inner: Arc::new(ShutdownState {
                requested: AtomicBool::new(false),
                loops: handles.clone(),
            }),
        };
        let loops = polls
            .into_iter()
            .zip(per_loop)
            .zip(handles)
            .map(|((poll, listener), mailbox)| {
                let mut event_loop = EventLoop::new(
                    poll,
                    listener,
                    service.clone(),
                    mailbox,
                    pool.clone(),
                    shutdown.clone(),
                )?;
                Ok(Box::new(move || event_loop.run()) as LoopRun)
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Server {
            loops,
            local_addrs,
            shutdown,
            pool,
        })
    }

    /// The address the server listens on: the real port when bound to port 0, the path
    /// of a Unix socket, or the first socket it inherited. With several, the first.
    pub fn local_addr(&self) -> ListenAddr {
        self.local_addrs[0].clone()
    }

    /// Every address the server listens on, in the order they were given to
    /// [`App::bind_many`](crate::App::bind_many) (or inherited).
    pub fn local_addrs(&self) -> &[ListenAddr] {
        &self.local_addrs
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
        for (i, worker) in loops.enumerate() {
            let spawned = thread::Builder::new()
                .name(format!("carafe-worker-{}", i + 1))
                .spawn(worker);
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    self.shutdown.shutdown();
                    return Err(e);
                }
            }
        }
        let mut result = first();
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
        // Views still running finish on their threads; their answers find no loop.
        self.pool.close();
        result
    }
}

/// The listeners of every loop: the sockets this process inherited (`LISTEN_FDS`), if
/// any, else for each of `listens` the first of its candidates that can be bound.
/// Returns them per loop, and the addresses to report.
///
/// Inherited sockets take the place of `listens` in order: the first serves as the
/// first listen asks (HTTP or HTTPS), and so on; any beyond serve as the last.
fn open_listeners(
    listens: Vec<Listen>,
    workers: usize,
    config: &Config,
) -> io::Result<(Vec<Vec<Acceptor>>, Vec<ListenAddr>)> {
    let securities = listens
        .iter()
        .map(Listen::security)
        .collect::<io::Result<Vec<Security>>>()?;
    let mut per_loop: Vec<Vec<Acceptor>> = (0..workers).map(|_| Vec::new()).collect();
    let mut local_addrs = Vec::new();
    let inherited = listener::inherited()?;
    if !inherited.is_empty() {
        log::info!(
            "serving on {} inherited socket(s), first {}",
            inherited.len(),
            inherited[0].1
        );
        for (i, (listener, addr)) in inherited.into_iter().enumerate() {
            let security = securities
                .get(i)
                .or(securities.last())
                .cloned()
                .unwrap_or(Security::Plain);
            for (l, clone) in listener::share_inherited(listener, workers)?
                .into_iter()
                .enumerate()
            {
                per_loop[l].push(Acceptor::new(clone, security.clone()));
            }
            local_addrs.push(addr);
        }
        return Ok((per_loop, local_addrs));
    }
    if listens.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no address to listen on",
        ));
    }
    for (listen, security) in listens.into_iter().zip(securities) {
        let (listeners, local) = open_first(listen.addrs?, workers, config)?;
        for (l, listener) in listeners.into_iter().enumerate() {
            per_loop[l].push(Acceptor::new(listener, security.clone()));
        }
        local_addrs.push(local);
    }
    Ok((per_loop, local_addrs))
}

/// Listeners for every loop on the first of `candidates` that can be bound.
fn open_first(
    candidates: Vec<ListenAddr>,
    workers: usize,
    config: &Config,
) -> io::Result<(Vec<Listener>, ListenAddr)> {
    let mut last_error = None;
    for candidate in candidates {
        match listener::open(&candidate, workers, config.backlog, config.unix_socket_mode) {
            Ok(opened) => return Ok(opened),
            Err(e) => {
                last_error = Some(io::Error::new(
                    e.kind(),
                    format!("cannot listen on {candidate}: {e}"),
                ));
            }
        }
    }
    Err(last_error
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on")))
}
