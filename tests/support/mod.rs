//! Shared helpers for the integration tests: a server on a free port, and a small
//! blocking HTTP/1.1 client over `std::net::TcpStream` (or a TLS stream, see `tls`) that
//! reads exactly one response; with the `redis` feature, a Redis server and a Socket.IO
//! client (`redis_server`, `sio_client`).
#![allow(dead_code)]

#[cfg(feature = "redis")]
pub mod redis_server;
#[cfg(feature = "redis")]
pub mod sio_client;
#[cfg(feature = "tls")]
pub mod tls;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use carafe::{App, ShutdownHandle};

/// A running server; shut down and joined when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub handle: ShutdownHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub fn start(app: App) -> TestServer {
        TestServer::run(app.bind("127.0.0.1:0").expect("bind"))
    }

    /// Runs a bound server on a thread; `addr` is its first address.
    pub fn run(server: carafe::Server) -> TestServer {
        let addr = server.local_addr().tcp().expect("a TCP address");
        let handle = server.shutdown_handle();
        let thread = std::thread::spawn(move || server.run());
        TestServer {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// Shuts down and waits for `run` to return.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.handle.shutdown();
        self.thread
            .take()
            .unwrap()
            .join()
            .expect("server thread panicked")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.shutdown();
            let _ = thread.join();
        }
    }
}

/// One parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads responses off a stream (a socket, or a TLS stream over one), keeping bytes that
/// belong to the next one.
pub struct Reader<S = TcpStream> {
    pub stream: S,
    buf: Vec<u8>,
}

impl<S: Read + Write> Reader<S> {
    pub fn new(stream: S) -> Reader<S> {
        Reader {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            // Over TLS, a close without close_notify.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof
                ) =>
            {
                false
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Reads one whole response; `head` says it answers a HEAD request (no body).
    pub fn response_to(&mut self, head: bool) -> Option<Resp> {
        loop {
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut slots);
            match parsed.parse(&self.buf).expect("well-formed response head") {
                httparse::Status::Complete(len) => {
                    let status = parsed.code.unwrap();
                    let headers: Vec<(String, String)> = parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_owned(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    let resp = Resp {
                        status,
                        headers,
                        body: Vec::new(),
                    };
                    return self.body(resp, len, head);
                }
                httparse::Status::Partial => {
                    if !self.fill() {
                        assert!(self.buf.is_empty(), "connection closed mid-response");
                        return None;
                    }
                }
            }
        }
    }

    pub fn response(&mut self) -> Option<Resp> {
        self.response_to(false)
    }

    fn body(&mut self, mut resp: Resp, head_len: usize, head: bool) -> Option<Resp> {
        self.buf.drain(..head_len);
        if head || resp.status < 200 || resp.status == 204 || resp.status == 304 {
            return Some(resp);
        }
        if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().unwrap();
            while self.buf.len() < len {
                assert!(self.fill(), "connection closed mid-body");
            }
            resp.body = self.buf.drain(..len).collect();
        } else if resp.header("transfer-encoding").is_some() {
            loop {
                let line_end = loop {
                    if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    assert!(self.fill(), "connection closed mid-chunk");
                };
                let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
                while self.buf.len() < line_end + 2 + size + 2 {
                    assert!(self.fill(), "connection closed mid-chunk");
                }
                resp.body
                    .extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
        } else {
            while self.fill() {}
            resp.body = std::mem::take(&mut self.buf);
        }
        Some(resp)
    }

    /// Whether the server closed the connection (EOF or reset) with nothing more to read.
    pub fn is_closed(&mut self) -> bool {
        self.buf.is_empty() && !self.fill()
    }

    pub fn leftover(&self) -> &[u8] {
        &self.buf
    }
}

/// Sends `request` on a new connection and reads one response.
pub fn roundtrip(server: &TestServer, request: &[u8]) -> Resp {
    let mut reader = Reader::new(server.connect());
    reader.send(request);
    reader.response().expect("a response")
}

/// The app most tests use.
pub fn demo_app() -> App {
    use carafe::{Request, Response};
    let mut app = App::new();
    app.get("/", |_: &Request| "Hello, World!");
    app.get("/plaintext", |_: &Request| Response::text("Hello, World!"));
    app.post("/echo", |req: &Request| Response::new(req.body().to_vec()));
    app.get("/users/<int:id>", |req: &Request| {
        let id: u64 = req.param("id")?;
        Ok::<_, carafe::HttpError>(format!("user {id}"))
    });
    app.get("/big", |_: &Request| Response::new(vec![b'x'; 256 * 1024]));
    app.get("/panic", |_: &Request| -> &'static str { panic!("boom") });
    app
}

/// A logger that keeps every record as (level, target, message). A process has one
/// logger, so a test file that installs it (`log::set_logger(&CAPTURE)`) has one test.
pub struct Capture(pub std::sync::Mutex<Vec<(log::Level, String, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        self.0.lock().unwrap().push((
            record.level(),
            record.target().to_owned(),
            record.args().to_string(),
        ));
    }
    fn flush(&self) {}
}

pub static CAPTURE: Capture = Capture(std::sync::Mutex::new(Vec::new()));
