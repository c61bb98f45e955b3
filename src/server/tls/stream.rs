//! TLS as a transport: a socket with a rustls session on it, read and written like the
//! socket itself, so the connection above it speaks HTTP (or WebSocket) unchanged.
//!
//! The shape is rustls's `tlsserver-mio` example: ciphertext goes from the socket into
//! the session (`read_tls`), `process_new_packets` decrypts it (and advances the
//! handshake), plaintext comes out of `reader()`; plaintext goes in through `writer()`
//! and ciphertext out through `write_tls`. The handshake runs here, a step per readiness
//! event, on the loop: nothing blocks, and nothing is spawned.
//!
//! Two promises keep the connection's edge-triggered bookkeeping true over TLS:
//! - a read shorter than the buffer means the socket is drained (as for a bare socket:
//!   the connection then waits for the next edge), so a read here keeps decrypting until
//!   the buffer is full or the socket has given what it had;
//! - ciphertext the socket would not take stays in the session, and
//!   [`TlsStream::wants_write`] says so: the connection keeps its writable interest until
//!   [`TlsStream::flush`] has sent it.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::sync::Arc;

use mio::event::Source;
use mio::{Interest, Registry, Token};
use rustls::{ServerConfig, ServerConnection};

use crate::server::transport::{PeerAddr, Stream};

/// What a client that speaks plain HTTP to a TLS port is told, in plain HTTP (nginx
/// answers the same mistake with a 400 of its own).
const PLAIN_HTTP_TO_TLS: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Length: 48\r\n\
Connection: close\r\n\r\n\
The plain HTTP request was sent to a TLS port.\r\n";

/// How many of the first bytes are kept to recognise a plain HTTP request: the longest
/// method (`OPTIONS`, `CONNECT`) and its space.
const FIRST_BYTES: usize = 8;

/// Where closing our side stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closing {
    Open,
    /// `close_notify` is queued; the socket's writing side is shut once it is sent.
    Notified,
    /// `close_notify` is sent and the socket's writing side shut.
    Shut,
}

/// A server-side TLS connection over a bare socket.
pub(crate) struct TlsStream {
    /// The TCP (or Unix) socket under the session; never another `Tls`.
    socket: Stream,
    session: ServerConnection,
    peer: PeerAddr,
    /// The last socket read filled less than it was offered: the socket is drained.
    drained: bool,
    /// The peer's FIN was signalled: its end is still to be read, after the last bytes.
    read_closed: bool,
    /// The connection's first bytes, kept while the handshake has not used them.
    first: [u8; FIRST_BYTES],
    first_len: usize,
    closing: Closing,
    /// The session failed (and sent its alert, if any): nothing more is sent.
    failed: bool,
}

impl TlsStream {
    /// Starts the server side of a handshake on a freshly accepted socket.
    pub(crate) fn new(
        socket: Stream,
        config: &Arc<ServerConfig>,
        peer: PeerAddr,
    ) -> io::Result<TlsStream> {
        let session = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
        Ok(TlsStream {
            socket,
            session,
            peer,
            drained: false,
            read_closed: false,
            first: [0; FIRST_BYTES],
            first_len: 0,
            closing: Closing::Open,
            failed: false,
        })
    }

    /// The socket under the session.
    pub(crate) fn socket(&self) -> &Stream {
        &self.socket
    }

    /// The handshake has not finished: no request can have arrived yet.
    #[inline]
    pub(crate) fn is_handshaking(&self) -> bool {
        self.session.is_handshaking()
    }

    /// The peer's FIN (or an error) was signalled: from now on a read goes on to meet
    /// it, rather than taking a short read for a drained socket.
    #[inline]
    pub(crate) fn note_read_closed(&mut self) {
        self.read_closed = true;
    }

    /// Ciphertext waits in the session for the socket to take it.
    #[inline]
    pub(crate) fn wants_write(&self) -> bool {
        self.session.wants_write() || self.closing == Closing::Notified
    }

    /// Sends what the socket did not take earlier; `WouldBlock` if some is still left.
    /// Once a queued `close_notify` is out, shuts the socket's writing side.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.send_queued()?;
        if self.closing == Closing::Notified {
            self.closing = Closing::Shut;
            self.socket.shutdown_write()?;
        }
        Ok(())
    }

    /// Ends our side: `close_notify`, then (once that is sent) the socket's FIN.
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        if self.closing != Closing::Open {
            return Ok(());
        }
        self.session.send_close_notify();
        self.closing = Closing::Notified;
        match self.flush() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            done => done,
        }
    }

    /// The connection is being dropped: tell the peer, if the socket takes it now, so a
    /// close is told apart from a truncation (idle keep-alive timeouts, shutdown).
    pub(crate) fn close(&mut self) {
        if self.failed || self.session.is_handshaking() || self.closing == Closing::Shut {
            return;
        }
        self.session.send_close_notify();
        let _ = self.send_queued();
    }

    /// Writes the session's queued records until none is left or the socket would block.
    fn send_queued(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.socket) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Decrypts what `read_tls` took in, and sends what the handshake answers at once.
    fn process(&mut self) -> io::Result<()> {
        if let Err(error) = self.session.process_new_packets() {
            return Err(self.fail(error));
        }
        match self.send_queued() {
            Err(e) if e.kind() != ErrorKind::WouldBlock => Err(e),
            // What the socket would not take goes on the next writable event.
            _ => Ok(()),
        }
    }

    /// The session broke (a bad handshake, a bad record): send the alert rustls queued,
    /// or a plain HTTP 400 to a client that never spoke TLS, and report it once.
    #[cold]
    fn fail(&mut self, error: rustls::Error) -> io::Error {
        self.failed = true;
        if self.session.is_handshaking() && is_plain_http(&self.first[..self.first_len]) {
            // Its own bytes, not records: the client reads HTTP. Best effort, as the
            // connection closes right after.
            let _ = self.socket.write(PLAIN_HTTP_TO_TLS);
            let _ = self.socket.shutdown_write();
            log::debug!("{}: plain HTTP sent to a TLS port", self.peer);
        } else {
            let _ = self.send_queued();
            log::debug!("{}: TLS failed: {error}", self.peer);
        }
        io::Error::new(ErrorKind::InvalidData, error)
    }
}

/// Whether `first` starts like an HTTP request line: a method in capitals, then a space.
fn is_plain_http(first: &[u8]) -> bool {
    let method = first.iter().take_while(|b| b.is_ascii_uppercase()).count();
    method > 0 && first.get(method) == Some(&b' ')
}

/// The socket as `read_tls` sees it: notes a short read, and keeps the first bytes.
struct SocketReader<'a> {
    socket: &'a mut Stream,
    drained: &'a mut bool,
    first: &'a mut [u8; FIRST_BYTES],
    first_len: &'a mut usize,
}

impl Read for SocketReader<'_> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.socket.read(buf)?;
        *self.drained = n < buf.len();
        if *self.first_len < FIRST_BYTES {
            let keep = n.min(FIRST_BYTES - *self.first_len);
            self.first[*self.first_len..*self.first_len + keep].copy_from_slice(&buf[..keep]);
            *self.first_len += keep;
        }
        Ok(n)
    }
}

impl Read for TlsStream {
    /// Plaintext, as much as `buf` holds or the socket has: a short read means the
    /// socket is drained. `Ok(0)` at the end (with or without `close_notify`: many
    /// clients just close), `WouldBlock` while nothing has been decrypted.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        // This call has read bytes from the socket; with `drained`, it is now empty.
        let mut read_socket = false;
        loop {
            if filled == buf.len() {
                return Ok(filled);
            }
            match self.session.reader().read(&mut buf[filled..]) {
                // The peer's close_notify: the end, after what was read.
                Ok(0) => return Ok(filled),
                Ok(n) => {
                    filled += n;
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // The socket closed without close_notify: quietly the end too.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(filled),
                Err(e) => return Err(e),
            }
            if filled > 0 && self.drained {
                return Ok(filled);
            }
            if read_socket && self.drained && !self.read_closed {
                // Handshake records, or part of a record: the socket gave all it had, so
                // another read would only fail. Its next bytes (or its FIN) bring a new
                // readiness edge.
                return Err(ErrorKind::WouldBlock.into());
            }
            let mut socket = SocketReader {
                socket: &mut self.socket,
                drained: &mut self.drained,
                first: &mut self.first,
                first_len: &mut self.first_len,
            };
            match self.session.read_tls(&mut socket) {
                // The socket's end: `reader()` now says how it ended.
                Ok(0) => {}
                Ok(_) => {
                    read_socket = true;
                    self.process()?;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock && filled > 0 => return Ok(filled),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for TlsStream {
    /// Encrypts what the session takes of `buf` (up to its buffer limit) and sends it.
    /// Records the socket did not take wait in the session; while they wait, nothing
    /// more is taken (`WouldBlock`), so a slow reader cannot grow the session's buffer.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send_queued()?;
        let n = self.session.writer().write(buf)?;
        match self.send_queued() {
            Err(e) if e.kind() != ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.send_queued()?;
        let n = self.session.writer().write_vectored(bufs)?;
        match self.send_queued() {
            Err(e) if e.kind() != ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        TlsStream::flush(self)
    }
}

impl Source for TlsStream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.socket.register(registry, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.socket.reregister(registry, token, interest)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.socket.deregister(registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_recognised_by_its_request_line() {
        for yes in [&b"GET / HT"[..], b"POST /x ", b"OPTIONS ", b"PUT /"] {
            assert!(is_plain_http(yes), "{}", String::from_utf8_lossy(yes));
        }
        // A TLS record starts 0x16 0x03; a lower-case or unspaced word is not a method.
        for no in [
            &b"\x16\x03\x01\x02\x00\x01\x00\x01"[..],
            b"get / HT",
            b"GETGETGE",
            b"",
        ] {
            assert!(!is_plain_http(no), "{no:?}");
        }
    }

    /// A server session over one end of a Unix socket pair whose send buffer is small,
    /// and a client on the other end, both nonblocking, the handshake done.
    fn pair() -> (TlsStream, rustls::ClientConnection, mio::net::UnixStream) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let server_config = crate::server::tls::TlsConfig::from_pem(
            made.cert.pem().as_bytes(),
            made.key_pair.serialize_pem().as_bytes(),
        )
        .unwrap()
        .server_config()
        .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(made.cert.der().clone()).unwrap();
        let client_config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let (ours, mut theirs) = mio::net::UnixStream::pair().unwrap();
        socket2::SockRef::from(&ours)
            .set_send_buffer_size(4096)
            .unwrap();
        socket2::SockRef::from(&theirs)
            .set_recv_buffer_size(4096)
            .unwrap();
        let mut server =
            TlsStream::new(Stream::Unix(ours), &server_config, PeerAddr::Unix).unwrap();
        let mut client =
            rustls::ClientConnection::new(Arc::new(client_config), "localhost".try_into().unwrap())
                .unwrap();
        let mut buf = [0u8; 1024];
        for _ in 0..100 {
            if !client.is_handshaking() && !server.is_handshaking() {
                return (server, client, theirs);
            }
            while client.wants_write() {
                client.write_tls(&mut theirs).unwrap();
            }
            match server.read(&mut buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                other => panic!("no request was sent: {other:?}"),
            }
            match client.read_tls(&mut theirs) {
                Ok(_) => {
                    client.process_new_packets().unwrap();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        panic!("the handshake did not finish");
    }

    /// Takes in what the socket holds; returns the plaintext, and whether the server's
    /// close_notify came.
    fn client_reads(
        client: &mut rustls::ClientConnection,
        socket: &mut mio::net::UnixStream,
    ) -> (Vec<u8>, bool) {
        let mut plain = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            // Plaintext out first: rustls takes in no more while its buffer is full.
            loop {
                match client.reader().read(&mut chunk) {
                    Ok(0) => return (plain, true),
                    Ok(n) => plain.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            match client.read_tls(socket) {
                Ok(0) => return (plain, false),
                Ok(_) => {
                    client.process_new_packets().unwrap();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return (plain, false),
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn records_the_socket_refuses_wait_for_flush() {
        let (mut server, mut client, mut socket) = pair();
        let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let (mut sent, mut got, mut refused) = (0, Vec::new(), 0);
        while got.len() < body.len() {
            while sent < body.len() {
                match server.write(&body[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        // Encrypted records wait in the session; nothing more is taken
                        // until they are out, so a slow reader costs a bounded buffer.
                        assert!(server.wants_write());
                        refused += 1;
                        break;
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            let (plain, closed) = client_reads(&mut client, &mut socket);
            assert!(!closed);
            got.extend_from_slice(&plain);
            // As on a writable event.
            match server.flush() {
                Ok(()) => assert!(!server.wants_write()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => assert!(server.wants_write()),
                Err(e) => panic!("{e}"),
            }
        }
        assert!(refused > 10, "the socket refused only {refused} times");
        assert!(got == body, "the bytes differ");

        // Ending: close_notify waits like any record, then the socket's FIN follows.
        server.shutdown_write().unwrap();
        let mut closed = false;
        for _ in 0..100 {
            let (plain, seen) = client_reads(&mut client, &mut socket);
            assert!(plain.is_empty());
            if seen {
                closed = true;
                break;
            }
            let _ = server.flush();
        }
        assert!(closed, "no close_notify");
        assert!(!server.wants_write());
    }

    #[test]
    fn the_plain_400_says_its_length() {
        let text = std::str::from_utf8(PLAIN_HTTP_TO_TLS).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
