//! The sockets a server speaks through: TCP or a Unix domain socket, listening or
//! connected, bare or inside TLS, as one type each so the loop and the connection need
//! not care which.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::path::PathBuf;

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

#[cfg(feature = "tls")]
use crate::server::tls::{TlsConfig, TlsStream};

/// Who is at the other end of a connection, as the socket says (before any proxy headers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerAddr {
    /// A TCP peer: its address and port.
    Tcp(SocketAddr),
    /// A peer on a Unix domain socket, which has no network address.
    Unix,
}

impl PeerAddr {
    /// The peer's IP address; `None` for a Unix-socket peer.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            PeerAddr::Tcp(addr) => Some(addr.ip()),
            PeerAddr::Unix => None,
        }
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Tcp(addr) => addr.fmt(f),
            PeerAddr::Unix => f.write_str("unix"),
        }
    }
}

/// Where a server listens: a TCP address, or the path of a Unix domain socket.
///
/// It converts to socket addresses (`TcpStream::connect(server.local_addr())` works for a
/// TCP server) and displays as `127.0.0.1:5000` or `unix:/run/app.sock`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListenAddr {
    /// A TCP address (the real port when bound to port 0).
    Tcp(SocketAddr),
    /// A Unix domain socket's path.
    Unix(PathBuf),
}

impl ListenAddr {
    /// The TCP address; `None` for a Unix socket.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            ListenAddr::Tcp(addr) => Some(*addr),
            ListenAddr::Unix(_) => None,
        }
    }

    /// The TCP port; `None` for a Unix socket.
    pub fn port(&self) -> Option<u16> {
        self.tcp().map(|addr| addr.port())
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => addr.fmt(f),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl std::net::ToSocketAddrs for ListenAddr {
    type Iter = std::option::IntoIter<SocketAddr>;

    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        match self {
            ListenAddr::Tcp(addr) => Ok(Some(*addr).into_iter()),
            ListenAddr::Unix(path) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unix:{} is not a network address", path.display()),
            )),
        }
    }
}

/// What [`App::run`](crate::App::run) and [`App::bind`](crate::App::bind) accept: a
/// socket address (`"127.0.0.1:5000"`, `("0.0.0.0", 8080)`, a `SocketAddr`), or
/// `"unix:/path/app.sock"` for a Unix domain socket.
pub trait ToListenAddrs {
    /// The candidates, tried in order until one can be bound.
    fn to_listen_addrs(&self) -> io::Result<Vec<ListenAddr>>;
}

fn resolve(addr: impl std::net::ToSocketAddrs) -> io::Result<Vec<ListenAddr>> {
    Ok(addr.to_socket_addrs()?.map(ListenAddr::Tcp).collect())
}

impl ToListenAddrs for str {
    fn to_listen_addrs(&self) -> io::Result<Vec<ListenAddr>> {
        match self.strip_prefix("unix:") {
            Some("") => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unix: needs a path, e.g. unix:/run/app.sock",
            )),
            Some(path) => Ok(vec![ListenAddr::Unix(PathBuf::from(path))]),
            None => resolve(self),
        }
    }
}

impl ToListenAddrs for String {
    fn to_listen_addrs(&self) -> io::Result<Vec<ListenAddr>> {
        self.as_str().to_listen_addrs()
    }
}

impl<T: ToListenAddrs + ?Sized> ToListenAddrs for &T {
    fn to_listen_addrs(&self) -> io::Result<Vec<ListenAddr>> {
        (**self).to_listen_addrs()
    }
}

impl ToListenAddrs for ListenAddr {
    fn to_listen_addrs(&self) -> io::Result<Vec<ListenAddr>> {
        Ok(vec![self.clone()])
    }
}

/// Socket addresses of every other shape `std::net::ToSocketAddrs` takes.
macro_rules! network_addrs {
    ($($t:ty),*) => {$(
        impl ToListenAddrs for $t {
            fn to_listen_addrs(&self) -> io::Result<Vec<ListenAddr>> {
                resolve(self)
            }
        }
    )*};
}

network_addrs!(
    SocketAddr,
    std::net::SocketAddrV4,
    std::net::SocketAddrV6,
    (IpAddr, u16),
    (std::net::Ipv4Addr, u16),
    (std::net::Ipv6Addr, u16),
    (&str, u16),
    (String, u16),
    [SocketAddr]
);

/// An address to listen on, and what its connections speak: HTTP, or HTTPS. Several
/// make one server, whose every loop accepts on all of them:
/// [`App::bind_many`](crate::App::bind_many).
///
/// ```
/// use carafe::{App, Listen, Request};
///
/// let mut app = App::new();
/// app.get("/", |_: &Request| "hi");
/// let server = app
///     .bind_many([Listen::http("127.0.0.1:0"), Listen::http("unix:/tmp/carafe-listen-doc.sock")])
///     .unwrap();
/// assert_eq!(server.local_addrs().len(), 2);
/// # std::fs::remove_file("/tmp/carafe-listen-doc.sock").unwrap();
/// ```
pub struct Listen {
    /// Resolved at once; an error is reported when the server binds.
    pub(crate) addrs: io::Result<Vec<ListenAddr>>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::server::tls::TlsConfig>,
}

impl Listen {
    /// Plain HTTP on `addr` (a socket address or `"unix:/path"`).
    pub fn http(addr: impl ToListenAddrs) -> Listen {
        Listen {
            addrs: addr.to_listen_addrs(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// HTTPS on `addr`, serving `tls`'s certificates.
    #[cfg(feature = "tls")]
    pub fn https(addr: impl ToListenAddrs, tls: TlsConfig) -> Listen {
        Listen {
            addrs: addr.to_listen_addrs(),
            tls: Some(tls),
        }
    }

    /// Whether its connections speak TLS.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// What its listeners wrap accepted sockets in; built once, shared by every loop.
    pub(crate) fn security(&self) -> io::Result<Security> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return Ok(Security::Tls(tls.server_config()?));
        }
        Ok(Security::Plain)
    }
}

impl fmt::Debug for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listen")
            .field("addrs", &self.addrs)
            .field("tls", &self.is_tls())
            .finish()
    }
}

/// What a listener's connections are carried in.
#[derive(Clone)]
pub(crate) enum Security {
    Plain,
    #[cfg(feature = "tls")]
    Tls(std::sync::Arc<rustls::ServerConfig>),
}

/// A listening socket and what its connections are carried in.
pub(crate) struct Acceptor {
    pub(crate) listener: Listener,
    security: Security,
}

impl Acceptor {
    pub(crate) fn new(listener: Listener, security: Security) -> Acceptor {
        Acceptor { listener, security }
    }

    /// The next waiting connection, nonblocking, ready to read and write (over TLS, its
    /// handshake then runs as the connection reads).
    pub(crate) fn accept(&self) -> io::Result<(Stream, PeerAddr)> {
        let (stream, peer) = self.listener.accept()?;
        match &self.security {
            Security::Plain => Ok((stream, peer)),
            #[cfg(feature = "tls")]
            Security::Tls(config) => match TlsStream::new(stream, config, peer) {
                Ok(tls) => Ok((Stream::Tls(Box::new(tls)), peer)),
                Err(e) => {
                    log::warn!("could not start TLS with {peer}: {e}");
                    // Passed over like a connection the client aborted.
                    Err(io::ErrorKind::ConnectionAborted.into())
                }
            },
        }
    }
}

/// A listening socket of either kind.
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    /// The next waiting connection, nonblocking.
    pub(crate) fn accept(&self) -> io::Result<(Stream, PeerAddr)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, peer) = listener.accept()?;
                // Responses are written whole; Nagle would only delay them.
                let _ = stream.set_nodelay(true);
                Ok((Stream::Tcp(stream), PeerAddr::Tcp(peer)))
            }
            Listener::Unix(listener) => {
                let (stream, _) = listener.accept()?;
                Ok((Stream::Unix(stream), PeerAddr::Unix))
            }
        }
    }
}

/// A connected socket of either kind, or one of them inside TLS.
///
/// The TLS session sits behind the variant: a bare connection pays one match per read
/// or write, as it did for TCP or Unix, and asks nothing of TLS per request.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// Boxed: a session is large, and most of a server's connections may be bare.
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
}

impl Stream {
    /// Sets `TCP_NODELAY`; a Unix socket has no Nagle to turn off.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(on),
            Stream::Unix(_) => Ok(()),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.socket().set_nodelay(on),
        }
    }

    /// Ends our side of the connection: a FIN, after `close_notify` over TLS.
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.shutdown_write(),
        }
    }

    /// Output accepted earlier still waits below the connection (TLS records the
    /// socket has not taken): the socket must stay registered for writing.
    #[inline]
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.wants_write(),
            _ => false,
        }
    }

    /// The peer's FIN (or an error) was signalled: a TLS stream then reads on to meet
    /// it. A bare socket needs no telling: its reads reach the end by themselves.
    #[inline]
    pub(crate) fn note_read_closed(&mut self) {
        #[cfg(feature = "tls")]
        if let Stream::Tls(s) = self {
            s.note_read_closed();
        }
    }

    /// A TLS handshake is under way: bytes arrive, but no request yet.
    #[inline]
    pub(crate) fn is_handshaking(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.is_handshaking(),
            _ => false,
        }
    }

    /// Whether TLS protects the connection (the request's scheme is `https`).
    #[inline]
    pub(crate) fn is_secure(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(_) => true,
            _ => false,
        }
    }

    /// The connection is being dropped: a TLS peer is sent `close_notify` if the socket
    /// takes it now.
    pub(crate) fn close(&mut self) {
        #[cfg(feature = "tls")]
        if let Stream::Tls(s) = self {
            s.close();
        }
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write_vectored(bufs),
        }
    }

    /// Sends what waits below the connection; `WouldBlock` if the socket takes not all.
    /// Nothing waits in a bare socket.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
            _ => Ok(()),
        }
    }
}

/// `mio::event::Source` for an enum of sockets, by passing each call to the variant.
macro_rules! source_of_variants {
    ($type:ident { $($(#[$attr:meta])* $variant:ident),+ }) => {
        impl Source for $type {
            fn register(
                &mut self,
                registry: &Registry,
                token: Token,
                interest: Interest,
            ) -> io::Result<()> {
                match self {
                    $($(#[$attr])* $type::$variant(s) => s.register(registry, token, interest),)+
                }
            }

            fn reregister(
                &mut self,
                registry: &Registry,
                token: Token,
                interest: Interest,
            ) -> io::Result<()> {
                match self {
                    $($(#[$attr])* $type::$variant(s) => s.reregister(registry, token, interest),)+
                }
            }

            fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
                match self {
                    $($(#[$attr])* $type::$variant(s) => s.deregister(registry),)+
                }
            }
        }
    };
}

source_of_variants!(Listener { Tcp, Unix });
source_of_variants!(Stream {
    Tcp,
    Unix,
    #[cfg(feature = "tls")]
    Tls
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_parse() {
        assert_eq!(
            "unix:/run/app.sock".to_listen_addrs().unwrap(),
            [ListenAddr::Unix(PathBuf::from("/run/app.sock"))]
        );
        assert!("unix:".to_listen_addrs().is_err());
        assert_eq!(
            "127.0.0.1:80".to_listen_addrs().unwrap(),
            [ListenAddr::Tcp("127.0.0.1:80".parse().unwrap())]
        );
        assert_eq!(
            ("127.0.0.1", 81).to_listen_addrs().unwrap(),
            [ListenAddr::Tcp("127.0.0.1:81".parse().unwrap())]
        );
        let addr = ListenAddr::Unix(PathBuf::from("/x.sock"));
        assert_eq!(addr.to_string(), "unix:/x.sock");
        assert!(std::net::ToSocketAddrs::to_socket_addrs(&addr).is_err());
        assert_eq!(addr.port(), None);
    }

    #[test]
    fn peers_say_what_they_are() {
        let tcp = PeerAddr::Tcp("10.0.0.1:4000".parse().unwrap());
        assert_eq!(tcp.ip(), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(tcp.to_string(), "10.0.0.1:4000");
        assert_eq!(PeerAddr::Unix.ip(), None);
        assert_eq!(PeerAddr::Unix.to_string(), "unix");
    }
}
