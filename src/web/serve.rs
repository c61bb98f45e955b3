//! Serving an app: on one address (`run`, `bind`), over HTTPS (`run_tls`, `bind_tls`),
//! on several addresses at once, plain and TLS (`run_many`, `bind_many`), or where the
//! environment says (`run_from_env`, what the examples call).

use std::io;

#[cfg(feature = "tls")]
use crate::server::TlsConfig;
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

    /// Serves HTTPS on `addr` as [`run`](App::run) serves HTTP (Flask's
    /// `app.run(ssl_context=("cert.pem", "key.pem"))`, or `ssl_context="adhoc"` with
    /// [`TlsConfig::adhoc`], whose fingerprint is printed at start-up).
    ///
    /// ```no_run
    /// use carafe::{App, Request, TlsConfig};
    ///
    /// let mut app = App::new();
    /// app.get("/", |req: &Request| format!("hello over {}", req.scheme()));
    /// app.run_tls("127.0.0.1:8443", TlsConfig::from_pem_files("cert.pem", "key.pem")?)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn run_tls(self, addr: impl ToListenAddrs, tls: TlsConfig) -> io::Result<()> {
        self.run_many([Listen::https(addr, tls)])
    }

    /// Binds `addr` for HTTPS and returns the server without running it, as
    /// [`bind`](App::bind) does for HTTP.
    #[cfg(feature = "tls")]
    pub fn bind_tls(self, addr: impl ToListenAddrs, tls: TlsConfig) -> io::Result<Server> {
        self.bind_many([Listen::https(addr, tls)])
    }

    /// Serves on every one of `listens` at once, as [`run`](App::run) does on one: each
    /// loop accepts on all of them, so HTTP and HTTPS share the loops, the blocking pool
    /// and the app.
    ///
    /// ```no_run
    /// # #[cfg(feature = "tls")] {
    /// use carafe::{App, Listen, Request, TlsConfig};
    ///
    /// let mut app = App::new();
    /// app.get("/", |req: &Request| req.scheme());
    /// app.run_many([
    ///     Listen::http("0.0.0.0:8080"),
    ///     Listen::https("0.0.0.0:8443", TlsConfig::from_pem_files("cert.pem", "key.pem")?),
    /// ])?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn run_many(self, listens: impl IntoIterator<Item = Listen>) -> io::Result<()> {
        let debug = self.config().debug;
        let listens: Vec<Listen> = listens.into_iter().collect();
        let schemes: Vec<&str> = listens
            .iter()
            .map(|l| if l.is_tls() { "https" } else { "http" })
            .collect();
        #[cfg(feature = "tls")]
        let adhoc = listens
            .iter()
            .filter_map(|l| l.tls.as_ref())
            .find(|tls| tls.is_adhoc())
            .map(TlsConfig::fingerprint);
        let server = self.bind_many(listens)?;
        #[cfg(feature = "signals")]
        server.shutdown_on_signals()?;
        for (i, addr) in server.local_addrs().iter().enumerate() {
            // Inherited sockets beyond the listens asked for serve as the last.
            let scheme = schemes.get(i).or(schemes.last()).copied().unwrap_or("http");
            match addr {
                ListenAddr::Tcp(addr) => {
                    eprintln!(" * Running on {scheme}://{addr}/ (Press CTRL+C to quit)")
                }
                unix => eprintln!(" * Running on {unix} ({scheme}) (Press CTRL+C to quit)"),
            }
        }
        #[cfg(feature = "tls")]
        if let Some(fingerprint) = adhoc {
            eprintln!(
                " * Using a self-signed development certificate (adhoc), SHA-256 fingerprint\n   \
                 {fingerprint}"
            );
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

    /// Serves where the environment says, as the examples do: on `HOST` (default
    /// `127.0.0.1`) and `PORT` (default `default_port`), or `HOST=unix:/path/app.sock`
    /// for a Unix domain socket (`PORT` is then ignored); over HTTPS when `TLS_CERT` and
    /// `TLS_KEY` name PEM files, or with a development certificate when `TLS_CERT=adhoc`
    /// (as `TlsConfig::from_env` reads them). Without the `tls` feature, a set
    /// `TLS_CERT` is an error rather than silently plain HTTP. Settings come from
    /// `CARAFE_*` variables on top of the app's own ([`Config::apply_env`](crate::Config::apply_env)):
    /// `CARAFE_WORKERS`, `CARAFE_PROXY_X_FOR` and the other trusted-proxy counts, and so on.
    ///
    /// ```no_run
    /// use carafe::{App, Request};
    ///
    /// let mut app = App::new();
    /// app.get("/", |_: &Request| "Hello, World!");
    /// // PORT=8443 TLS_CERT=adhoc cargo run --features tls --example hello
    /// app.run_from_env(5000)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn run_from_env(mut self, default_port: u16) -> io::Result<()> {
        self.config_mut()
            .apply_env("CARAFE")
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let addr = listen_addr_from_env(default_port);
        #[cfg(feature = "tls")]
        if let Some(tls) = TlsConfig::from_env()? {
            return self.run_tls(addr, tls);
        }
        #[cfg(not(feature = "tls"))]
        if std::env::var_os("TLS_CERT").is_some_and(|c| !c.is_empty()) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS_CERT is set, but carafe was built without its `tls` feature",
            ));
        }
        self.run(addr)
    }
}

/// `HOST` and `PORT` as one address: `unix:/path` as it is, an IPv6 literal bracketed.
fn listen_addr_from_env(default_port: u16) -> String {
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    if host.starts_with("unix:") {
        return host;
    }
    let port = std::env::var("PORT").unwrap_or_else(|_| default_port.to_string());
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
