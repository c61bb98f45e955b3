//! Limits, timeouts and secrets, in one typed struct.

use std::fmt;
use std::time::Duration;

/// Everything that bounds what a client may make the server do, plus the app's secret key.
///
/// Every limit is checked where a buffer grows; every timeout is a deadline in the loop's
/// timer. The defaults suit a public server; change them with struct update syntax or
/// [`Config::from_env`].
///
/// ```
/// use carafe::{App, Config};
/// use std::time::Duration;
///
/// let config = Config {
///     max_body_size: 1 << 20,
///     keep_alive_timeout: Duration::from_secs(30),
///     ..Config::default()
/// };
/// let app = App::new().with_config(config);
/// assert_eq!(app.config().max_body_size, 1 << 20);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest request head (request line and fields) in bytes; larger → 431.
    pub max_head_size: usize,
    /// Most header fields in one request; more → 431. The first 32 are parsed into
    /// slots on the stack; a head with more is parsed again into `max_headers` slots
    /// on the heap.
    pub max_headers: usize,
    /// Longest request-target in bytes; longer → 414.
    pub max_uri_len: usize,
    /// Largest request body in bytes (Flask's `MAX_CONTENT_LENGTH`); larger → 413.
    pub max_body_size: usize,
    /// Time allowed for a whole request head to arrive, from its first byte; then 408.
    pub head_timeout: Duration,
    /// Time allowed between two reads of a request body; then 408.
    pub body_timeout: Duration,
    /// How long an idle keep-alive connection is kept open.
    pub keep_alive_timeout: Duration,
    /// Time allowed for the client to accept more of a pending response; then it is closed.
    pub write_timeout: Duration,
    /// After an error response, how long to keep reading and discarding before closing.
    pub linger_timeout: Duration,
    /// On shutdown, how long requests in flight may take to finish.
    pub shutdown_timeout: Duration,
    /// Most open connections per loop; at the limit the loop stops accepting.
    pub max_connections: usize,
    /// Event loops (threads), each with its own listener; `0` means one per core.
    pub workers: usize,
    /// The listen backlog (the kernel may cap it at `net.core.somaxconn`).
    pub backlog: u32,
    /// Proxies in front of the app whose `X-Forwarded-*` and `Forwarded` headers are
    /// believed (Werkzeug's `ProxyFix`); none by default.
    pub trusted_proxies: TrustedProxies,
    /// Permissions given to a Unix domain socket the server creates (`0o660` lets the
    /// owner's group, e.g. nginx's, connect); `None` leaves them to the umask.
    pub unix_socket_mode: Option<u32>,
    /// Most threads running blocking views at once (shared by every loop); started on
    /// demand, they exit after a minute without work.
    pub blocking_threads: usize,
    /// Blocking views that may wait for a free thread; past that a request to a
    /// blocking view is answered `503 Service Unavailable` with `Retry-After`.
    pub blocking_queue: usize,
    /// Largest WebSocket message (fragments joined, inflated); larger → close 1009.
    pub websocket_max_message: usize,
    /// Largest WebSocket frame payload; larger → close 1009.
    pub websocket_max_frame: usize,
    /// Output a WebSocket connection may have waiting for its client; a client that
    /// stops reading past this is disconnected rather than buffered for.
    pub websocket_max_buffered: usize,
    /// How long a WebSocket may be silent before the server pings it (Socket.IO's 25 s).
    pub websocket_ping_interval: Duration,
    /// How long after a ping the client has to show it is alive; then it is dropped
    /// (Socket.IO's 20 s). An idle client that answers pings stays connected.
    pub websocket_ping_timeout: Duration,
    /// How long the server waits for the client's close frame after sending its own.
    pub websocket_close_timeout: Duration,
    /// Origins allowed to open WebSockets (`https://example.com`); empty allows any. A
    /// browser always sends `Origin`; a request without one is not from a browser page.
    pub websocket_origins: Vec<String>,
    /// Subprotocols the server speaks, offered in `Sec-WebSocket-Protocol`; the first
    /// one the client lists that is here is chosen.
    pub websocket_protocols: Vec<String>,
    /// Offer permessage-deflate (with the `deflate` feature).
    pub websocket_deflate: bool,
    /// Keep `TCP_NODELAY` on WebSocket connections (as on every connection): each
    /// message leaves at once. Off, the kernel may hold a small message while an earlier
    /// one to the same client is unacknowledged (Nagle): fewer packets for a client sent
    /// many small messages one by one, at the cost of up to one delayed-ACK wait (about
    /// 40 ms on Linux) for a message that follows another closely. (Messages the loop
    /// receives in a burst are already written together.) tokio leaves Nagle on.
    pub websocket_nodelay: bool,
    /// Messages each loop's mailbox holds (work posted to the loop from other threads);
    /// a full mailbox refuses further posts rather than grow.
    pub mailbox_capacity: usize,
    /// Debug mode (Flask's `DEBUG`): a 500 page shows its cause, the route and a backtrace
    /// to clients on the loopback interface, and templates are reloaded when they change.
    /// Never in production. `App::new` turns it on when `CARAFE_DEBUG` is `1`.
    pub debug: bool,
    /// Key that signs session cookies (`CARAFE_SECRET_KEY` in [`Config::from_env`]).
    /// Without one the session reads as empty and a change to it ends the request in a
    /// 500 whose reported cause names `secret_key`; an app that calls `App::sessions`
    /// is refused at start-up instead.
    pub secret_key: Option<String>,
    /// Name of the session cookie.
    pub session_cookie_name: String,
    /// How long a session cookie is valid after it was issued, and the `Max-Age` of a
    /// permanent one (Flask's `PERMANENT_SESSION_LIFETIME`, 31 days).
    pub permanent_session_lifetime: Duration,
    /// Mark the session cookie `Secure` (HTTPS only).
    pub session_cookie_secure: bool,
    /// `Cache-Control: max-age` for files sent by `send_file`; `None` sends `no-cache`
    /// (revalidate with the ETag each time). Flask's `SEND_FILE_MAX_AGE_DEFAULT`.
    pub send_file_max_age: Option<Duration>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_head_size: 16 * 1024,
            max_headers: 100,
            max_uri_len: 8 * 1024,
            max_body_size: 16 * 1024 * 1024,
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            linger_timeout: Duration::from_secs(2),
            shutdown_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            workers: 1,
            backlog: 1024,
            unix_socket_mode: None,
            trusted_proxies: TrustedProxies::default(),
            blocking_threads: 64,
            blocking_queue: 1024,
            mailbox_capacity: 64 * 1024,
            websocket_max_message: 16 * 1024 * 1024,
            websocket_max_frame: 16 * 1024 * 1024,
            websocket_max_buffered: 16 * 1024 * 1024,
            websocket_ping_interval: Duration::from_secs(25),
            websocket_ping_timeout: Duration::from_secs(20),
            websocket_close_timeout: Duration::from_secs(5),
            websocket_origins: Vec::new(),
            websocket_protocols: Vec::new(),
            websocket_deflate: true,
            websocket_nodelay: true,
            debug: false,
            secret_key: None,
            session_cookie_name: "session".to_owned(),
            permanent_session_lifetime: Duration::from_secs(31 * 24 * 3600),
            session_cookie_secure: false,
            send_file_max_age: None,
        }
    }
}

impl Config {
    /// The defaults, overridden by environment variables named `{prefix}_{FIELD}`.
    ///
    /// Like Flask's `app.config.from_prefixed_env()`: with prefix `"CARAFE"`,
    /// `CARAFE_MAX_BODY_SIZE=1048576` sets `max_body_size` and `CARAFE_SECRET_KEY` sets the
    /// secret key. Durations are seconds and may be fractional (`CARAFE_KEEP_ALIVE_TIMEOUT=2.5`).
    /// A variable that does not parse is an error, not silently ignored.
    pub fn from_env(prefix: &str) -> Result<Config, ConfigError> {
        Config::from_lookup(prefix, |name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], but over this configuration instead of the defaults: what
    /// the code set stays unless a variable says otherwise.
    ///
    /// ```
    /// use carafe::App;
    ///
    /// let mut app = App::new();
    /// app.config_mut().max_body_size = 1 << 20;
    /// app.config_mut().apply_env("CARAFE").unwrap(); // e.g. CARAFE_PROXY_X_FOR=1
    /// ```
    pub fn apply_env(&mut self, prefix: &str) -> Result<(), ConfigError> {
        self.apply_vars(prefix, |name| std::env::var(name).ok())
    }

    fn from_lookup(
        prefix: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.apply_vars(prefix, lookup)?;
        Ok(config)
    }

    /// Like [`Config::apply_env`], with the variables from `lookup` (a name to its value):
    /// a `.env` file read into a map, a secrets store, a test.
    pub fn apply_vars(
        &mut self,
        prefix: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let config = self;
        let get = |field: &str| {
            let name = format!("{prefix}_{field}");
            lookup(&name).map(|value| (name, value))
        };
        macro_rules! number {
            ($($field:ident).+, $name:expr) => {
                if let Some((name, value)) = get($name) {
                    config.$($field).+ = value
                        .trim()
                        .parse()
                        .map_err(|_| ConfigError { name, value })?;
                }
            };
        }
        macro_rules! seconds {
            ($field:ident, $name:expr) => {
                if let Some((name, value)) = get($name) {
                    config.$field = value
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .and_then(|s| Duration::try_from_secs_f64(s).ok())
                        .ok_or(ConfigError { name, value })?;
                }
            };
        }
        number!(max_head_size, "MAX_HEAD_SIZE");
        number!(max_headers, "MAX_HEADERS");
        number!(max_uri_len, "MAX_URI_LEN");
        number!(max_body_size, "MAX_BODY_SIZE");
        seconds!(head_timeout, "HEAD_TIMEOUT");
        seconds!(body_timeout, "BODY_TIMEOUT");
        seconds!(keep_alive_timeout, "KEEP_ALIVE_TIMEOUT");
        seconds!(write_timeout, "WRITE_TIMEOUT");
        seconds!(linger_timeout, "LINGER_TIMEOUT");
        seconds!(shutdown_timeout, "SHUTDOWN_TIMEOUT");
        seconds!(permanent_session_lifetime, "PERMANENT_SESSION_LIFETIME");
        number!(session_cookie_secure, "SESSION_COOKIE_SECURE");
        number!(max_connections, "MAX_CONNECTIONS");
        number!(workers, "WORKERS");
        number!(backlog, "BACKLOG");
        number!(blocking_threads, "BLOCKING_THREADS");
        number!(blocking_queue, "BLOCKING_QUEUE");
        number!(mailbox_capacity, "MAILBOX_CAPACITY");
        number!(websocket_max_message, "WEBSOCKET_MAX_MESSAGE");
        number!(websocket_max_frame, "WEBSOCKET_MAX_FRAME");
        number!(websocket_max_buffered, "WEBSOCKET_MAX_BUFFERED");
        seconds!(websocket_ping_interval, "WEBSOCKET_PING_INTERVAL");
        seconds!(websocket_ping_timeout, "WEBSOCKET_PING_TIMEOUT");
        seconds!(websocket_close_timeout, "WEBSOCKET_CLOSE_TIMEOUT");
        number!(websocket_deflate, "WEBSOCKET_DEFLATE");
        number!(websocket_nodelay, "WEBSOCKET_NODELAY");
        if let Some((_, origins)) = get("WEBSOCKET_ORIGINS") {
            config.websocket_origins = split_list(&origins);
        }
        if let Some((_, protocols)) = get("WEBSOCKET_PROTOCOLS") {
            config.websocket_protocols = split_list(&protocols);
        }
        if let Some((name, value)) = get("SEND_FILE_MAX_AGE") {
            let seconds = value.trim().parse::<u64>();
            config.send_file_max_age = Some(Duration::from_secs(
                seconds.map_err(|_| ConfigError { name, value })?,
            ));
        }
        number!(trusted_proxies.x_for, "PROXY_X_FOR");
        number!(trusted_proxies.x_proto, "PROXY_X_PROTO");
        number!(trusted_proxies.x_host, "PROXY_X_HOST");
        number!(trusted_proxies.x_port, "PROXY_X_PORT");
        number!(trusted_proxies.x_prefix, "PROXY_X_PREFIX");
        number!(trusted_proxies.forwarded, "PROXY_FORWARDED");
        if let Some((name, value)) = get("UNIX_SOCKET_MODE") {
            // Octal, as chmod takes it: 660 or 0o660.
            let digits = value.trim().trim_start_matches("0o");
            config.unix_socket_mode =
                Some(u32::from_str_radix(digits, 8).map_err(|_| ConfigError { name, value })?);
        }
        if let Some((name, value)) = get("DEBUG") {
            config.debug = parse_flag(&value).ok_or(ConfigError { name, value })?;
        }
        if let Some((_, key)) = get("SECRET_KEY") {
            config.secret_key = Some(key);
        }
        if let Some((_, name)) = get("SESSION_COOKIE_NAME") {
            config.session_cookie_name = name;
        }
        Ok(())
    }
}

/// How many proxies in front of the app to trust, per header (Werkzeug's `ProxyFix`
/// arguments). `0` ignores the header. With one nginx in front, `x_for: 1, x_proto: 1`
/// (and `x_host: 1` if nginx passes the client's Host on).
///
/// ```
/// use carafe::{App, Config, TrustedProxies};
///
/// let config = Config {
///     trusted_proxies: TrustedProxies { x_for: 1, x_proto: 1, ..TrustedProxies::default() },
///     ..Config::default()
/// };
/// let app = App::new().with_config(config);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    /// Hops trusted for `X-Forwarded-For`: the client's address ([`Request::remote_addr`]).
    ///
    /// [`Request::remote_addr`]: crate::Request::remote_addr
    pub x_for: usize,
    /// Hops trusted for `X-Forwarded-Proto`: `http` or `https` ([`Request::scheme`]).
    ///
    /// [`Request::scheme`]: crate::Request::scheme
    pub x_proto: usize,
    /// Hops trusted for `X-Forwarded-Host` ([`Request::host`]).
    ///
    /// [`Request::host`]: crate::Request::host
    pub x_host: usize,
    /// Hops trusted for `X-Forwarded-Port`, which replaces the host's port.
    pub x_port: usize,
    /// Hops trusted for `X-Forwarded-Prefix`: the path the app is mounted under
    /// ([`Request::script_root`]), prefixed to the URLs `url_for` builds.
    ///
    /// [`Request::script_root`]: crate::Request::script_root
    pub x_prefix: usize,
    /// Hops trusted for RFC 7239 `Forwarded` (its `for`, `proto` and `host`), which then
    /// take precedence over the `X-Forwarded-*` headers.
    pub forwarded: usize,
}

impl TrustedProxies {
    /// Whether any header is trusted at all.
    pub fn any(&self) -> bool {
        *self != TrustedProxies::default()
    }
}

/// A comma-separated list, blanks dropped.
fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A yes/no setting as an environment variable gives it: `1`, `true`, `yes`, `on` or
/// `0`, `false`, `no`, `off`, `""` (any case).
pub(crate) fn parse_flag(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// An environment variable that [`Config::from_env`] could not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name.
    pub name: String,
    /// Its value.
    pub value: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid value {:?} for {}", self.value, self.name)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup("APP", |name| vars.get(name).cloned())
    }

    #[test]
    fn env_overrides_defaults() {
        let config = from(&[
            ("APP_MAX_BODY_SIZE", "1024"),
            ("APP_KEEP_ALIVE_TIMEOUT", "2.5"),
            ("APP_SECRET_KEY", "s3cret"),
            ("OTHER_MAX_HEADERS", "1"),
        ])
        .unwrap();
        assert_eq!(config.max_body_size, 1024);
        assert_eq!(config.keep_alive_timeout, Duration::from_millis(2500));
        assert_eq!(config.secret_key.as_deref(), Some("s3cret"));
        assert_eq!(config.max_headers, 100);
        assert!(!config.debug);
        assert!(from(&[("APP_DEBUG", "1")]).unwrap().debug);
        assert!(!from(&[("APP_DEBUG", "off")]).unwrap().debug);
        assert!(from(&[("APP_DEBUG", "maybe")]).is_err());
        assert!(config.websocket_nodelay);
        let nagle = from(&[("APP_WEBSOCKET_NODELAY", "false")]).unwrap();
        assert!(!nagle.websocket_nodelay);
    }

    #[test]
    fn bad_values_are_errors() {
        let err = from(&[("APP_MAX_HEADERS", "lots")]).unwrap_err();
        assert_eq!(err.name, "APP_MAX_HEADERS");
        assert!(from(&[("APP_HEAD_TIMEOUT", "-1")]).is_err());
    }
}
