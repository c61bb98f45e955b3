//! Serving an app: on one address (`run`, `bind`), or on several at once (`run_many`,
//! `bind_many`).

use std::io;

use crate::server::{Listen, ListenAddr, Server, ToListenAddrs};
use crate::web::app::App;
use crate::web::fault;

impl App {
    /// Binds `addr`, serves until SIGINT or SIGTERM, then finishes requests in flight
    /// (like Flask's `app.run(host, port)`). `addr` is a socket address
    /// (`"127.0.0.1:5000"`) or a Unix socket (`"unix:/run/app.sock"`); a process started
    /// with listening sockets (systemd socket activation, `systemfd`) serves on those.
    ///
    /// Bind errors (address in use, permission denied) are returned, naming the address.
    pub fn run(self, addr: impl ToListenAddrs) -> io::Result<()> {
        self.run_many([Listen::http(addr)])
    }

    /// Binds `addr` and returns the server without running it: read
    /// [`Server::local_addr`] (port 0 picks a free port), take a
    /// [`Server::shutdown_handle`], then call [`Server::run`].
    ///
    /// A misconfiguration is refused here, once, rather than failing request after
    /// request: an empty secret key, or none for an app that keeps sessions (see
    /// `App::sessions`), is an `InvalidInput` error naming `secret_key`.
    pub fn bind(self, addr: impl ToListenAddrs) -> io::Result<Server> {
        self.bind_many([Listen::http(addr)])
    }

    /// Serves on every one of `listens` at once, as [`run`](App::run) does on one: each
    /// loop accepts on all of them, so they share the loops, the blocking pool and the
    /// app.
    ///
    /// ```no_run
    /// use carafe::{App, Listen, Request};
    ///
    /// let mut app = App::new();
    /// app.get("/", |_: &Request| "hi");
    /// app.run_many([Listen::http("0.0.0.0:8080"), Listen::http("unix:/run/app.sock")])?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn run_many(self, listens: impl IntoIterator<Item = Listen>) -> io::Result<()> {
        let debug = self.config().debug;
        let server = self.bind_many(listens)?;
        #[cfg(feature = "signals")]
        server.shutdown_on_signals()?;
        for addr in server.local_addrs() {
            match addr {
                ListenAddr::Tcp(addr) => {
                    eprintln!(" * Running on http://{addr}/ (Press CTRL+C to quit)")
                }
                unix => eprintln!(" * Running on {unix} (Press CTRL+C to quit)"),
            }
        }
        if debug {
            eprintln!("{}", crate::web::debug::BANNER);
        }
        server.run()
    }

    /// Binds every one of `listens` and returns the server without running it, as
    /// [`bind`](App::bind) does for one; [`Server::local_addrs`] lists the addresses in
    /// the same order. If one cannot be bound, none is.
    pub fn bind_many(
        #[allow(unused_mut)] mut self,
        listens: impl IntoIterator<Item = Listen>,
    ) -> io::Result<Server> {
        #[cfg(feature = "sessions")]
        self.check_sessions()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        fault::watch_panics(self.config().debug);
        #[cfg(feature = "templates")]
        self.sync_template_reload();
        Server::bind(self, listens.into_iter().collect())
    }
}
